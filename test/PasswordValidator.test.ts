import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import { PasswordValidator } from "effect-users"

const owner = { email: "gawain@camelot.bt" }
const check = (rule: ReturnType<typeof PasswordValidator.maxLength>, text: string) =>
  Effect.map(Effect.exit(rule(Redacted.make(text), owner)), Exit.isSuccess)

/** Milliseconds `effect` takes on the wall clock. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.map(effect, (value) => ({ value, ms: performance.now() - started }))
  })

describe("PasswordValidator length rules", () => {
  it.effect("count code points, not UTF-16 units, at every length around the bounds", () =>
    Effect.gen(function* () {
      const max = PasswordValidator.maxLength(4)
      const min = PasswordValidator.minLength(4)
      // Each emoji is two UTF-16 units and one character.
      for (const [text, fitsMax, fitsMin] of [
        ["abcd", true, true],
        ["abcde", false, true],
        ["😀😀😀😀", true, true],
        ["😀😀😀😀😀", false, true],
        ["😀😀😀a", true, true],
        ["😀😀😀", true, false],
        ["😀😀", true, false],
        ["abc", true, false],
        ["😀😀😀😀a", false, true],
        ["", true, false]
      ] as const) {
        assert.strictEqual(yield* check(max, text), fitsMax, `maxLength(4) ${text}`)
        assert.strictEqual(yield* check(min, text), fitsMin, `minLength(4) ${text}`)
      }
      assert.isTrue(yield* check(PasswordValidator.minLength(0), ""))
    })
  )

  it.effect("a 10 MB password is refused by the default policy in well under 50 ms, without being read", () =>
    Effect.gen(function* () {
      const huge = "a".repeat(10 * 1024 * 1024)
      const hugeEmoji = "😀".repeat(5 * 1024 * 1024)
      for (const text of [huge, hugeEmoji]) {
        const { ms, value } = yield* timed(Effect.flip(PasswordValidator.defaultRule(Redacted.make(text), owner)))
        assert.strictEqual(value.reason, "Password should be at most 128 characters")
        assert.isBelow(ms, 50)
      }
    })
  )
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Schema } from "effect"
import {
  IdParser,
  PasswordHasher,
  PasswordValidator,
  UserError,
  UserManager,
  UserModel,
  UserRepository
} from "effect-users"
import { freshEmail, makeFakeHasher, password, testConfig } from "./utils/TestUsers.js"

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

const Squire = UserModel.make({ id: Schema.Int, fields: { firstName: Schema.String } })
type Squire = UserModel.UserOf<typeof Squire>

describe("PasswordValidator rules for an app's model", () => {
  const seen: Array<PasswordValidator.PasswordOwner<Squire>> = []
  // A rule written for the app's model: it sees `firstName`, and mixes with the built-in rules.
  const notContainingFirstName: PasswordValidator.PasswordRule<PasswordValidator.PasswordOwner<Squire>> = (
    pw,
    user
  ) => {
    seen.push(user)
    return Redacted.value(pw).toLowerCase().includes(user.firstName.toLowerCase())
      ? Effect.fail(new UserError.InvalidPassword({ reason: "Password should not contain your first name" }))
      : Effect.void
  }
  const Squires = UserManager.forModel(Squire)
  const Users = UserManager.layer.pipe(
    Layer.provide([
      UserRepository.layerMemory,
      testConfig(),
      IdParser.layerInteger,
      PasswordHasher.layer(makeFakeHasher().service),
      PasswordValidator.layer(PasswordValidator.defaultRule, notContainingFirstName)
    ])
  )
  const reason = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
    effect.pipe(
      Effect.flip,
      Effect.map((e) => (e instanceof UserError.InvalidPassword ? e.reason : e._tag))
    )

  it.effect("a create passes the input without the password; the default rules still apply", () =>
    Effect.gen(function* () {
      const users = yield* Squires
      seen.length = 0
      const email = freshEmail("squire")
      const create = (pw: string) => users.create({ email, password: password(pw), firstName: "Tristan" })
      assert.strictEqual(yield* reason(create("sir tristan!")), "Password should not contain your first name")
      assert.strictEqual(yield* reason(create(`my ${email}`)), "Password should not contain e-mail")
      assert.strictEqual(yield* reason(create("short")), "Password should be at least 8 characters")
      assert.deepStrictEqual(seen[0], { email, firstName: "Tristan" })
      const user = yield* create("isolde forever")
      assert.strictEqual(user.firstName, "Tristan")
    }).pipe(Effect.provide(Users))
  )

  it.effect("an update passes the user with the patch applied (the new e-mail), without its ID or hash", () =>
    Effect.gen(function* () {
      const users = yield* Squires
      const user = yield* users.create({
        email: freshEmail("gareth"),
        password: password("correct horse"),
        firstName: "Gareth"
      })
      seen.length = 0
      const email = freshEmail("kitchen.knave")
      // The new first name is what the rule checks against, and the new e-mail.
      const patched = (pw: string) => users.update(user, { firstName: "Beaumains", email, password: password(pw) })
      assert.strictEqual(yield* reason(patched("beaumains rides")), "Password should not contain your first name")
      assert.strictEqual(yield* reason(patched(`x ${email}`)), "Password should not contain e-mail")
      assert.deepStrictEqual(seen[0], {
        email,
        firstName: "Beaumains",
        isActive: true,
        isSuperuser: false,
        isVerified: false
      })
      const updated = yield* patched("gareth rides")
      assert.strictEqual(updated.firstName, "Beaumains")
      // A safe update ignores the flags, and so does what the rule sees.
      seen.length = 0
      yield* users.update(updated, { isSuperuser: true, password: password("another secret") }, { safe: true })
      assert.strictEqual(seen[0]!.isSuperuser, false)
    }).pipe(Effect.provide(Users))
  )
})

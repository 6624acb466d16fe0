/**
 * The test suite's own equality: `assert.deepStrictEqual` (chai) must tell `None` from `Some` and one `Redacted`
 * from another, at any depth, or every assertion on an `Option` or a secret passes whatever the code returns.
 * Guarded by the setup file `test/utils/EffectEquality.ts`; removing it from `vitest.config.ts` fails this file.
 */
import { assert, describe, it } from "@effect/vitest"
import { Option, Redacted } from "effect"

const differ = (left: unknown, right: unknown) => {
  assert.throws(() => assert.deepStrictEqual(left, right), "expected")
  assert.throws(() => assert.deepStrictEqual(right, left), "expected")
  assert.throws(() => assert.deepEqual(left, right), "expected")
  assert.notDeepEqual(left, right)
}

const agree = (left: unknown, right: unknown) => {
  assert.deepStrictEqual(left, right)
  assert.deepStrictEqual(right, left)
}

describe("assert.deepStrictEqual on Effect values", () => {
  it("tells None from Some, at the top and nested", () => {
    differ(Option.none(), Option.some(1))
    differ(Option.none(), Option.some(undefined))
    differ([Option.some("a"), Option.none()], [Option.some("a"), Option.some("b")])
    differ({ user: { id: 1 }, successor: Option.none() }, { user: { id: 1 }, successor: Option.some("next") })
  })

  it("compares the values inside Some", () => {
    agree(Option.some({ id: 1, tags: ["a"] }), Option.some({ id: 1, tags: ["a"] }))
    agree([Option.none(), Option.some(2)], [Option.none(), Option.some(2)])
    differ(Option.some({ id: 1 }), Option.some({ id: 2 }))
  })

  it("does not take an Option for what it wraps", () => {
    differ(Option.some(1), 1)
    differ(Option.none(), null)
    differ(Option.none(), {})
  })

  it("compares the values inside Redacted", () => {
    agree(Redacted.make("secret"), Redacted.make("secret"))
    differ(Redacted.make("secret"), Redacted.make("other"))
    differ({ password: Redacted.make("a") }, { password: Redacted.make("b") })
    differ(Redacted.make("secret"), "secret")
  })
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, TestClock } from "effect"
import { makeJwt } from "effect-users"

const secret = Redacted.make("a-token-secret-of-at-least-32-bytes!!")
const codec = makeJwt()
const options = { secret, audience: "effect-users:verify" }

const reason = (token: string, verifyOptions = options) =>
  codec.verify(token, verifyOptions).pipe(
    Effect.flip,
    Effect.map((error) => error.reason)
  )

describe("TokenCodec (JWT)", () => {
  it.effect("round-trips claims with aud and exp = now + lifetime, read from Clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_700_000_000_000)
      const token = yield* codec.sign({ sub: "42", email: "a@b.co" }, { ...options, lifetime: "10 minutes" })
      const claims = yield* codec.verify(token, options)
      assert.deepStrictEqual(claims, { sub: "42", email: "a@b.co", aud: "effect-users:verify", exp: 1_700_000_600 })
    })
  )

  it.effect("refuses a token once its lifetime has passed", () =>
    Effect.gen(function* () {
      const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "10 minutes" })
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(yield* reason(token), "expired")
    })
  )

  it.effect("refuses another audience, another secret, another algorithm and alg none", () =>
    Effect.gen(function* () {
      const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "10 minutes" })
      assert.strictEqual(yield* reason(token, { ...options, audience: "effect-users:reset" }), "invalid claim aud")
      assert.strictEqual(
        yield* reason(token, { ...options, secret: Redacted.make("another-secret-of-at-least-32-bytes") }),
        "bad signature"
      )
      const hs512 = yield* makeJwt({ algorithm: "HS512" }).sign({ sub: "42" }, { ...options, lifetime: "10 minutes" })
      assert.strictEqual(yield* reason(hs512), "algorithm not allowed")
      const [, payload] = token.split(".")
      const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${payload}.`
      assert.strictEqual(yield* reason(none), "algorithm not allowed")
    })
  )

  it.effect("refuses malformed tokens without failing the fiber", () =>
    Effect.gen(function* () {
      for (const token of ["", "abc", "a.b.c", "...", `${"x".repeat(10_000)}.y.z`]) {
        assert.strictEqual(yield* reason(token), "malformed", token.slice(0, 20))
      }
    })
  )

  it.effect("never puts the secret in the token or its errors", () =>
    Effect.gen(function* () {
      const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
      assert.notInclude(token, Redacted.value(secret))
      const error = yield* Effect.flip(codec.verify(`${token}x`, options))
      assert.notInclude(JSON.stringify(error), Redacted.value(secret))
    })
  )
})

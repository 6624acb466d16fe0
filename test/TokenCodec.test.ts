import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Redacted, TestClock } from "effect"
import { makeJwt, TokenCodec } from "effect-users"
import * as jose from "jose"

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
      for (const token of ["", "abc", "a.b.c", "...", `${"x".repeat(8_000)}.y.z`]) {
        assert.strictEqual(yield* reason(token), "malformed", token.slice(0, 20))
      }
    })
  )

  it.effect("reads tokens jose signs and writes tokens jose verifies", () =>
    Effect.gen(function* () {
      const key = new TextEncoder().encode(Redacted.value(secret))
      const exp = Math.floor((yield* Clock.currentTimeMillis) / 1000) + 60
      const fromJose = yield* Effect.promise(() =>
        new jose.SignJWT({ sub: "42" })
          .setProtectedHeader({ alg: "HS256" })
          .setAudience(["x", "effect-users:verify"])
          .setExpirationTime(exp)
          .sign(key)
      )
      assert.strictEqual((yield* codec.verify(fromJose, options)).sub, "42")
      const ours = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
      const { payload, protectedHeader } = yield* Effect.promise(() =>
        jose.jwtVerify(ours, key, { algorithms: ["HS256"], audience: "effect-users:verify", currentDate: new Date(0) })
      )
      assert.deepStrictEqual(protectedHeader, { alg: "HS256", typ: "JWT" })
      assert.deepStrictEqual(payload, { sub: "42", aud: "effect-users:verify", exp: 60 })
    })
  )

  it.effect("refuses a token without exp, with a non-numeric exp, or not yet valid", () =>
    Effect.gen(function* () {
      const key = new TextEncoder().encode(Redacted.value(secret))
      const sign = (claims: Record<string, unknown>) =>
        Effect.promise(() => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(key))
      assert.strictEqual(yield* reason(yield* sign({ aud: "effect-users:verify" })), "invalid claim exp")
      assert.strictEqual(
        yield* reason(yield* sign({ aud: "effect-users:verify", exp: "9999999999" })),
        "invalid claim exp"
      )
      assert.strictEqual(
        yield* reason(yield* sign({ aud: "effect-users:verify", exp: 9_999_999_999, nbf: 9_999_999_000 })),
        "invalid claim nbf"
      )
      assert.strictEqual(yield* reason(yield* sign({ exp: 9_999_999_999 })), "invalid claim aud")
    })
  )

  it.effect("a tampered payload or signature is refused", () =>
    Effect.gen(function* () {
      const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
      const [header, , signature] = token.split(".")
      const forged = Buffer.from(JSON.stringify({ sub: "1", aud: "effect-users:verify", exp: 9_999_999_999 })).toString(
        "base64url"
      )
      assert.strictEqual(yield* reason(`${header}.${forged}.${signature}`), "bad signature")
      assert.strictEqual(yield* reason(`${token.slice(0, -2)}AA`), "bad signature")
      assert.strictEqual(yield* reason(`${token}=`), "malformed")
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

  describe("hostile tokens", () => {
    const key = new TextEncoder().encode(Redacted.value(secret))
    /** A correctly signed token with these claims, written by hand so that any number can be put in. */
    const signed = (payloadJson: string) => {
      const input = `${Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url")}.${Buffer.from(payloadJson).toString("base64url")}`
      return Effect.promise(async () => {
        const mac = await crypto.subtle.sign(
          "HMAC",
          await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
          new TextEncoder().encode(input)
        )
        return `${input}.${Buffer.from(mac).toString("base64url")}`
      })
    }

    it.effect("exp and nbf must be finite: 1e999 (Infinity) is refused", () =>
      Effect.gen(function* () {
        const aud = '"aud":"effect-users:verify"'
        assert.strictEqual(yield* reason(yield* signed(`{${aud},"exp":1e999}`)), "invalid claim exp")
        assert.strictEqual(yield* reason(yield* signed(`{${aud},"exp":-1e999}`)), "invalid claim exp")
        assert.strictEqual(yield* reason(yield* signed(`{${aud},"exp":9999999999,"nbf":-1e999}`)), "invalid claim nbf")
        // The same tokens with finite numbers verify: only the infinity is refused.
        assert.strictEqual((yield* codec.verify(yield* signed(`{${aud},"exp":9999999999,"nbf":0}`), options)).nbf, 0)
      })
    )

    it.effect("a signature must be canonical base64url: other trailing bits are refused", () =>
      Effect.gen(function* () {
        const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
        const last = token.at(-1)!
        // 32 bytes in 43 characters: the last character's two low bits are padding, and must be zero.
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        const value = alphabet.indexOf(last)
        assert.strictEqual(value & 3, 0)
        for (const bits of [1, 2, 3]) {
          const variant = `${token.slice(0, -1)}${alphabet[value | bits]}`
          assert.deepStrictEqual(
            Buffer.from(variant.split(".")[2]!, "base64url"),
            Buffer.from(token.split(".")[2]!, "base64url")
          )
          assert.strictEqual(yield* reason(variant), "malformed")
        }
        assert.strictEqual((yield* codec.verify(token, options)).sub, "42")
      })
    )

    it.effect(`a token above ${TokenCodec.maxTokenLength} characters is refused before it is parsed`, () =>
      Effect.gen(function* () {
        const padding = "x".repeat(TokenCodec.maxTokenLength)
        const long = yield* codec.sign({ sub: "42", padding }, { ...options, lifetime: "1 minute" })
        assert.strictEqual(yield* reason(long), "too long")
        const huge = `${"a".repeat(5_000_000)}.b.c`
        const started = performance.now()
        assert.strictEqual(yield* reason(huge), "too long")
        assert.isBelow(performance.now() - started, 50)
        const fits = yield* codec.sign({ sub: "42", padding: "x".repeat(5000) }, { ...options, lifetime: "1 minute" })
        assert.isAtMost(fits.length, TokenCodec.maxTokenLength)
        assert.strictEqual((yield* codec.verify(fits, options)).sub, "42")
      })
    )

    it.effect("makeJwt refuses an HMAC secret under 32 bytes, on sign and on verify, with a clear defect", () =>
      Effect.gen(function* () {
        const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
        for (const short of ["", "k", "x".repeat(31), "é".repeat(15)]) {
          const weak = Redacted.make(short)
          const exits: ReadonlyArray<Exit.Exit<unknown, unknown>> = [
            yield* Effect.exit(codec.sign({ sub: "42" }, { secret: weak, audience: "a", lifetime: "1 minute" })),
            yield* Effect.exit(codec.verify(token, { secret: weak, audience: "effect-users:verify" }))
          ]
          for (const exit of exits) {
            assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause) && !Cause.isFailure(exit.cause))
            if (Exit.isFailure(exit)) assert.include(Cause.pretty(exit.cause), "at least 32 bytes")
          }
        }
        const exactly = Redacted.make("x".repeat(32))
        const ok = yield* codec.sign({ sub: "42" }, { secret: exactly, audience: "a", lifetime: "1 minute" })
        assert.strictEqual((yield* codec.verify(ok, { secret: exactly, audience: "a" })).sub, "42")
      })
    )
  })
})

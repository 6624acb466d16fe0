/** The JWT codec's edges, each a refusal (or an acceptance) a careless change would flip. */
import { createHmac } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Redacted, TestClock } from "effect"
import { makeJwt } from "effect-users"
import { signJwt } from "./utils/Jwt.js"

const key = "a-token-secret-of-at-least-32-bytes!!"
const options = { secret: Redacted.make(key), audience: "effect-users:verify" }
const codec = makeJwt()
const now = 1_700_000_000

/** The codec's verdict: "ok" or the reason; a defect fails the test. */
const verdict = (
  token: string,
  verifyOptions: { secret: Redacted.Redacted<string>; audience: string | ReadonlyArray<string> } = options
) =>
  codec.verify(token, verifyOptions).pipe(
    Effect.as("ok"),
    Effect.catchTag("InvalidToken", (error) => Effect.succeed(error.reason))
  )

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const claims = { sub: "42", aud: "effect-users:verify", exp: now + 60 }

describe("TokenCodec edges", () => {
  it.effect("nbf: a past or present nbf is accepted, a future or non-numeric one refused", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now * 1000)
      assert.strictEqual(yield* verdict(signJwt({ ...claims, nbf: now - 10 }, key)), "ok")
      assert.strictEqual(yield* verdict(signJwt({ ...claims, nbf: now }, key)), "ok")
      assert.strictEqual(yield* verdict(signJwt({ ...claims, nbf: now + 1 }, key)), "invalid claim nbf")
      assert.strictEqual(yield* verdict(signJwt({ ...claims, nbf: String(now - 10) }, key)), "invalid claim nbf")
    })
  )

  it.effect("exp: valid through its last second, expired from exp on", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime((now + 59) * 1000 + 999)
      assert.strictEqual(yield* verdict(signJwt(claims, key)), "ok")
      yield* TestClock.setTime((now + 60) * 1000)
      assert.strictEqual(yield* verdict(signJwt(claims, key)), "expired")
    })
  )

  it.effect("aud: one of several accepted audiences, in a list or alone; a non-string aud is refused", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now * 1000)
      const both = { ...options, audience: ["effect-users:other", "effect-users:verify"] }
      assert.strictEqual(yield* verdict(signJwt(claims, key), both), "ok")
      assert.strictEqual(yield* verdict(signJwt({ ...claims, aud: ["x", "effect-users:verify"] }, key), both), "ok")
      assert.strictEqual(yield* verdict(signJwt({ ...claims, aud: ["x", "y"] }, key), both), "invalid claim aud")
      assert.strictEqual(yield* verdict(signJwt({ ...claims, aud: 42 }, key)), "invalid claim aud")
      assert.strictEqual(yield* verdict(signJwt({ ...claims, aud: { a: 1 } }, key)), "invalid claim aud")
      const { aud: _aud, ...noAud } = claims
      assert.strictEqual(yield* verdict(signJwt(noAud, key)), "invalid claim aud")
    })
  )

  it.effect("a header with crit, a signature of another length, and non-object parts are refused", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now * 1000)
      const token = signJwt(claims, key)
      const [header, payload, signature] = token.split(".") as [string, string, string]
      const critHeader = base64url({ alg: "HS256", typ: "JWT", crit: ["b64"] })
      const resigned = (h: string, p: string) =>
        `${h}.${p}.${createHmac("sha256", key).update(`${h}.${p}`).digest("base64url")}`
      assert.strictEqual(yield* verdict(resigned(critHeader, payload)), "algorithm not allowed")
      const exits = yield* Effect.all(
        [
          `${header}.${payload}.${signature.slice(0, 10)}`,
          `${header}.${payload}.`,
          `${header}.${payload}.${signature}AAAA`
        ].map((candidate) => Effect.exit(verdict(candidate)))
      )
      // Refused as a failure, never a defect (a non-canonical signature may be called malformed first).
      for (const exit of exits) {
        assert.isTrue(Exit.isSuccess(exit))
        if (Exit.isSuccess(exit)) assert.include(["bad signature", "malformed"], exit.value)
      }
      assert.strictEqual(yield* verdict(resigned(header, base64url([claims]))), "malformed")
      assert.strictEqual(yield* verdict(resigned(base64url(["HS256"]), payload)), "malformed")
      assert.strictEqual(yield* verdict(resigned(header, Buffer.from("not json").toString("base64url"))), "malformed")
      for (const part of [base64url(null), base64url(42), base64url("HS256")]) {
        assert.deepStrictEqual(yield* Effect.exit(verdict(resigned(part, payload))), Exit.succeed("malformed"))
        assert.deepStrictEqual(yield* Effect.exit(verdict(resigned(header, part))), Exit.succeed("malformed"))
      }
      for (const parts of [`${header}.${payload}`, `${header}.${payload}.${signature}.${signature}`]) {
        assert.deepStrictEqual(yield* Effect.exit(verdict(parts)), Exit.succeed("malformed"))
      }
    })
  )
  it.effect("a codec made with no options writes HS256 JWT headers and reads only those", () =>
    Effect.gen(function* () {
      const fresh = makeJwt()
      const token = yield* fresh.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
      const header = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString())
      assert.deepStrictEqual(header, { alg: "HS256", typ: "JWT" })
      assert.strictEqual((yield* fresh.verify(token, options)).sub, "42")
      const hs384 = yield* makeJwt({ algorithm: "HS384" }).sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
      assert.strictEqual(
        yield* Effect.flip(fresh.verify(hs384, options)).pipe(Effect.map((e) => e.reason)),
        "algorithm not allowed"
      )
    })
  )
})

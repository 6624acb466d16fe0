import { createHmac } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Redacted } from "effect"
import { TokenCodec } from "effect-users"
import * as jose from "jose"
import { type CodecSubject, suite } from "./suites/TokenCodecSuite.js"

const secret = Redacted.make("a-token-secret-of-at-least-32-bytes!!")
const codec = TokenCodec.makeJwt()
const options = { secret, audience: "effect-users:verify" }

/** The HMAC codec with another secret than the one the options carry. */
const withSecret = (
  inner: TokenCodec.TokenCodecService,
  other: Redacted.Redacted<string>
): TokenCodec.TokenCodecService => ({
  sign: (claims, signOptions) => inner.sign(claims, { ...signOptions, secret: other }),
  verify: (token, verifyOptions) => inner.verify(token, { ...verifyOptions, secret: other })
})

const key = new TextEncoder().encode(Redacted.value(secret))
const hmac: CodecSubject = {
  codec,
  other: withSecret(codec, Redacted.make("another-secret-of-at-least-32-bytes")),
  secret,
  header: { alg: "HS256", typ: "JWT" },
  signParts: (header, payload) =>
    `${header}.${payload}.${createHmac("sha256", Redacted.value(secret)).update(`${header}.${payload}`).digest("base64url")}`,
  secrets: [Redacted.value(secret)],
  joseSign: (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(key),
  joseVerify: (token, audience) =>
    jose.jwtVerify(token, key, { algorithms: ["HS256"], audience, currentDate: new Date(0) })
}

suite("HMAC (makeJwt, HS256)", Effect.succeed(hmac))

describe("TokenCodec (JWT HMAC)", () => {
  it.effect("reads only its own algorithm: an HS384 token is refused by the HS256 codec", () =>
    Effect.gen(function* () {
      const hs384 = yield* TokenCodec.makeJwt({ algorithm: "HS384" }).sign(
        { sub: "42" },
        { ...options, lifetime: "1 minute" }
      )
      const header = JSON.parse(Buffer.from(hs384.split(".")[0]!, "base64url").toString())
      assert.deepStrictEqual(header, { alg: "HS384", typ: "JWT" })
      assert.strictEqual((yield* TokenCodec.makeJwt({ algorithm: "HS384" }).verify(hs384, options)).sub, "42")
      assert.strictEqual(
        yield* Effect.flip(codec.verify(hs384, options)).pipe(Effect.map((e) => e.reason)),
        "algorithm not allowed"
      )
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

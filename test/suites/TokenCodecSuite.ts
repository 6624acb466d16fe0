/**
 * The token codec contract, run against every JWT codec: the HMAC one (`makeJwt`) and the asymmetric one
 * (`JwtKeySet`, ES256 and EdDSA). Each rule is a refusal (or an acceptance) a careless change would flip.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, type Redacted, TestClock } from "effect"
import { TokenCodec } from "effect-users"

/** A codec under test, and what the suite needs to forge tokens with its own key. */
export interface CodecSubject {
  readonly codec: TokenCodec.TokenCodecService
  /** A codec of the same kind with another key (the same `kid`, when it writes one). */
  readonly other: TokenCodec.TokenCodecService
  /** The `secret` the sign and verify options carry (the HMAC key; unused by the asymmetric codec). */
  readonly secret: Redacted.Redacted<string>
  /** The header the codec writes. */
  readonly header: Readonly<Record<string, unknown>>
  /** `header.payload.signature`, signed with the codec's key whatever the header says. */
  readonly signParts: (header: string, payload: string) => string
  /** Texts that must never appear in a token or an error: the key's secret parts. */
  readonly secrets: ReadonlyArray<string>
  /** A token jose signs with the codec's key and header. */
  readonly joseSign: (claims: Record<string, unknown>) => Promise<string>
  /** jose's verdict on one of our tokens: its payload and header. */
  readonly joseVerify: (
    token: string,
    audience: string
  ) => Promise<{ readonly payload: unknown; readonly protectedHeader: unknown }>
}

const audience = "effect-users:verify"
const now = 1_700_000_000
const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const claims = { sub: "42", aud: audience, exp: now + 60 }

/** The token with one bit of its signature's first byte flipped (the last bytes may be fixed: Ed25519's S). */
const tamperSignature = (token: string) => {
  const [header, payload, signature] = token.split(".") as [string, string, string]
  const bytes = Buffer.from(signature, "base64url")
  bytes[0] = bytes[0]! ^ 1
  return `${header}.${payload}.${bytes.toString("base64url")}`
}

export const suite = (name: string, subject: Effect.Effect<CodecSubject>) =>
  describe(`TokenCodec contract: ${name}`, () => {
    const setup = Effect.map(subject, (s) => {
      const options = { secret: s.secret, audience }
      /** The codec's verdict: "ok" or the reason; a defect fails the test. */
      const verdict = (
        token: string,
        verifyOptions: typeof options | { secret: Redacted.Redacted<string>; audience: ReadonlyArray<string> } = options
      ) =>
        s.codec.verify(token, verifyOptions).pipe(
          Effect.as("ok"),
          Effect.catchTag("InvalidToken", (error) => Effect.succeed(error.reason))
        )
      /** A correctly signed token with this payload text, so that any number or shape can be put in. */
      const signed = (payloadJson: string, header: unknown = s.header) =>
        s.signParts(part(header), Buffer.from(payloadJson).toString("base64url"))
      const signedClaims = (value: unknown, header: unknown = s.header) => signed(JSON.stringify(value), header)
      return { ...s, options, verdict, signed, signedClaims }
    })

    it.effect("round-trips claims with aud and exp = now + lifetime, read from Clock", () =>
      Effect.gen(function* () {
        const { codec, options } = yield* setup
        yield* TestClock.setTime(now * 1000)
        const token = yield* codec.sign({ sub: "42", email: "a@b.co" }, { ...options, lifetime: "10 minutes" })
        assert.deepStrictEqual(yield* codec.verify(token, options), {
          sub: "42",
          email: "a@b.co",
          aud: audience,
          exp: now + 600
        })
      })
    )

    it.effect("writes its header, and the audience list it is given", () =>
      Effect.gen(function* () {
        const { codec, options, header } = yield* setup
        const token = yield* codec.sign({ sub: "42" }, { ...options, audience: ["a", "b"], lifetime: "1 minute" })
        assert.deepStrictEqual(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()), header)
        assert.deepStrictEqual((yield* codec.verify(token, { ...options, audience: "b" })).aud, ["a", "b"])
      })
    )

    it.effect("refuses a token once its lifetime has passed", () =>
      Effect.gen(function* () {
        const { codec, options, verdict } = yield* setup
        const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "10 minutes" })
        yield* TestClock.adjust("10 minutes")
        assert.strictEqual(yield* verdict(token), "expired")
      })
    )

    it.effect("exp: valid through its last second, expired from exp on", () =>
      Effect.gen(function* () {
        const { verdict, signedClaims } = yield* setup
        yield* TestClock.setTime((now + 59) * 1000 + 999)
        assert.strictEqual(yield* verdict(signedClaims(claims)), "ok")
        yield* TestClock.setTime((now + 60) * 1000)
        assert.strictEqual(yield* verdict(signedClaims(claims)), "expired")
      })
    )

    it.effect("refuses another audience, another key, and every other algorithm including none", () =>
      Effect.gen(function* () {
        const { codec, other, options, verdict, header, signParts } = yield* setup
        const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "10 minutes" })
        assert.strictEqual(yield* verdict(token, { ...options, audience: "effect-users:reset" }), "invalid claim aud")
        const foreign = yield* other.sign({ sub: "42" }, { ...options, lifetime: "10 minutes" })
        assert.strictEqual(yield* verdict(foreign), "bad signature")
        const [, payload] = token.split(".") as [string, string, string]
        for (const alg of ["HS256", "HS384", "HS512", "ES256", "ES384", "EdDSA", "RS256", "PS256", "none", "NONE"]) {
          if (alg === header.alg) continue
          assert.strictEqual(yield* verdict(signParts(part({ ...header, alg }), payload)), "algorithm not allowed", alg)
        }
        const none = `${part({ ...header, alg: "none" })}.${payload}.`
        assert.strictEqual(yield* verdict(none), "algorithm not allowed")
        const { alg: _alg, ...noAlg } = header
        assert.strictEqual(yield* verdict(signParts(part(noAlg), payload)), "algorithm not allowed")
      })
    )

    it.effect("refuses malformed tokens without failing the fiber", () =>
      Effect.gen(function* () {
        const { verdict } = yield* setup
        for (const token of ["", "abc", "a.b.c", "...", `${"x".repeat(8_000)}.y.z`, "a.b", "a.b.c.d", "é.b.c"]) {
          assert.deepStrictEqual(yield* Effect.exit(verdict(token)), Exit.succeed("malformed"), token.slice(0, 20))
        }
      })
    )

    it.effect("reads tokens jose signs and writes tokens jose verifies", () =>
      Effect.gen(function* () {
        const { codec, options, joseSign, joseVerify, header } = yield* setup
        yield* TestClock.setTime(now * 1000)
        const exp = Math.floor((yield* Clock.currentTimeMillis) / 1000) + 60
        const fromJose = yield* Effect.promise(() => joseSign({ sub: "42", aud: ["x", audience], exp }))
        assert.strictEqual((yield* codec.verify(fromJose, options)).sub, "42")
        const ours = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
        const { payload, protectedHeader } = yield* Effect.promise(() => joseVerify(ours, audience))
        assert.deepStrictEqual(protectedHeader, header)
        assert.deepStrictEqual(payload, { sub: "42", aud: audience, exp })
      })
    )

    it.effect("refuses a token without exp, with a non-numeric or infinite exp or nbf, or not yet valid", () =>
      Effect.gen(function* () {
        const { verdict, signedClaims, signed } = yield* setup
        yield* TestClock.setTime(now * 1000)
        assert.strictEqual(yield* verdict(signedClaims({ aud: audience })), "invalid claim exp")
        assert.strictEqual(yield* verdict(signedClaims({ aud: audience, exp: "9999999999" })), "invalid claim exp")
        assert.strictEqual(
          yield* verdict(signedClaims({ aud: audience, exp: 9_999_999_999, nbf: 9_999_999_000 })),
          "invalid claim nbf"
        )
        assert.strictEqual(yield* verdict(signedClaims({ exp: 9_999_999_999 })), "invalid claim aud")
        // 1e999 parses as Infinity: a token that never expires.
        const aud = `"aud":"${audience}"`
        assert.strictEqual(yield* verdict(signed(`{${aud},"exp":1e999}`)), "invalid claim exp")
        assert.strictEqual(yield* verdict(signed(`{${aud},"exp":-1e999}`)), "invalid claim exp")
        assert.strictEqual(yield* verdict(signed(`{${aud},"exp":9999999999,"nbf":-1e999}`)), "invalid claim nbf")
        // The same tokens with finite numbers verify: only the infinity is refused.
        assert.strictEqual(yield* verdict(signed(`{${aud},"exp":9999999999,"nbf":0}`)), "ok")
      })
    )

    it.effect("nbf: a past or present nbf is accepted, a future or non-numeric one refused", () =>
      Effect.gen(function* () {
        const { verdict, signedClaims } = yield* setup
        yield* TestClock.setTime(now * 1000)
        assert.strictEqual(yield* verdict(signedClaims({ ...claims, nbf: now - 10 })), "ok")
        assert.strictEqual(yield* verdict(signedClaims({ ...claims, nbf: now })), "ok")
        assert.strictEqual(yield* verdict(signedClaims({ ...claims, nbf: now + 1 })), "invalid claim nbf")
        assert.strictEqual(yield* verdict(signedClaims({ ...claims, nbf: String(now - 10) })), "invalid claim nbf")
      })
    )

    it.effect("aud: one of several accepted audiences, in a list or alone; a non-string aud is refused", () =>
      Effect.gen(function* () {
        const { verdict, signedClaims, options } = yield* setup
        yield* TestClock.setTime(now * 1000)
        const both = { ...options, audience: ["effect-users:other", audience] }
        assert.strictEqual(yield* verdict(signedClaims(claims), both), "ok")
        assert.strictEqual(yield* verdict(signedClaims({ ...claims, aud: ["x", audience] }), both), "ok")
        assert.strictEqual(yield* verdict(signedClaims({ ...claims, aud: ["x", "y"] }), both), "invalid claim aud")
        assert.strictEqual(yield* verdict(signedClaims({ ...claims, aud: 42 })), "invalid claim aud")
        assert.strictEqual(yield* verdict(signedClaims({ ...claims, aud: { a: 1 } })), "invalid claim aud")
        const { aud: _aud, ...noAud } = claims
        assert.strictEqual(yield* verdict(signedClaims(noAud)), "invalid claim aud")
      })
    )

    it.effect("a tampered payload or signature is refused", () =>
      Effect.gen(function* () {
        const { codec, options, verdict } = yield* setup
        const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
        const [header, , signature] = token.split(".")
        const forged = part({ sub: "1", aud: audience, exp: 9_999_999_999 })
        assert.strictEqual(yield* verdict(`${header}.${forged}.${signature}`), "bad signature")
        assert.strictEqual(yield* verdict(tamperSignature(token)), "bad signature")
        assert.strictEqual(yield* verdict(`${token}=`), "malformed")
      })
    )

    it.effect("a header with crit, a signature of another length, and non-object parts are refused", () =>
      Effect.gen(function* () {
        const { verdict, header, signParts, signedClaims } = yield* setup
        yield* TestClock.setTime(now * 1000)
        const token = signedClaims(claims)
        const [encodedHeader, payload, signature] = token.split(".") as [string, string, string]
        assert.strictEqual(
          yield* verdict(signParts(part({ ...header, crit: ["b64"] }), payload)),
          "algorithm not allowed"
        )
        const exits = yield* Effect.all(
          [
            `${encodedHeader}.${payload}.${signature.slice(0, 10)}`,
            `${encodedHeader}.${payload}.`,
            `${encodedHeader}.${payload}.${signature}AAAA`
          ].map((candidate) => Effect.exit(verdict(candidate)))
        )
        // Refused as a failure, never a defect (a non-canonical signature may be called malformed first).
        for (const exit of exits) {
          assert.isTrue(Exit.isSuccess(exit))
          if (Exit.isSuccess(exit)) assert.include(["bad signature", "malformed"], exit.value)
        }
        assert.strictEqual(yield* verdict(signParts(encodedHeader, part([claims]))), "malformed")
        assert.strictEqual(yield* verdict(signParts(part([header.alg]), payload)), "malformed")
        const notJson = Buffer.from("not json").toString("base64url")
        assert.strictEqual(yield* verdict(signParts(encodedHeader, notJson)), "malformed")
        for (const value of [part(null), part(42), part("HS256")]) {
          assert.deepStrictEqual(yield* Effect.exit(verdict(signParts(value, payload))), Exit.succeed("malformed"))
          assert.deepStrictEqual(
            yield* Effect.exit(verdict(signParts(encodedHeader, value))),
            Exit.succeed("malformed")
          )
        }
      })
    )

    it.effect("a signature must be canonical base64url: other trailing bits are refused", () =>
      Effect.gen(function* () {
        const { codec, options, verdict } = yield* setup
        const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
        const signature = token.split(".")[2]!
        // n bytes in base64url: the last character carries 2 (n % 3 = 2) or 4 (n % 3 = 1) bits of padding.
        const length = Buffer.from(signature, "base64url").length
        assert.notStrictEqual(length % 3, 0, "a signature length with no padding bits cannot test this")
        const paddingMask = length % 3 === 2 ? 3 : 15
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        const value = alphabet.indexOf(token.at(-1)!)
        assert.strictEqual(value & paddingMask, 0)
        for (let bits = 1; bits <= paddingMask; bits++) {
          const variant = `${token.slice(0, -1)}${alphabet[value | bits]}`
          assert.deepStrictEqual(Buffer.from(variant.split(".")[2]!, "base64url"), Buffer.from(signature, "base64url"))
          assert.strictEqual(yield* verdict(variant), "malformed")
        }
        assert.strictEqual(yield* verdict(token), "ok")
      })
    )

    it.effect(`a token above ${TokenCodec.maxTokenLength} characters is refused before it is parsed`, () =>
      Effect.gen(function* () {
        const { codec, options, verdict } = yield* setup
        const padding = "x".repeat(TokenCodec.maxTokenLength)
        const long = yield* codec.sign({ sub: "42", padding }, { ...options, lifetime: "1 minute" })
        assert.strictEqual(yield* verdict(long), "too long")
        const huge = `${"a".repeat(5_000_000)}.b.c`
        const started = performance.now()
        assert.strictEqual(yield* verdict(huge), "too long")
        assert.isBelow(performance.now() - started, 50)
        const fits = yield* codec.sign({ sub: "42", padding: "x".repeat(5000) }, { ...options, lifetime: "1 minute" })
        assert.isAtMost(fits.length, TokenCodec.maxTokenLength)
        assert.strictEqual((yield* codec.verify(fits, options)).sub, "42")
      })
    )

    it.effect("never puts the key's secret parts in the token or its errors", () =>
      Effect.gen(function* () {
        const { codec, options, secrets } = yield* setup
        const token = yield* codec.sign({ sub: "42" }, { ...options, lifetime: "1 minute" })
        const errors = yield* Effect.all(
          [`${token}x`, tamperSignature(token), token.replace(/^[^.]+/, part({ alg: "HS256" }))].map((bad) =>
            Effect.flip(codec.verify(bad, options))
          )
        )
        assert.isAbove(secrets.length, 0)
        for (const secret of secrets) {
          assert.notInclude(token, secret)
          for (const error of errors) assert.notInclude(`${JSON.stringify(error)} ${String(error)}`, secret)
        }
      })
    )
  })

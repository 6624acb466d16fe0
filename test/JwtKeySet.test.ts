import { createHmac, generateKeyPairSync, KeyObject, sign } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Effect, Exit, Layer, Redacted, TestClock } from "effect"
import { JwtKeySet } from "effect-users"
import * as jose from "jose"
import { type CodecSubject, suite } from "./suites/TokenCodecSuite.js"

const audience = "effect-users:auth"
const options = { secret: Redacted.make("unused by the asymmetric codec"), audience, lifetime: "10 minutes" } as const
const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const digestOf = (alg: JwtKeySet.AsymmetricAlgorithm) => (alg === "ES256" ? "sha256" : null)

/** A fresh key pair: the jose keys, and the private key as PKCS#8 PEM and as JWK text. */
const keyPair = (alg: JwtKeySet.AsymmetricAlgorithm) =>
  Effect.promise(async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true })
    const privateJwk = await jose.exportJWK(privateKey)
    return {
      alg,
      privateKey,
      publicKey,
      pem: await jose.exportPKCS8(privateKey),
      spki: await jose.exportSPKI(publicKey),
      privateJwk,
      publicJwk: await jose.exportJWK(publicKey)
    }
  })
type KeyPair = Effect.Effect.Success<ReturnType<typeof keyPair>>

/** `header.payload.signature` signed with this private key, whatever the header says. */
const signWith = (pair: KeyPair) => (header: string, payload: string) => {
  const key = KeyObject.from(pair.privateKey)
  const input = Buffer.from(`${header}.${payload}`)
  const signature = sign(digestOf(pair.alg), input, pair.alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" } : key)
  return `${header}.${payload}.${signature.toString("base64url")}`
}

const make = (keyOptions: JwtKeySet.JwtKeySetOptions) => JwtKeySet.make(keyOptions).pipe(Effect.orDie)

const subject = (alg: JwtKeySet.AsymmetricAlgorithm, form: "pem" | "jwk") =>
  Effect.gen(function* () {
    const pair = yield* keyPair(alg)
    const privateKey = Redacted.make(form === "pem" ? pair.pem : JSON.stringify(pair.privateJwk))
    const keys = yield* make({ signing: { privateKey, kid: "k1" } })
    const other = yield* make({ signing: { privateKey: Redacted.make((yield* keyPair(alg)).pem), kid: "k1" } })
    const jwks = jose.createLocalJWKSet((yield* keys.jwks) as jose.JSONWebKeySet)
    const header = { alg, kid: "k1", typ: "JWT" }
    const pemBody = pair.pem.split("\n").filter((line) => !line.startsWith("-----"))
    const result: CodecSubject = {
      codec: keys.codec,
      other: other.codec,
      secret: options.secret,
      header,
      signParts: signWith(pair),
      secrets: [pair.privateJwk.d!, ...pemBody],
      joseSign: (claims) => new jose.SignJWT(claims).setProtectedHeader(header).sign(pair.privateKey),
      joseVerify: (token, aud) => jose.jwtVerify(token, jwks, { audience: aud, currentDate: new Date(0) })
    }
    return result
  })

suite("ES256 (JwtKeySet, PKCS#8 PEM)", Effect.runSync(Effect.cached(subject("ES256", "pem"))))
suite("EdDSA (JwtKeySet, JWK)", Effect.runSync(Effect.cached(subject("EdDSA", "jwk"))))

const reason = (codec: JwtKeySet.JwtKeySet["Type"]["codec"], token: string) =>
  codec.verify(token, options).pipe(
    Effect.as("ok"),
    Effect.catchTag("InvalidToken", (error) => Effect.succeed(error.reason))
  )
const exp = 9_999_999_999

describe("JwtKeySet", () => {
  it.effect("an unknown, missing or non-string kid is refused", () =>
    Effect.gen(function* () {
      const pair = yield* keyPair("ES256")
      const keys = yield* make({ signing: { privateKey: Redacted.make(pair.pem), kid: "k1" } })
      const payload = part({ sub: "42", aud: audience, exp })
      const signed = signWith(pair)
      assert.strictEqual(yield* reason(keys.codec, signed(part({ alg: "ES256", kid: "k1" }), payload)), "ok")
      for (const header of [{ alg: "ES256", kid: "k2" }, { alg: "ES256" }, { alg: "ES256", kid: 1 }]) {
        assert.strictEqual(yield* reason(keys.codec, signed(part(header), payload)), "unknown key")
      }
    })
  )

  it.effect("HMAC with the public key as its secret, or another key type's alg, is refused (no key confusion)", () =>
    Effect.gen(function* () {
      const pair = yield* keyPair("ES256")
      const ed = yield* keyPair("EdDSA")
      const keys = yield* make({ signing: { privateKey: Redacted.make(pair.pem), kid: "k1" } })
      const payload = part({ sub: "42", aud: audience, exp })
      const publicForms = [pair.spki, JSON.stringify(pair.publicJwk), JSON.stringify((yield* keys.jwks).keys[0])]
      for (const [alg, digest] of [
        ["HS256", "sha256"],
        ["HS512", "sha512"]
      ] as const) {
        for (const secret of publicForms) {
          const header = part({ alg, kid: "k1", typ: "JWT" })
          const mac = createHmac(digest, secret).update(`${header}.${payload}`).digest("base64url")
          assert.strictEqual(yield* reason(keys.codec, `${header}.${payload}.${mac}`), "algorithm not allowed")
        }
      }
      const edToken = signWith(ed)(part({ alg: "EdDSA", kid: "k1" }), payload)
      assert.strictEqual(yield* reason(keys.codec, edToken), "algorithm not allowed")
    })
  )

  it.effect("signs and verifies synchronously: no thread-pool job (runSync would throw on an async step)", () =>
    Effect.gen(function* () {
      const pair = yield* keyPair("EdDSA")
      const keys = yield* make({ signing: { privateKey: Redacted.make(pair.pem) } })
      const token = Effect.runSync(keys.codec.sign({ sub: "42" }, options))
      assert.strictEqual(Effect.runSync(keys.codec.verify(token, options)).sub, "42")
    })
  )

  it.effect("rotation: new tokens carry the current kid; a previous key verifies until its date, then is gone", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_700_000_000_000)
      const [old, current, next] = yield* Effect.all([keyPair("ES256"), keyPair("EdDSA"), keyPair("ES256")])
      const before = yield* make({ signing: { privateKey: Redacted.make(old.pem), kid: "2026-01" } })
      const oldToken = yield* before.codec.sign({ sub: "42" }, { ...options, lifetime: "1 day" })
      const until = new Date(1_700_000_000_000 + 60 * 60 * 1000)
      const rotated = yield* make({
        signing: { privateKey: Redacted.make(current.pem), kid: "2026-02" },
        verifying: [
          { key: old.spki, kid: "2026-01", until },
          { key: JSON.stringify(next.publicJwk), kid: "2026-03" }
        ]
      })
      assert.strictEqual(rotated.currentKid, "2026-02")
      const newToken = yield* rotated.codec.sign({ sub: "42" }, { ...options, lifetime: "1 day" })
      assert.strictEqual(JSON.parse(Buffer.from(newToken.split(".")[0]!, "base64url").toString()).kid, "2026-02")
      assert.strictEqual(yield* reason(rotated.codec, oldToken), "ok")
      assert.strictEqual(yield* reason(rotated.codec, newToken), "ok")
      assert.deepStrictEqual(
        (yield* rotated.jwks).keys.map((key) => [key.kid, key.alg]),
        [
          ["2026-02", "EdDSA"],
          ["2026-01", "ES256"],
          ["2026-03", "ES256"]
        ]
      )
      yield* TestClock.setTime(until.getTime() - 1)
      assert.strictEqual(yield* reason(rotated.codec, oldToken), "ok")
      yield* TestClock.setTime(until.getTime())
      assert.strictEqual(yield* reason(rotated.codec, oldToken), "unknown key")
      assert.strictEqual(yield* reason(rotated.codec, newToken), "ok")
      assert.deepStrictEqual(
        (yield* rotated.jwks).keys.map((key) => key.kid),
        ["2026-02", "2026-03"]
      )
      // Removed from the configuration: refused at once.
      const removed = yield* make({ signing: { privateKey: Redacted.make(current.pem), kid: "2026-02" } })
      yield* TestClock.setTime(1_700_000_000_000)
      assert.strictEqual(yield* reason(removed.codec, oldToken), "unknown key")
    })
  )

  it.effect("JWKS lists public parts only, even for a verifying key given as a private key", () =>
    Effect.gen(function* () {
      const [a, b] = yield* Effect.all([keyPair("ES256"), keyPair("EdDSA")])
      const keys = yield* make({
        signing: { privateKey: Redacted.make(JSON.stringify(a.privateJwk)) },
        verifying: [{ key: Redacted.make(b.pem) }]
      })
      const { keys: listed } = yield* keys.jwks
      const text = JSON.stringify(listed)
      for (const secret of [a.privateJwk.d!, b.privateJwk.d!]) assert.notInclude(text, secret)
      assert.deepStrictEqual<unknown>(listed[0], { ...a.publicJwk, kid: listed[0]!.kid, alg: "ES256", use: "sig" })
      assert.deepStrictEqual<unknown>(listed[1], { ...b.publicJwk, kid: listed[1]!.kid, alg: "EdDSA", use: "sig" })
      for (const key of listed) assert.notProperty(key, "d")
    })
  )

  it.effect("the default kid is the RFC 7638 thumbprint, the same for a key given as PEM or as JWK", () =>
    Effect.gen(function* () {
      const pair = yield* keyPair("EdDSA")
      const fromPem = yield* make({ signing: { privateKey: Redacted.make(pair.pem) } })
      const fromJwk = yield* make({ signing: { privateKey: Redacted.make(JSON.stringify(pair.privateJwk)) } })
      const thumbprint = yield* Effect.promise(() => jose.calculateJwkThumbprint(pair.publicJwk))
      assert.strictEqual(fromPem.currentKid, thumbprint)
      assert.strictEqual(fromJwk.currentKid, thumbprint)
    })
  )

  it.effect("bad keys fail with a ConfigError naming the setting, never quoting the key", () =>
    Effect.gen(function* () {
      const pair = yield* keyPair("ES256")
      const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({
        type: "pkcs8",
        format: "pem"
      })
      const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
        type: "pkcs8",
        format: "pem"
      })
      const sec1 = KeyObject.from(pair.privateKey).export({ type: "sec1", format: "pem" })
      const cases: ReadonlyArray<readonly [JwtKeySet.JwtKeySetOptions, string, string]> = [
        [{ signing: { privateKey: Redacted.make(pair.spki) } }, "signing.privateKey", "public key"],
        [
          { signing: { privateKey: Redacted.make("hunter2-not-a-key") } },
          "signing.privateKey",
          "neither a PEM nor a JWK"
        ],
        [{ signing: { privateKey: Redacted.make('{"kty":"EC","d":"hunter2') } }, "signing.privateKey", "JWK"],
        [{ signing: { privateKey: Redacted.make(String(sec1)) } }, "signing.privateKey", "PKCS#8"],
        [{ signing: { privateKey: Redacted.make(String(p384)) } }, "signing.privateKey", "P-256"],
        [{ signing: { privateKey: Redacted.make(String(rsa)) } }, "signing.privateKey", "P-256"],
        [
          { signing: { privateKey: Redacted.make('{"kty":"oct","k":"aHVudGVyMi1zZWNyZXQtaHVudGVyMi1zZWNyZXQ"}') } },
          "signing.privateKey",
          "P-256"
        ],
        [
          { signing: { privateKey: Redacted.make(JSON.stringify({ ...pair.privateJwk, alg: "ES384" })) } },
          "signing.privateKey",
          "alg"
        ],
        [
          {
            signing: { privateKey: Redacted.make(pair.pem), kid: "k" },
            verifying: [{ key: pair.spki }, { key: "{}", kid: "x" }]
          },
          "verifying.1.key",
          "P-256"
        ],
        [
          { signing: { privateKey: Redacted.make(pair.pem), kid: "k" }, verifying: [{ key: pair.spki, kid: "k" }] },
          "verifying.0.key",
          "kid k"
        ]
      ]
      for (const [keyOptions, path, message] of cases) {
        const exit = yield* Effect.exit(JwtKeySet.make(keyOptions))
        assert.isTrue(Exit.isFailure(exit), path)
        if (Exit.isFailure(exit)) {
          const pretty = String(exit.cause)
          assert.include(pretty, path)
          assert.include(pretty, message)
          for (const secret of ["hunter2", pair.privateJwk.d!]) assert.notInclude(pretty, secret)
        }
      }
    })
  )

  it.effect("layerConfig reads JWT_PRIVATE_KEY and one previous key from the environment", () =>
    Effect.gen(function* () {
      const [current, previous] = yield* Effect.all([keyPair("EdDSA"), keyPair("ES256")])
      const env = new Map([
        ["JWT_PRIVATE_KEY", current.pem],
        ["JWT_KEY_ID", "now"],
        ["JWT_PREVIOUS_KEY", previous.spki],
        ["JWT_PREVIOUS_KEY_ID", "before"],
        ["JWT_PREVIOUS_KEY_UNTIL", "2100-01-01T00:00:00Z"]
      ])
      const load = (map: Map<string, string>) =>
        Effect.flatMap(JwtKeySet.JwtKeySet, (keys) => keys.jwks).pipe(
          Effect.provide(
            JwtKeySet.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(map))))
          )
        )
      assert.deepStrictEqual(
        (yield* load(env)).keys.map((key) => key.kid),
        ["now", "before"]
      )
      const alone = yield* load(new Map([["JWT_PRIVATE_KEY", current.pem]]))
      assert.strictEqual(alone.keys.length, 1)
      const missing = yield* Effect.flip(load(new Map()))
      assert.isTrue(ConfigError.isConfigError(missing))
      assert.include(String(missing), "JWT_PRIVATE_KEY")
    })
  )
})

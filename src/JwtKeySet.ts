/**
 * Asymmetric JWTs (ES256 or EdDSA with Ed25519) and the key set behind them: one current key that signs,
 * and keys that only verify (the previous ones until their tokens have expired, the next one before it
 * starts signing), each named by the `kid` header of the tokens it signed. Other services check our tokens
 * with the public keys alone, which `jwks` lists (served at `/.well-known/jwks.json` by `Jwks`).
 *
 * Keys are given as PEM (PKCS#8 private, SPKI public) or JWK text and imported through jose; the algorithm
 * follows from the key (P-256: ES256, Ed25519: EdDSA).
 */
import { createPublicKey, KeyObject, sign, verify } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import { optional, redacted } from "./internal/config.js"
import * as Jwt from "./internal/jwt.js"
import { invalidToken, type TokenCodecService } from "./TokenCodec.js"

/**
 * The algorithms a key set signs with.
 *
 * @since 0.1.0
 */
export type AsymmetricAlgorithm = "ES256" | "EdDSA"

/**
 * The key that signs new tokens.
 *
 * @since 0.1.0
 */
export interface SigningKey {
  /** A private key: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) or a JWK (JSON text with `d`). */
  readonly privateKey: Redacted.Redacted<string>
  /** The `kid` of its tokens; default its RFC 7638 JWK thumbprint. */
  readonly kid?: string | undefined
}

/**
 * A key that verifies tokens but never signs.
 *
 * @since 0.1.0
 */
export interface VerifyingKey {
  /** A public key (SPKI PEM or JWK); a private one is reduced to its public part. */
  readonly key: string | Redacted.Redacted<string>
  /** Its `kid`; default its RFC 7638 JWK thumbprint. */
  readonly kid?: string | undefined
  /** From this instant on it neither verifies nor is published; default never (until it is removed). */
  readonly until?: Date | undefined
}

/**
 * A key set as configured.
 *
 * @since 0.1.0
 */
export interface JwtKeySetOptions {
  readonly signing: SigningKey
  readonly verifying?: ReadonlyArray<VerifyingKey> | undefined
}

/**
 * A public key as JWKS lists it (RFC 7517): never any private part.
 *
 * @since 0.1.0
 */
export interface PublicJwk {
  readonly kty: string
  readonly crv: string
  readonly x: string
  readonly y?: string | undefined
  readonly kid: string
  readonly alg: AsymmetricAlgorithm
  readonly use: "sig"
}

/**
 * A JSON Web Key Set.
 *
 * @since 0.1.0
 */
export interface JsonWebKeySet {
  readonly keys: ReadonlyArray<PublicJwk>
}

/**
 * A key set: the codec that signs with its current key and verifies with every live key, and its JWKS.
 *
 * @since 0.1.0
 */
export interface JwtKeySetService {
  /**
   * Tokens with `{"alg","kid","typ":"JWT"}` headers, under the same rules as the HMAC codec (finite `exp` and
   * `nbf`, `aud`, canonical base64url, `maxTokenLength`). An unknown or expired `kid`, or an `alg` other than
   * its key's, is refused. The `secret` of the sign and verify options is not used.
   */
  readonly codec: TokenCodecService
  /** The public keys that verify now: the current one first. */
  readonly jwks: Effect.Effect<JsonWebKeySet>
  /** The `kid` new tokens carry. */
  readonly currentKid: string
}

interface LiveKey {
  readonly jwk: PublicJwk
  readonly until: number
  readonly verify: (input: string, signature: Buffer) => boolean
}

const invalid = (path: ReadonlyArray<string>, message: string) =>
  Effect.fail(ConfigError.InvalidData([...path], message))

const algorithmOfJwk = (jwk: Record<string, unknown>): AsymmetricAlgorithm | undefined =>
  jwk.kty === "EC" && jwk.crv === "P-256" ? "ES256" : jwk.kty === "OKP" && jwk.crv === "Ed25519" ? "EdDSA" : undefined

const unsupported = "is neither an ES256 (P-256) nor an EdDSA (Ed25519) key"

/** What node:crypto's `sign`/`verify` take for this algorithm: JWS wants ECDSA signatures as raw r || s. */
const cryptoArguments = (algorithm: AsymmetricAlgorithm, key: KeyObject) =>
  algorithm === "ES256" ? { digest: "sha256", key: { key, dsaEncoding: "ieee-p1363" as const } } : { digest: null, key }

/** Imports one key through jose; errors name the setting and never quote the key. */
const importKey = (text: string, path: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const trimmed = text.trim()
    const attempt = (algorithm: AsymmetricAlgorithm, load: () => Promise<jose.CryptoKey | Uint8Array>) =>
      Effect.tryPromise(load).pipe(
        Effect.map((key) => (key instanceof Uint8Array ? undefined : { algorithm, key: KeyObject.from(key) })),
        Effect.orElseSucceed(() => undefined)
      )
    let imported: { readonly algorithm: AsymmetricAlgorithm; readonly key: KeyObject } | undefined
    if (trimmed.startsWith("{")) {
      const jwk = Jwt.parseObject(trimmed)
      if (jwk === undefined) return yield* invalid(path, "is not valid JWK JSON")
      const algorithm = algorithmOfJwk(jwk)
      if (algorithm === undefined) return yield* invalid(path, unsupported)
      if (jwk.alg !== undefined && jwk.alg !== algorithm) return yield* invalid(path, `has alg other than ${algorithm}`)
      imported = yield* attempt(algorithm, () => jose.importJWK(jwk, algorithm))
    } else if (trimmed.includes("-----BEGIN EC PRIVATE KEY-----")) {
      return yield* invalid(path, "is a SEC1 PEM: convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt)")
    } else if (trimmed.includes("-----BEGIN PRIVATE KEY-----") || trimmed.includes("-----BEGIN PUBLIC KEY-----")) {
      const load = trimmed.includes("PRIVATE") ? jose.importPKCS8 : jose.importSPKI
      for (const algorithm of ["ES256", "EdDSA"] as const) {
        imported ??= yield* attempt(algorithm, () => load(trimmed, algorithm))
      }
    } else {
      return yield* invalid(path, "is neither a PEM nor a JWK")
    }
    if (imported === undefined) return yield* invalid(path, unsupported)
    return imported
  })

/** A key's public half, its JWK and `kid`, and how it verifies. */
const liveKey = (
  imported: { readonly algorithm: AsymmetricAlgorithm; readonly key: KeyObject },
  kid: string | undefined,
  until: number
) =>
  Effect.promise(async (): Promise<LiveKey> => {
    const publicKey = imported.key.type === "private" ? createPublicKey(imported.key) : imported.key
    const { kty, crv, x, y } = await jose.exportJWK(publicKey)
    const jwk: PublicJwk = {
      kty: kty!,
      crv: crv!,
      x: x!,
      ...(y === undefined ? {} : { y }),
      kid: kid ?? (await jose.calculateJwkThumbprint(publicKey)),
      alg: imported.algorithm,
      use: "sig"
    }
    // node:crypto verifies synchronously on the event loop; jose's WebCrypto verify would queue on libuv's
    // thread pool behind argon2 hashes during a login flood (bench/codec.ts measures both).
    const { digest, key } = cryptoArguments(imported.algorithm, publicKey)
    return {
      jwk,
      until,
      verify: (input, signature) => {
        try {
          return verify(digest, Buffer.from(input), key, signature)
        } catch {
          return false
        }
      }
    }
  })

/**
 * Imports the keys and builds the key set. Fails with a `ConfigError` naming the setting when a key is not a
 * P-256 or Ed25519 key in PEM or JWK form, the signing key is not private, or two keys share a `kid`.
 *
 * @since 0.1.0
 */
export const make = (options: JwtKeySetOptions): Effect.Effect<JwtKeySetService, ConfigError.ConfigError> =>
  Effect.gen(function* () {
    const signingImport = yield* importKey(Redacted.value(options.signing.privateKey), ["signing", "privateKey"])
    if (signingImport.key.type !== "private") {
      return yield* invalid(["signing", "privateKey"], "is a public key: the signing key must be private")
    }
    const current = yield* liveKey(signingImport, options.signing.kid, Number.POSITIVE_INFINITY)
    const keys = new Map<string, LiveKey>([[current.jwk.kid, current]])
    for (const [index, entry] of (options.verifying ?? []).entries()) {
      const path = ["verifying", String(index), "key"]
      const text = Redacted.isRedacted(entry.key) ? Redacted.value(entry.key) : entry.key
      const key = yield* liveKey(
        yield* importKey(text, path),
        entry.kid,
        entry.until?.getTime() ?? Number.POSITIVE_INFINITY
      )
      if (keys.has(key.jwk.kid)) return yield* invalid(path, `has the kid ${key.jwk.kid} of another key`)
      keys.set(key.jwk.kid, key)
    }

    const { digest, key: privateKey } = cryptoArguments(signingImport.algorithm, signingImport.key)
    const header = Jwt.encodeJson({ alg: signingImport.algorithm, kid: current.jwk.kid, typ: "JWT" })
    const all = [...keys.values()]

    const codec: TokenCodecService = {
      sign: (claims, { audience, lifetime }) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const input = `${header}.${Jwt.payload(claims, audience, now + Duration.toMillis(lifetime))}`
          return `${input}.${sign(digest, Buffer.from(input), privateKey).toString("base64url")}`
        }),
      // ES256 signatures are malleable: (r, n - s) verifies as well as (r, s), so a token's text is not its
      // identity (use `jti`). Ed25519 is not: OpenSSL refuses S >= L.
      verify: (token, { audience }) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Jwt.decode(token).pipe(
            Either.flatMap((jws) => {
              const key = typeof jws.header.kid === "string" ? keys.get(jws.header.kid) : undefined
              if (key === undefined || key.until <= now) return Either.left("unknown key")
              if (!Jwt.allows(jws.header, key.jwk.alg)) return Either.left("algorithm not allowed")
              if (!key.verify(jws.signingInput, jws.signature)) return Either.left("bad signature")
              return Jwt.claims(jws, now, audience)
            }),
            Either.mapLeft(invalidToken)
          )
        )
    }

    return {
      codec,
      currentKid: current.jwk.kid,
      jwks: Effect.map(Clock.currentTimeMillis, (now) => ({
        keys: all.filter((key) => key.until > now).map((key) => key.jwk)
      }))
    }
  })

/**
 * The environment variables `layerConfig()` reads: `JWT_PRIVATE_KEY` (PEM or JWK) and `JWT_KEY_ID`; and one
 * previous key, `JWT_PREVIOUS_KEY` (public or private, PEM or JWK), with `JWT_PREVIOUS_KEY_ID` and
 * `JWT_PREVIOUS_KEY_UNTIL` (a date).
 *
 * @since 0.1.0
 */
export const fromEnv: Config.Config<JwtKeySetOptions> = Config.all({
  signing: Config.all({ privateKey: redacted("JWT_PRIVATE_KEY"), kid: optional(Config.string("JWT_KEY_ID")) }),
  verifying: Config.map(
    Config.option(
      Config.all({
        key: redacted("JWT_PREVIOUS_KEY"),
        kid: optional(Config.string("JWT_PREVIOUS_KEY_ID")),
        until: optional(Config.date("JWT_PREVIOUS_KEY_UNTIL"))
      })
    ),
    (previous): ReadonlyArray<VerifyingKey> => Option.toArray(previous)
  )
})

/**
 * The asymmetric key set in use.
 *
 * @since 0.1.0
 */
export class JwtKeySet extends Context.Tag("effect-users/JwtKeySet")<JwtKeySet, JwtKeySetService>() {}

/**
 * A key set from literal options.
 *
 * @since 0.1.0
 */
export const layer = (options: JwtKeySetOptions): Layer.Layer<JwtKeySet, ConfigError.ConfigError> =>
  Layer.effect(JwtKeySet, make(options))

/**
 * A key set read through `Config` (default: `fromEnv`).
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<JwtKeySetOptions> = fromEnv
): Layer.Layer<JwtKeySet, ConfigError.ConfigError> =>
  Layer.effect(JwtKeySet, Effect.flatMap(Config.unwrap(config), make))

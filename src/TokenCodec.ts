/**
 * Signed, expiring tokens: the verification and reset-password tokens (and any other JWT the app needs).
 * The default codec writes the JWTs FastAPI Users writes (HS256, `aud`, `exp` = now + lifetime), so a
 * service sharing the secret and audiences can read ours and we can read theirs. Time comes from `Clock`.
 * Any codec (asymmetric keys: `JwtKeySet`'s; PASETO, opaque tokens) can replace it through `TokenCodec.layer`.
 */

import { createHmac, timingSafeEqual } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Jwt from "./internal/jwt.js"
import { minimumSecretBytes } from "./UserManagerConfig.js"

/**
 * A token that is malformed, badly signed, expired or meant for another audience.
 *
 * @since 0.1.0
 */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  reason: Schema.String
}) {}

/**
 * What signing needs: the secret, the audience written into `aud`, and the lifetime that sets `exp`.
 *
 * @since 0.1.0
 */
export interface SignOptions {
  readonly secret: Redacted.Redacted<string>
  readonly audience: string | ReadonlyArray<string>
  readonly lifetime: Duration.DurationInput
}

/**
 * What verifying needs: the secret and the audience the token must carry.
 *
 * @since 0.1.0
 */
export interface VerifyOptions {
  readonly secret: Redacted.Redacted<string>
  readonly audience: string | ReadonlyArray<string>
}

/**
 * The claims of a token, as decoded.
 *
 * @since 0.1.0
 */
export type Claims = Readonly<Record<string, unknown>>

/**
 * Signs and verifies tokens.
 *
 * @since 0.1.0
 */
export interface TokenCodecService {
  /** A signed token of the claims, with `aud` and `exp` from the options. */
  readonly sign: (claims: Claims, options: SignOptions) => Effect.Effect<string>
  /** The claims of a token signed with the secret, for the audience and unexpired; `InvalidToken` otherwise. */
  readonly verify: (token: string, options: VerifyOptions) => Effect.Effect<Claims, InvalidToken>
}

/**
 * The HMAC algorithms a JWT codec can use.
 *
 * @since 0.1.0
 */
export type HmacAlgorithm = "HS256" | "HS384" | "HS512"

const digests = { HS256: "sha256", HS384: "sha384", HS512: "sha512" } as const

/**
 * The longest token `verify` reads (8 KiB); longer ones are refused before they are split or decoded.
 *
 * @since 0.1.0
 */
export const maxTokenLength = Jwt.maxTokenLength

/**
 * The refusal of a token, for its reason.
 *
 * @since 0.2.0
 */
export const invalidToken = (reason: string): InvalidToken => new InvalidToken({ reason })

/**
 * JWTs signed with HMAC, as PyJWT (FastAPI Users) writes them: `{"alg","typ":"JWT"}` header, `aud`, and
 * `exp` = now + lifetime in whole seconds. Verifying accepts only the configured algorithm and requires
 * a finite `exp`, a matching `aud`, a canonical base64url signature and at most `maxTokenLength` characters.
 * A secret shorter than `minimumSecretBytes` is a defect, on signing and on verifying.
 *
 * HMAC runs synchronously through node:crypto (microseconds) rather than WebCrypto, whose jobs queue on
 * libuv's thread pool behind password hashes: token checks stay fast during a login flood.
 *
 * @since 0.1.0
 */
export const makeJwt = (options: { readonly algorithm?: HmacAlgorithm | undefined } = {}): TokenCodecService => {
  const algorithm = options.algorithm ?? "HS256"
  const header = Jwt.encodeJson({ alg: algorithm, typ: "JWT" })
  const mac = (secret: Redacted.Redacted<string>, input: string) =>
    createHmac(digests[algorithm], Redacted.value(secret)).update(input).digest()
  const shortSecret = (secret: Redacted.Redacted<string>) =>
    Buffer.byteLength(Redacted.value(secret), "utf8") < minimumSecretBytes
  const refuseSecret = Effect.dieMessage(
    `TokenCodec (JWT ${algorithm}): the HMAC secret must be at least ${minimumSecretBytes} bytes`
  )

  return {
    sign: (claims, { audience, lifetime, secret }) =>
      shortSecret(secret)
        ? refuseSecret
        : Effect.map(Clock.currentTimeMillis, (now) => {
            const payload = Jwt.payload(claims, audience, now + Duration.toMillis(lifetime))
            return `${header}.${payload}.${mac(secret, `${header}.${payload}`).toString("base64url")}`
          }),
    verify: (token, { audience, secret }) =>
      shortSecret(secret)
        ? refuseSecret
        : Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Jwt.decode(token).pipe(
              Either.flatMap((jws) => {
                if (!Jwt.allows(jws.header, algorithm)) return Either.left("algorithm not allowed")
                const expected = mac(secret, jws.signingInput)
                if (jws.signature.length !== expected.length || !timingSafeEqual(jws.signature, expected)) {
                  return Either.left("bad signature")
                }
                return Jwt.claims(jws, now, audience)
              }),
              Either.mapLeft(invalidToken)
            )
          )
  }
}

/**
 * The token codec in use; HS256 JWTs unless a layer provides another.
 *
 * @since 0.1.0
 */
export class TokenCodec extends Context.Reference<TokenCodec>()("effect-users/TokenCodec", {
  defaultValue: (): TokenCodecService => makeJwt()
}) {}

/**
 * JWTs with another HMAC algorithm.
 *
 * @since 0.1.0
 */
export const layerJwt = (options: { readonly algorithm?: HmacAlgorithm | undefined } = {}): Layer.Layer<TokenCodec> =>
  Layer.succeed(TokenCodec, makeJwt(options))

/**
 * Any other codec.
 *
 * @since 0.1.0
 */
export const layer = (service: TokenCodecService): Layer.Layer<TokenCodec> => Layer.succeed(TokenCodec, service)

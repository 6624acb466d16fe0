/**
 * Signed, expiring tokens: the verification and reset-password tokens (and any other JWT the app needs).
 * The default codec writes the JWTs FastAPI Users writes (HS256, `aud`, `exp` = now + lifetime), so a
 * service sharing the secret and audiences can read ours and we can read theirs. Time comes from `Clock`.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as jose from "jose"

/** A token that is malformed, badly signed, expired or meant for another audience. */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  reason: Schema.String
}) {}

/** What signing needs: the secret, the audience written into `aud`, and the lifetime that sets `exp`. */
export interface SignOptions {
  readonly secret: Redacted.Redacted<string>
  readonly audience: string | ReadonlyArray<string>
  readonly lifetime: Duration.DurationInput
}

/** What verifying needs: the secret and the audience the token must carry. */
export interface VerifyOptions {
  readonly secret: Redacted.Redacted<string>
  readonly audience: string | ReadonlyArray<string>
}

/** The claims of a token, as decoded. */
export type Claims = Readonly<Record<string, unknown>>

/** Signs and verifies tokens. */
export interface TokenCodecService {
  readonly sign: (claims: Claims, options: SignOptions) => Effect.Effect<string>
  readonly verify: (token: string, options: VerifyOptions) => Effect.Effect<Claims, InvalidToken>
}

const keys = new WeakMap<Redacted.Redacted<string>, Uint8Array>()
const keyOf = (secret: Redacted.Redacted<string>) => {
  let key = keys.get(secret)
  if (key === undefined) {
    key = new TextEncoder().encode(Redacted.value(secret))
    keys.set(secret, key)
  }
  return key
}

const audienceList = (audience: string | ReadonlyArray<string>) =>
  typeof audience === "string" ? audience : [...audience]

const reasonOf = (error: unknown) =>
  error instanceof jose.errors.JWTExpired
    ? "expired"
    : error instanceof jose.errors.JWTClaimValidationFailed
      ? `invalid claim ${error.claim}`
      : error instanceof jose.errors.JOSEAlgNotAllowed
        ? "algorithm not allowed"
        : error instanceof jose.errors.JWSSignatureVerificationFailed
          ? "bad signature"
          : "malformed"

/** JWTs signed with HMAC (`HS256` by default; only the given algorithm is accepted when verifying). */
export const makeJwt = (options: { readonly algorithm?: "HS256" | "HS384" | "HS512" } = {}): TokenCodecService => {
  const algorithm = options.algorithm ?? "HS256"
  return {
    sign: (claims, { audience, lifetime, secret }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.promise(() =>
          new jose.SignJWT({ ...claims })
            .setProtectedHeader({ alg: algorithm, typ: "JWT" })
            .setAudience(audienceList(audience))
            .setExpirationTime(Math.floor((now + Duration.toMillis(lifetime)) / 1000))
            .sign(keyOf(secret))
        )
      ).pipe(Effect.withSpan("TokenCodec.sign")),
    verify: (token, { audience, secret }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({
          try: () =>
            jose.jwtVerify(token, keyOf(secret), {
              algorithms: [algorithm],
              audience: audienceList(audience),
              currentDate: new Date(now),
              requiredClaims: ["exp", "aud"]
            }),
          catch: (error) => new InvalidToken({ reason: reasonOf(error) })
        })
      ).pipe(
        Effect.map(({ payload }) => payload as Claims),
        Effect.withSpan("TokenCodec.verify")
      )
  }
}

/** The token codec in use; HS256 JWTs unless a layer provides another. */
export class TokenCodec extends Context.Reference<TokenCodec>()("effect-users/TokenCodec", {
  defaultValue: (): TokenCodecService => makeJwt()
}) {
  /** JWTs with another HMAC algorithm. */
  static readonly jwt = (options: { readonly algorithm?: "HS256" | "HS384" | "HS512" } = {}): Layer.Layer<TokenCodec> =>
    Layer.succeed(TokenCodec, makeJwt(options))

  /** Any other codec. */
  static readonly layer = (service: TokenCodecService): Layer.Layer<TokenCodec> => Layer.succeed(TokenCodec, service)
}

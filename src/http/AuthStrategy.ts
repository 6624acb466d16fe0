/**
 * Login strategies: how a token is issued for a user, read back into a user, and revoked on logout.
 * `jwt` is stateless (FastAPI Users' `JWTStrategy`); `database` keeps opaque tokens, stored hashed, in an
 * `AccessTokenStore` (FastAPI Users' `DatabaseStrategy` over its `accesstoken` table).
 */
import { createHash, randomBytes } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { AccessTokenStore } from "../AccessTokenStore.js"
import { type HmacAlgorithm, makeJwt, type TokenCodecService } from "../TokenCodec.js"
import type { BaseUser } from "../User.js"
import { UserManager } from "../UserManager.js"

/** A strategy, bound to the manager and storage it needs. */
export interface AuthStrategy {
  /** The user a token belongs to, if the token is valid and the user exists. */
  readonly read: (token: string) => Effect.Effect<Option.Option<BaseUser>>
  /** Issues a token for the user. */
  readonly write: (user: BaseUser) => Effect.Effect<string>
  /** Revokes a token; stateless strategies cannot and do nothing. */
  readonly destroy: (token: string, user: BaseUser) => Effect.Effect<void>
}

/** A value given directly or read through `Config`. */
export type Configurable<A> = A | Config.Config<A>

/** The value, read from `Config` if it is one. */
export const resolveConfigurable = <A>(value: Configurable<A>): Effect.Effect<A, ConfigError.ConfigError> =>
  Config.isConfig(value) ? value : Effect.succeed(value)

/** Options of the JWT strategy. */
export interface JwtOptions {
  /** The signing key (at least 32 bytes for HMAC). */
  readonly secret: Configurable<Redacted.Redacted<string>>
  /** Token lifetime; default 1 hour. */
  readonly lifetime?: Duration.DurationInput | undefined
  /** Audience written and required; default `["effect-users:auth"]` (FastAPI Users: `fastapi-users:auth`). */
  readonly audience?: string | ReadonlyArray<string> | undefined
  /** HMAC algorithm, the only one accepted; default HS256. */
  readonly algorithm?: HmacAlgorithm | undefined
  /** Another codec (e.g. asymmetric keys through jose) instead of the HMAC one. */
  readonly codec?: TokenCodecService | undefined
}

/**
 * Stateless JWT access tokens: `sub` = user ID, `aud`, `exp`. HMAC is checked synchronously through
 * node:crypto, so token checks never queue behind password hashes on libuv's thread pool.
 */
export const jwt = (options: JwtOptions): Effect.Effect<AuthStrategy, ConfigError.ConfigError, UserManager> =>
  Effect.gen(function* () {
    const users = yield* UserManager
    const secret = yield* resolveConfigurable(options.secret)
    if (Buffer.byteLength(Redacted.value(secret)) < 32) {
      return yield* Effect.dieMessage("The JWT strategy's secret must be at least 32 bytes")
    }
    const codec = options.codec ?? makeJwt({ algorithm: options.algorithm })
    const audience = options.audience ?? ["effect-users:auth"]
    const lifetime = options.lifetime ?? "1 hour"
    return {
      read: (token) =>
        codec.verify(token, { secret, audience }).pipe(
          Effect.flatMap((claims) => users.parseId(claims.sub)),
          Effect.flatMap((id) => users.get(id)),
          Effect.option
        ),
      write: (user) => codec.sign({ sub: String(user.id) }, { secret, audience, lifetime }),
      destroy: () => Effect.void
    }
  })

/** Options of the database strategy. */
export interface DatabaseOptions {
  /** How long a token is valid after it was issued; default 1 hour. */
  readonly lifetime?: Duration.DurationInput | undefined
}

// Only a SHA-256 of each token is stored: a leaked table cannot be replayed as sessions. A token has 256
// bits of entropy, so a fast unsalted hash is enough (nothing to brute-force, unlike a password).
const digest = (token: string) => createHash("sha256").update(token).digest("base64url")

/**
 * Opaque tokens (32 random bytes, base64url) in the `AccessTokenStore` (`SqlAccessTokenStore.layer` for
 * FastAPI Users' `accesstoken` table, `AccessTokenStore.layerMemory` in tests); stored as their SHA-256,
 * rejected once older than `lifetime`, deleted on logout.
 */
export const database = (
  options: DatabaseOptions = {}
): Effect.Effect<AuthStrategy, never, UserManager | AccessTokenStore> =>
  Effect.gen(function* () {
    const users = yield* UserManager
    const store = yield* AccessTokenStore
    const lifetime = Duration.toMillis(options.lifetime ?? "1 hour")
    return {
      read: (token) =>
        Effect.gen(function* () {
          if (token.length === 0 || token.length > 100) return Option.none()
          const stored = yield* store.read(digest(token))
          if (Option.isNone(stored)) return Option.none()
          const now = yield* Clock.currentTimeMillis
          if (stored.value.createdAt.getTime() + lifetime <= now) return Option.none()
          return yield* users.parseId(stored.value.userId).pipe(
            Effect.flatMap((id) => users.get(id)),
            Effect.option
          )
        }),
      write: (user) =>
        Effect.gen(function* () {
          const token = randomBytes(32).toString("base64url")
          const now = yield* Clock.currentTimeMillis
          yield* store.write(digest(token), { userId: String(user.id), createdAt: new Date(now) })
          return token
        }),
      destroy: (token) => store.delete(digest(token))
    }
  })

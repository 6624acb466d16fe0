/**
 * Login strategies: how a token is issued for a user, read back into a user, and revoked on logout.
 * `jwt` is stateless (FastAPI Users' `JWTStrategy`); `database` keeps opaque tokens, stored hashed, in an
 * `AccessTokenStore` (FastAPI Users' `DatabaseStrategy` over its `accesstoken` table).
 */
import { createHash, randomBytes } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { AccessTokenStore, type StoredToken } from "./AccessTokenStore.js"
import { read } from "./internal/config.js"
import { type Listed, type Listing, type Opening, Sessions, type SessionsService, type SignIn } from "./Sessions.js"
import { type HmacAlgorithm, makeJwt, type TokenCodecService } from "./TokenCodec.js"
import type { BaseUser } from "./User.js"
import { minimumSecretBytes } from "./UserManagerConfig.js"

/**
 * A strategy, bound to the session state and storage it needs.
 *
 * @since 0.1.0
 */
export interface AuthStrategy {
  /** The user a token belongs to, if the token is valid, of the user's current session epoch, and the user exists. */
  readonly read: (token: string) => Effect.Effect<Option.Option<BaseUser>>
  /** Issues a token for the user, stamped with the session epoch (`session.epoch`, else read now). */
  readonly write: (user: BaseUser, session?: Opening) => Effect.Effect<string>
  /** Revokes this one token (logout), on every instance sharing the storage. */
  readonly destroy: (token: string, user: BaseUser) => Effect.Effect<void>
  /**
   * Carries the session of this token over to `epoch`, the one the user's own change (through it) moved them
   * to: every other session ends with the move, this one stays.
   */
  readonly keep?: ((token: string, user: BaseUser, epoch: number) => Effect.Effect<void>) | undefined
  /** Deletes what the strategy stores for the user (the epoch move already ends them; this frees the storage). */
  readonly endAll?: ((user: BaseUser) => Effect.Effect<void>) | undefined
  /** The sessions a user can see and end, for stateful strategies. */
  readonly sessions?: Listing | undefined
  /**
   * The refresh-token family a valid token of this strategy belongs to (`Sessions.Opening.family`); strategies that
   * cannot carry one leave it out, and cannot back refresh tokens.
   */
  readonly familyOf?: ((token: string) => Effect.Effect<Option.Option<string>>) | undefined
  /**
   * Ends the access tokens issued under the user's refresh-token family `family` at once (the family ended:
   * reuse, logout, the session list's delete); strategies with `familyOf` have it.
   */
  readonly endFamily?: ((family: string, user: BaseUser) => Effect.Effect<void>) | undefined
  /**
   * How and when the sign-in behind a valid token happened (re-authentication reads it); `None` when the token does
   * not say (issued before 0.2). Call it on a token `read` accepted.
   */
  readonly signInOf?: ((token: string) => Effect.Effect<Option.Option<SignIn>>) | undefined
}

/**
 * A value given directly or read through `Config`.
 *
 * @since 0.1.0
 */
export type Configurable<A> = A | Config.Config<A>

/**
 * The value, read from `Config` if it is one.
 *
 * @since 0.1.0
 */
export const resolveConfigurable = <A>(value: Configurable<A>): Effect.Effect<A, ConfigError.ConfigError> =>
  // A missing `Config.redacted` value names its variable instead of "<redacted>".
  Config.isConfig(value) ? read(value) : Effect.succeed(value)

/**
 * Options of the JWT strategy.
 *
 * @since 0.1.0
 */
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

const nowMillis = Clock.currentTimeMillis

// Only a SHA-256 of each token is stored: a leaked table cannot be replayed as sessions. A token has 256
// bits of entropy, so a fast unsalted hash is enough (nothing to brute-force, unlike a password).
const digest = (token: string) => createHash("sha256").update(token).digest("base64url")

/**
 * JWT access tokens: `sub` = user ID, `aud`, `exp`, `iat`, a random `jti`, `sep`, the user's session epoch
 * at issue (tokens without it, FastAPI Users', count as epoch 0), and `sid`, the refresh-token family, if any. A
 * token is refused once the user's epoch moved past its own, unless its own change moved it (a `Kept` record of
 * its `jti`), after logout (a `Denied` record) and once its family ended (a `Denied` record of `sid:{family}`);
 * the records are asked only while the user row says one of their tokens is denied. A token without `jti` is
 * recorded as `sha:{SHA-256 of its signed part}`. Those records live in the `AccessTokenStore`, so every instance
 * sharing it agrees. HMAC is checked synchronously through
 * node:crypto, so token checks never queue behind password hashes on libuv's thread pool.
 *
 * @since 0.1.0
 */
export const jwt = (
  options: JwtOptions
): Effect.Effect<AuthStrategy, ConfigError.ConfigError, Sessions | AccessTokenStore> =>
  Effect.gen(function* () {
    const sessions = yield* Sessions
    const store = yield* AccessTokenStore
    const secret = yield* resolveConfigurable(options.secret)
    if (Buffer.byteLength(Redacted.value(secret)) < minimumSecretBytes) {
      return yield* Effect.fail(
        ConfigError.InvalidData(
          ["secret"],
          `AuthStrategy.jwt: the secret is too short: it must be at least ${minimumSecretBytes} bytes ` +
            `(read it with UserManagerConfig.secret("VARIABLE") to have its variable named)`
        )
      )
    }
    const codec = options.codec ?? makeJwt({ algorithm: options.algorithm })
    const audience = options.audience ?? ["effect-users:auth"]
    const lifetime = options.lifetime ?? "1 hour"
    const lifetimeMillis = Duration.toMillis(lifetime)
    const verify = (token: string) => Effect.option(codec.verify(token, { secret, audience }))
    /** The key of a token's deny or keep record: its `jti`, or a hash of its signed part when it has none. */
    const recordOf = (token: string, jti: unknown) =>
      typeof jti === "string" ? jti : `sha:${digest(token.slice(0, token.lastIndexOf(".")))}`
    /** The record key and expiry (ms) of a token this strategy accepts for this user, if it verifies. */
    const identify = (token: string, user: BaseUser) =>
      Effect.map(verify(token), (claims) =>
        Option.flatMap(claims, ({ exp, jti, sub }) =>
          typeof exp === "number" && sub === String(user.id)
            ? Option.some({ record: recordOf(token, jti), expiresAt: exp * 1000 })
            : Option.none()
        )
      )
    const isDenied = (record: string) =>
      Effect.map(store.readJti(record), (mark) => Option.isSome(mark) && mark.value._tag === "Denied")

    const read = (token: string) =>
      Effect.gen(function* () {
        const claims = yield* verify(token)
        if (Option.isNone(claims)) return Option.none()
        const { jti, sep, sid, sub } = claims.value
        const epoch = sep === undefined ? 0 : sep
        if (typeof epoch !== "number" || !Number.isSafeInteger(epoch)) return Option.none()
        const found = yield* sessions.lookup(String(sub))
        if (Option.isNone(found)) return Option.none()
        const { revokedUntil, sessionEpoch, user } = found.value
        const current = epoch === sessionEpoch
        // The common case costs nothing more: no denied token of this user is still alive, epoch current.
        if (current && revokedUntil <= (yield* nowMillis)) return Option.some(user)
        const [mark, familyEnded] = yield* Effect.all(
          [
            store.readJti(recordOf(token, jti)),
            typeof sid === "string" ? isDenied(familyRecord(sid)) : Effect.succeed(false)
          ],
          { concurrency: 2 }
        )
        if (familyEnded || (Option.isSome(mark) && mark.value._tag === "Denied")) return Option.none()
        if (current) return Option.some(user)
        const kept = Option.isSome(mark) && mark.value._tag === "Kept" && mark.value.epoch === sessionEpoch
        return kept ? Option.some(user) : Option.none()
      })

    return {
      read,
      write: (user, session) =>
        Effect.gen(function* () {
          const epoch = session?.epoch ?? (yield* currentEpoch(sessions, user))
          const now = yield* nowMillis
          const claims = {
            sub: String(user.id),
            iat: Math.floor(now / 1000),
            jti: randomBytes(16).toString("base64url"),
            sep: epoch,
            ...(session?.family === undefined ? {} : { sid: session.family }),
            // How and when the user signed in (OpenID Connect's `auth_time`; `mth` ours), for re-authentication.
            ...(session?.method === undefined
              ? {}
              : { mth: session.method, auth_time: Math.floor((session.signedInAt ?? now) / 1000) }),
            ...(session?.amr === undefined ? {} : { amr: [...session.amr] })
          }
          return yield* codec.sign(claims, { secret, audience, lifetime })
        }),
      destroy: (token, user) =>
        Effect.flatMap(identify(token, user), (identity) =>
          Option.isNone(identity)
            ? Effect.void
            : // Denied first, then the user row's marker: a check between the two still finds the token alive.
              store
                .markJti(identity.value.record, { _tag: "Denied" }, new Date(identity.value.expiresAt))
                .pipe(Effect.zipRight(sessions.denyUntil(user, identity.value.expiresAt)))
        ),
      endFamily: (family, user) =>
        Effect.gen(function* () {
          // Every token of the family expires within a lifetime; a minute more covers one signed as it ends.
          const until = (yield* nowMillis) + lifetimeMillis + 60_000
          yield* store.markJti(familyRecord(family), { _tag: "Denied" }, new Date(until))
          yield* sessions.denyUntil(user, until)
        }),
      familyOf: (token) =>
        Effect.map(verify(token), (claims) =>
          Option.flatMap(claims, ({ sid }) => (typeof sid === "string" ? Option.some(sid) : Option.none()))
        ),
      signInOf: (token) =>
        Effect.map(verify(token), (claims) =>
          Option.flatMap(claims, ({ amr, auth_time, mth }) =>
            typeof mth === "string" && typeof auth_time === "number"
              ? Option.some({
                  method: mth,
                  at: auth_time * 1000,
                  ...(Array.isArray(amr) ? { amr: amr.filter((value) => typeof value === "string") } : {})
                })
              : Option.none()
          )
        ),
      keep: (token, user, epoch) =>
        Effect.flatMap(identify(token, user), (identity) =>
          Option.isNone(identity)
            ? Effect.void
            : store.markJti(identity.value.record, { _tag: "Kept", epoch }, new Date(identity.value.expiresAt))
        )
    }
  })

/** The deny record of a refresh-token family's access tokens (family IDs are base64url: never a `jti` of ours). */
const familyRecord = (family: string) => `sid:${family}`

/** The user's session epoch now (a session opened without one); 0 for a user that is gone. */
const currentEpoch = (sessions: SessionsService, user: BaseUser) =>
  Effect.map(sessions.lookup(String(user.id)), (found) => (Option.isSome(found) ? found.value.sessionEpoch : 0))

/**
 * Options of the database strategy.
 *
 * @since 0.1.0
 */
export interface DatabaseOptions {
  /** How long a token is valid after it was issued; default 1 hour. */
  readonly lifetime?: Duration.DurationInput | undefined
  /**
   * How long a token stays valid without being used (besides `lifetime`); default none. Use is recorded at most
   * once a minute per token, so a session ends between `idleLifetime` and a minute more after its last request.
   */
  readonly idleLifetime?: Duration.DurationInput | undefined
}

/**
 * The public ID of a stored session: a hash of its digest, so the ID cannot be turned back into the digest.
 *
 * @since 0.1.0
 */
export const sessionId = (tokenDigest: string): string =>
  createHash("sha256").update(`effect-users/session:${tokenDigest}`).digest("base64url").slice(0, 22)

/**
 * How often the database strategy records a token's use: at most one write per token and minute.
 *
 * @since 0.1.0
 */
export const touchInterval: Duration.Duration = Duration.minutes(1)

/**
 * Opaque tokens (32 random bytes, base64url) in the `AccessTokenStore` (`SqlAccessTokenStore.layer` for
 * FastAPI Users' `accesstoken` table, `AccessTokenStore.layerMemory` in tests); stored as their SHA-256 with
 * the user's session epoch, rejected once older than `lifetime`, idle longer than `idleLifetime` or of another
 * epoch than the user's, and deleted on logout, with their refresh-token family, or when their user is gone.
 *
 * @since 0.1.0
 */
export const database = (
  options: DatabaseOptions = {}
): Effect.Effect<AuthStrategy, never, Sessions | AccessTokenStore> =>
  Effect.gen(function* () {
    const sessions = yield* Sessions
    const store = yield* AccessTokenStore
    const lifetime = Duration.toMillis(options.lifetime ?? "1 hour")
    const idle = options.idleLifetime === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(options.idleLifetime)
    const touchMillis = Duration.toMillis(touchInterval)
    const alive = (token: StoredToken, now: number) =>
      token.createdAt.getTime() + lifetime > now && token.lastUsedAt.getTime() + idle > now

    const read = (token: string) =>
      Effect.gen(function* () {
        if (token.length === 0 || token.length > 100) return Option.none()
        const key = digest(token)
        const stored = yield* store.read(key)
        if (Option.isNone(stored)) return Option.none()
        const now = yield* nowMillis
        if (!alive(stored.value, now)) return Option.none()
        const found = yield* sessions.lookup(stored.value.userId)
        if (Option.isNone(found)) {
          yield* store.delete(key)
          return Option.none()
        }
        // Refused, not deleted: while its own password change carries this session over (`keep`), a parallel
        // request on it sees the new epoch first. Stale rows go with `endAll` and the purge.
        if (found.value.sessionEpoch !== stored.value.epoch) return Option.none()
        if (now - stored.value.lastUsedAt.getTime() >= touchMillis) yield* store.touch(key, new Date(now))
        return Option.some(found.value.user)
      })

    const liveSessions = (user: BaseUser) =>
      Effect.gen(function* () {
        const found = yield* sessions.lookup(String(user.id))
        if (Option.isNone(found)) return []
        const now = yield* nowMillis
        const tokens = yield* store.listOf(String(user.id))
        return tokens.filter(([, token]) => token.epoch === found.value.sessionEpoch && alive(token, now))
      })

    return {
      read,
      write: (user, session) =>
        Effect.gen(function* () {
          const token = randomBytes(32).toString("base64url")
          const now = new Date(yield* nowMillis)
          yield* store.write(digest(token), {
            userId: String(user.id),
            createdAt: now,
            epoch: session?.epoch ?? (yield* currentEpoch(sessions, user)),
            backend: session?.backend,
            method: session?.method,
            userAgent: session?.userAgent,
            family: session?.family,
            amr: session?.amr
          })
          return token
        }),
      destroy: (token) => store.delete(digest(token)),
      familyOf: (token) =>
        Effect.map(store.read(digest(token)), (stored) =>
          Option.flatMap(stored, ({ family }) => Option.fromNullable(family))
        ),
      endFamily: (family, user) => Effect.asVoid(store.deleteFamily(String(user.id), family)),
      signInOf: (token) =>
        Effect.map(store.read(digest(token)), (stored) =>
          Option.flatMap(stored, ({ amr, createdAt, method }) =>
            method === undefined
              ? Option.none()
              : Option.some({ method, at: createdAt.getTime(), ...(amr === undefined ? {} : { amr }) })
          )
        ),
      keep: (token, user, epoch) =>
        Effect.gen(function* () {
          const key = digest(token)
          const stored = yield* store.read(key)
          // Only the user's own token: a stale token of someone else must not come back at this epoch.
          if (Option.isSome(stored) && stored.value.userId === String(user.id)) yield* store.setEpoch(key, epoch)
        }),
      endAll: (user) => Effect.asVoid(store.deleteAllOf(String(user.id))),
      sessions: {
        list: (user, current) =>
          Effect.map(liveSessions(user), (tokens) => {
            const currentDigest = Option.map(current, digest)
            return tokens.map(
              ([key, token]): Listed => ({
                id: sessionId(key),
                createdAt: token.createdAt,
                lastUsedAt: token.lastUsedAt,
                backend: token.backend ?? null,
                userAgent: token.userAgent ?? null,
                method: token.method ?? null,
                amr: token.amr ?? null,
                current: Option.contains(currentDigest, key)
              })
            )
          }),
        revoke: (user, id) =>
          Effect.gen(function* () {
            const tokens = yield* store.listOf(String(user.id))
            const match = tokens.find(([key]) => sessionId(key) === id)
            if (match === undefined) return false
            yield* store.delete(match[0])
            return true
          })
      }
    }
  })

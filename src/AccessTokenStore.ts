/**
 * Where sessions are kept: the database strategy's tokens (each token's digest with its user's ID, when it
 * was issued, the user's session epoch at issue, when it was last used, and which backend and user agent made
 * it), and the JWT strategy's per-token records (a `jti` denied on logout, or kept across an epoch move), each
 * until the token's expiry. `AuthStrategy.database` and `AuthStrategy.jwt` read and write through it;
 * `layerMemory` keeps them in the process, `SqlAccessTokenStore` in FastAPI Users' `accesstoken` table plus
 * `accesstoken_jti`.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * A stored token: whose it is, when it was issued and last used, and the user's session epoch at issue.
 *
 * @since 0.1.0
 */
export interface StoredToken {
  /** The user's ID as text (`String(user.id)`). */
  readonly userId: string
  readonly createdAt: Date
  /** The user's session epoch when the token was issued; rows FastAPI Users wrote read 0. */
  readonly epoch: number
  /** When the token was last seen (updated at most once a minute); `createdAt` until then. */
  readonly lastUsedAt: Date
  /** The login backend that issued it, when recorded. */
  readonly backend?: string | undefined
  /** The client's `User-Agent` at login, when recorded (at most 512 characters). */
  readonly userAgent?: string | undefined
  /** How the session was started (`Sessions.Method`), when recorded. */
  readonly method?: string | undefined
  /** The refresh-token family the token was issued under, when it was: it is deleted with the family. */
  readonly family?: string | undefined
  /**
   * How the sign-in was proven (RFC 8176 `amr`: `pwd`, `otp`, `mfa`, ...), when recorded.
   *
   * @since 0.3.0
   */
  readonly amr?: ReadonlyArray<string> | undefined
}

/**
 * A token to store: `epoch` defaults to 0 and `lastUsedAt` to `createdAt`.
 *
 * @since 0.1.0
 */
export type NewToken = Omit<StoredToken, "epoch" | "lastUsedAt"> & {
  readonly epoch?: number | undefined
  readonly lastUsedAt?: Date | undefined
}

/**
 * What a JWT's `jti` record says: the token is denied (logged out), or kept valid at a later session epoch.
 *
 * @since 0.1.0
 */
export type JtiMark =
  | { readonly _tag: "Denied" }
  | {
      readonly _tag: "Kept"
      /** The session epoch the token stays valid at (the one its own change moved the user to). */
      readonly epoch: number
    }

/**
 * How `purgeExpired` works through the rows.
 *
 * @since 0.1.0
 */
export interface PurgeOptions {
  /** Also delete the tokens last used before this (the idle timeout). */
  readonly idleBefore?: Date | undefined
  /** Also delete the `jti` records whose token expired before this. */
  readonly jtiExpiredBefore?: Date | undefined
  /** Rows deleted per statement (default 1000): a large purge never locks the table for long. */
  readonly batchSize?: number | undefined
}

/**
 * The longest user agent stored; longer ones are cut.
 *
 * @since 0.1.0
 */
export const maxUserAgentLength = 512

/**
 * The operations on stored tokens; each token is known only by its digest, each JWT by its `jti`.
 *
 * @since 0.1.0
 */
export interface AccessTokenStoreService {
  /** Stores a token's digest for a user. */
  readonly write: (digest: string, token: NewToken) => Effect.Effect<void>
  /** The token with this digest, if it is stored. */
  readonly read: (digest: string) => Effect.Effect<Option.Option<StoredToken>>
  /** Deletes the token with this digest (logout); nothing happens if there is none. */
  readonly delete: (digest: string) => Effect.Effect<void>
  /** Deletes every token of a user (revokes all their sessions) in one statement; the number deleted. */
  readonly deleteAllOf: (userId: string) => Effect.Effect<number>
  /** Deletes the user's tokens issued under this refresh-token family (the family ended); the number deleted. */
  readonly deleteFamily: (userId: string, family: string) => Effect.Effect<number>
  /**
   * Deletes the tokens issued before `issuedBefore` (and, with the options, the idle ones and the expired `jti`
   * records), in batches of `batchSize`; the number of tokens and records deleted.
   */
  readonly purgeExpired: (issuedBefore: Date, options?: PurgeOptions) => Effect.Effect<number>
  /** Every stored token of a user, with its digest (never shown to anyone: `AuthStrategy` derives public IDs). */
  readonly listOf: (userId: string) => Effect.Effect<ReadonlyArray<readonly [digest: string, token: StoredToken]>>
  /** Records that the token was used at `at`; false if it is not stored. Callers throttle (once a minute). */
  readonly touch: (digest: string, at: Date) => Effect.Effect<boolean>
  /** Rewrites the epoch of a stored token (the session that changed the password stays); false if it is gone. */
  readonly setEpoch: (digest: string, epoch: number) => Effect.Effect<boolean>
  /** Writes the record of a JWT's `jti` until `expiresAt`; `Denied` wins over `Kept` whatever the order. */
  readonly markJti: (jti: string, mark: JtiMark, expiresAt: Date) => Effect.Effect<void>
  /** The record of a JWT's `jti`, if one is stored (expired ones may still be returned until purged). */
  readonly readJti: (jti: string) => Effect.Effect<Option.Option<JtiMark>>
}

/**
 * The token storage of the login strategies.
 *
 * @since 0.1.0
 */
export class AccessTokenStore extends Context.Tag("effect-users/AccessTokenStore")<
  AccessTokenStore,
  AccessTokenStoreService
>() {}

/**
 * The stored form of a new token: defaults filled, the user agent cut to `maxUserAgentLength`.
 *
 * @since 0.1.0
 */
export const storedToken = (token: NewToken): StoredToken => ({
  userId: token.userId,
  createdAt: token.createdAt,
  epoch: token.epoch ?? 0,
  lastUsedAt: token.lastUsedAt ?? token.createdAt,
  backend: token.backend,
  userAgent: token.userAgent?.slice(0, maxUserAgentLength),
  method: token.method,
  family: token.family,
  amr: token.amr
})

/**
 * A store in the process's memory (tests, single-process apps); tokens end with the process.
 *
 * @since 0.1.0
 */
export const makeMemory = (): AccessTokenStoreService => {
  const tokens = new Map<string, StoredToken>()
  const jtis = new Map<string, { readonly mark: JtiMark; readonly expiresAt: number }>()
  const deleteWhere = (predicate: (token: StoredToken) => boolean) => {
    let deleted = 0
    for (const [digest, token] of tokens) {
      if (predicate(token)) {
        tokens.delete(digest)
        deleted++
      }
    }
    return deleted
  }
  const update = (digest: string, f: (token: StoredToken) => StoredToken) =>
    Effect.sync(() => {
      const token = tokens.get(digest)
      if (token === undefined) return false
      tokens.set(digest, f(token))
      return true
    })
  return AccessTokenStore.of({
    write: (digest, token) => Effect.sync(() => void tokens.set(digest, storedToken(token))),
    read: (digest) => Effect.sync(() => Option.fromNullable(tokens.get(digest))),
    delete: (digest) => Effect.sync(() => void tokens.delete(digest)),
    deleteAllOf: (userId) => Effect.sync(() => deleteWhere((token) => token.userId === userId)),
    deleteFamily: (userId, family) =>
      Effect.sync(() => deleteWhere((token) => token.userId === userId && token.family === family)),
    purgeExpired: (issuedBefore, options = {}) =>
      Effect.sync(() => {
        const idle = options.idleBefore?.getTime() ?? Number.NEGATIVE_INFINITY
        let deleted = deleteWhere(
          (token) => token.createdAt.getTime() < issuedBefore.getTime() || token.lastUsedAt.getTime() < idle
        )
        const jtiCut = options.jtiExpiredBefore?.getTime()
        if (jtiCut !== undefined) {
          for (const [jti, record] of jtis) {
            if (record.expiresAt < jtiCut) {
              jtis.delete(jti)
              deleted++
            }
          }
        }
        return deleted
      }),
    listOf: (userId) => Effect.sync(() => [...tokens.entries()].filter(([, token]) => token.userId === userId)),
    touch: (digest, at) => update(digest, (token) => ({ ...token, lastUsedAt: at })),
    setEpoch: (digest, epoch) => update(digest, (token) => ({ ...token, epoch })),
    markJti: (jti, mark, expiresAt) =>
      Effect.sync(() => {
        const existing = jtis.get(jti)
        const next = existing?.mark._tag === "Denied" ? existing.mark : mark
        jtis.set(jti, { mark: next, expiresAt: Math.max(expiresAt.getTime(), existing?.expiresAt ?? 0) })
      }),
    readJti: (jti) => Effect.sync(() => Option.map(Option.fromNullable(jtis.get(jti)), (record) => record.mark))
  })
}

/**
 * The memory store, new for each build of the layer.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<AccessTokenStore> = Layer.sync(AccessTokenStore, makeMemory)

/**
 * Where the database login strategy keeps its tokens: each token's digest with its user's ID and when it was
 * issued. `AuthStrategy.database` writes and reads through it; `layerMemory` keeps them in the process,
 * `SqlAccessTokenStore` in FastAPI Users' `accesstoken` table.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/** A stored token: whose it is and when it was issued. */
export interface StoredToken {
  /** The user's ID as text (`String(user.id)`). */
  readonly userId: string
  readonly createdAt: Date
}

/** The operations on stored tokens; each token is known only by its digest. */
export interface AccessTokenStoreService {
  /** Stores a token's digest for a user. */
  readonly write: (digest: string, token: StoredToken) => Effect.Effect<void>
  /** The token with this digest, if it is stored. */
  readonly read: (digest: string) => Effect.Effect<Option.Option<StoredToken>>
  /** Deletes the token with this digest (logout); nothing happens if there is none. */
  readonly delete: (digest: string) => Effect.Effect<void>
  /** Deletes every token of a user (revokes all their sessions) in one statement; the number deleted. */
  readonly deleteAllOf: (userId: string) => Effect.Effect<number>
  /** Deletes the tokens issued before `issuedBefore`; the number deleted. */
  readonly purgeExpired: (issuedBefore: Date) => Effect.Effect<number>
}

/** The token storage of the database strategy. */
export class AccessTokenStore extends Context.Tag("effect-users/AccessTokenStore")<
  AccessTokenStore,
  AccessTokenStoreService
>() {}

/** A store in the process's memory (tests, single-process apps); tokens end with the process. */
export const makeMemory = (): AccessTokenStoreService => {
  const tokens = new Map<string, StoredToken>()
  const deleteWhere = (predicate: (token: StoredToken) => boolean) =>
    Effect.sync(() => {
      let deleted = 0
      for (const [digest, token] of tokens) {
        if (predicate(token)) {
          tokens.delete(digest)
          deleted++
        }
      }
      return deleted
    })
  return AccessTokenStore.of({
    write: (digest, token) => Effect.sync(() => void tokens.set(digest, token)),
    read: (digest) => Effect.sync(() => Option.fromNullable(tokens.get(digest))),
    delete: (digest) => Effect.sync(() => void tokens.delete(digest)),
    deleteAllOf: (userId) => deleteWhere((token) => token.userId === userId),
    purgeExpired: (issuedBefore) => deleteWhere((token) => token.createdAt.getTime() < issuedBefore.getTime())
  })
}

/** The memory store, new for each build of the layer. */
export const layerMemory: Layer.Layer<AccessTokenStore> = Layer.sync(AccessTokenStore, makeMemory)

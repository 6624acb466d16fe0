/**
 * Where refresh tokens live: families (one per login: whose, which backend, the user's session epoch at login,
 * when it started and was last rotated, and its last rotation's sealed successor) and the digests of their tokens,
 * each spent or not. Tokens are known only by their SHA-256. `layerMemory` keeps them in the process, `SqlRefreshTokenStore` in two tables.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * One login's chain of refresh tokens: a session.
 *
 * @since 0.1.0
 */
export interface Family {
  /** Random, URL-safe; the `sid` claim of the family's access tokens and the session's ID in listings. */
  readonly id: string
  /** The user's ID as text (`String(user.id)`). */
  readonly userId: string
  /** The login backend's name. */
  readonly backend: string
  /** The user's session epoch at login (or the one a change through this session carried it to). */
  readonly epoch: number
  /** The login: the absolute lifetime counts from here. */
  readonly createdAt: Date
  /** The last rotation (the login at first): the idle lifetime counts from here. */
  readonly lastUsedAt: Date
  /** The login request's `User-Agent`, when the app records it (at most 512 characters). */
  readonly userAgent?: string | undefined
  /** How the login that started the family was made (`Sessions.Method`), when recorded. */
  readonly method?: string | undefined
  /**
   * How the login was proven (RFC 8176 `amr`), when recorded: every access token of the family carries it.
   *
   * @since 0.3.0
   */
  readonly amr?: ReadonlyArray<string> | undefined
}

/**
 * A stored token: its family, when it was spent (`None` while it can still be swapped), and, when it is the
 * family's last rotated token, the successor its rotation stored (sealed by `RefreshTokens`, opaque here).
 *
 * @since 0.1.0
 */
export interface FoundToken {
  readonly family: Family
  readonly spentAt: Option.Option<Date>
  /** @since 0.2.0 */
  readonly successor: Option.Option<string>
}

/**
 * What the purge removes: a backend's families started before `createdBefore` or idle since `lastUsedBefore`.
 *
 * @since 0.1.0
 */
export interface PurgeOptions {
  /** Backends may have lifetimes of their own: one purge covers one backend. */
  readonly backend: string
  readonly createdBefore: Date
  readonly lastUsedBefore: Date
  /** At most this many families in one call (a bounded batch). */
  readonly limit: number
  /** Also forgets the kept successors of the backend's families last rotated before this (their window is over). */
  readonly successorsBefore?: Date | undefined
}

/**
 * The operations on refresh-token families; every implementation passes `test/suites/RefreshTokenStoreSuite.ts`.
 *
 * @since 0.1.0
 */
export interface RefreshTokenStoreService {
  /** Starts a family with its first token's digest. */
  readonly create: (family: Family, digest: string) => Effect.Effect<void>
  /** The token with this digest, with its family; `None` when unknown or its family has ended. */
  readonly find: (digest: string) => Effect.Effect<Option.Option<FoundToken>>
  /**
   * In one step: spends `spent` if it is not spent yet, adds `next` to its family, sets the family's
   * `lastUsedAt` to `at` and keeps `successor` (at most 128 characters) as the one of `spent`, replacing the
   * previous rotation's (cleared when `successor` is absent). `false` (and no change) when `spent` was spent
   * already or is gone: of concurrent rotations of one token exactly one gets `true`.
   */
  readonly rotate: (
    familyId: string,
    spent: string,
    next: string,
    at: Date,
    successor?: string | undefined
  ) => Effect.Effect<boolean>
  /** Carries a family over to another session epoch (the user's own change through it); false if it is gone. */
  readonly setEpoch: (familyId: string, epoch: number) => Effect.Effect<boolean>
  /** Ends a family and all its tokens; with `userId`, only if the family is that user's. Whether one ended. */
  readonly revoke: (familyId: string, userId?: string | undefined) => Effect.Effect<boolean>
  /** Ends every family of a user; the number ended. */
  readonly revokeAllOf: (userId: string) => Effect.Effect<number>
  /** The user's families, oldest login first. */
  readonly listOf: (userId: string) => Effect.Effect<ReadonlyArray<Family>>
  /** Ends up to `limit` expired families (see `PurgeOptions`); the number ended. */
  readonly purgeExpired: (options: PurgeOptions) => Effect.Effect<number>
}

/**
 * The refresh-token storage of bearer backends with `refresh` on.
 *
 * @since 0.1.0
 */
export class RefreshTokenStore extends Context.Tag("effect-users/RefreshTokenStore")<
  RefreshTokenStore,
  RefreshTokenStoreService
>() {}

interface MemoryToken {
  readonly familyId: string
  spentAt: Date | undefined
}

/**
 * A store in the process's memory (tests, single-process apps); every operation is one synchronous step.
 *
 * @since 0.1.0
 */
export const makeMemory = (): RefreshTokenStoreService => {
  const families = new Map<string, Family>()
  const tokens = new Map<string, MemoryToken>()
  const digestsOf = new Map<string, Set<string>>()
  const rotations = new Map<string, { readonly spent: string; readonly successor: string }>()
  const end = (familyId: string) => {
    for (const digest of digestsOf.get(familyId) ?? []) tokens.delete(digest)
    digestsOf.delete(familyId)
    rotations.delete(familyId)
    return families.delete(familyId)
  }
  const endWhere = (predicate: (family: Family) => boolean, limit = Number.POSITIVE_INFINITY) => {
    let ended = 0
    for (const family of [...families.values()]) {
      if (ended >= limit) break
      if (predicate(family) && end(family.id)) ended++
    }
    return ended
  }
  return RefreshTokenStore.of({
    create: (family, digest) =>
      Effect.sync(() => {
        families.set(family.id, family)
        tokens.set(digest, { familyId: family.id, spentAt: undefined })
        digestsOf.set(family.id, new Set([digest]))
      }),
    find: (digest) =>
      Effect.sync(() => {
        const token = tokens.get(digest)
        const family = token === undefined ? undefined : families.get(token.familyId)
        if (token === undefined || family === undefined) return Option.none()
        const rotation = rotations.get(family.id)
        return Option.some({
          family,
          spentAt: Option.fromNullable(token.spentAt),
          successor: rotation?.spent === digest ? Option.some(rotation.successor) : Option.none()
        })
      }),
    rotate: (familyId, spent, next, at, successor) =>
      Effect.sync(() => {
        const token = tokens.get(spent)
        const family = families.get(familyId)
        if (token === undefined || family === undefined || token.familyId !== familyId || token.spentAt) return false
        token.spentAt = at
        tokens.set(next, { familyId, spentAt: undefined })
        digestsOf.get(familyId)?.add(next)
        families.set(familyId, { ...family, lastUsedAt: at })
        if (successor === undefined) rotations.delete(familyId)
        else rotations.set(familyId, { spent, successor })
        return true
      }),
    setEpoch: (familyId, epoch) =>
      Effect.sync(() => {
        const family = families.get(familyId)
        if (family === undefined) return false
        families.set(familyId, { ...family, epoch })
        return true
      }),
    revoke: (familyId, userId) =>
      Effect.sync(() => {
        const family = families.get(familyId)
        return family !== undefined && (userId === undefined || family.userId === userId) && end(familyId)
      }),
    revokeAllOf: (userId) => Effect.sync(() => endWhere((family) => family.userId === userId)),
    listOf: (userId) =>
      Effect.sync(() =>
        [...families.values()]
          .filter((family) => family.userId === userId)
          .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
      ),
    purgeExpired: ({ backend, createdBefore, lastUsedBefore, limit, successorsBefore }) =>
      Effect.sync(() => {
        for (const familyId of rotations.keys()) {
          const family = families.get(familyId)
          if (family?.backend === backend && family.lastUsedAt.getTime() < (successorsBefore?.getTime() ?? 0)) {
            rotations.delete(familyId)
          }
        }
        return endWhere(
          (family) =>
            family.backend === backend &&
            (family.createdAt.getTime() < createdBefore.getTime() ||
              family.lastUsedAt.getTime() < lastUsedBefore.getTime()),
          limit
        )
      })
  })
}

/**
 * The memory store, new for each build of the layer.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<RefreshTokenStore> = Layer.sync(RefreshTokenStore, makeMemory)

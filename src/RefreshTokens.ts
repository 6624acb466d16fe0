/**
 * Refresh tokens for a bearer backend: a login starts a family (a session) and answers a short-lived access
 * token with an opaque refresh token; `refresh` swaps a refresh token for a new pair and spends it. Presenting a
 * spent token ends its whole family and its access tokens (RFC 9700 §4.14.2: one of the thief and the client
 * will present a spent token), except the token just rotated, retried within the grace window: it gets the same
 * successor. Families die with their absolute lifetime, their idle lifetime and the user's session epoch.
 */

import { createHash, randomBytes } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { maxUserAgentLength } from "./AccessTokenStore.js"
import * as AuthEvents from "./AuthEvents.js"
import type { AuthStrategy } from "./AuthStrategy.js"
import * as TokenCipher from "./internal/tokenCipher.js"
import { type Family, type FoundToken, RefreshTokenStore, type RefreshTokenStoreService } from "./RefreshTokenStore.js"
import { type Listed, type Method, Sessions } from "./Sessions.js"
import type { BaseUser } from "./User.js"

/**
 * The lifetimes of a backend's refresh tokens.
 *
 * @since 0.1.0
 */
export interface RefreshOptions {
  /** How long a family lives after its login, however often it is rotated; default 30 days. */
  readonly lifetime?: Duration.DurationInput | undefined
  /** How long a family lives without a refresh; default 7 days. */
  readonly idleLifetime?: Duration.DurationInput | undefined
  /** How often the expired families are purged (in batches of 500) while the server runs; default 1 hour. */
  readonly purgeInterval?: Duration.DurationInput | undefined
  /**
   * How long the token just rotated may be presented again and get the same successor (a retry after a lost
   * response, two tabs refreshing at once) instead of ending the family; default 10 seconds, 0 turns it off.
   */
  readonly graceWindow?: Duration.DurationInput | undefined
}

/**
 * An unknown, expired, revoked or malformed refresh token, or one whose user has gone or moved their epoch.
 *
 * @since 0.1.0
 */
export class RefreshTokenInvalid extends Schema.TaggedError<RefreshTokenInvalid>()("RefreshTokenInvalid", {}) {}

/**
 * A refresh token that was spent already: its family has just been ended.
 *
 * @since 0.1.0
 */
export class RefreshTokenReused extends Schema.TaggedError<RefreshTokenReused>()("RefreshTokenReused", {}) {}

/**
 * What a login or a refresh answers.
 *
 * @since 0.1.0
 */
export interface TokenPair {
  readonly accessToken: string
  readonly refreshToken: string
  /** The family (the session) the pair belongs to. */
  readonly family?: string | undefined
}

/**
 * The session a login opens: the user's epoch read with their row, and what the app records of it.
 *
 * @since 0.1.0
 */
export interface LoginSession {
  readonly epoch: number
  readonly method?: Method | undefined
  readonly userAgent?: string | undefined
  /** How the login was proven (RFC 8176); every access token of the family carries it. @since 0.3.0 */
  readonly amr?: ReadonlyArray<string> | undefined
}

/**
 * A strategy that can back refresh tokens: its access tokens name their family, and end with it.
 *
 * @since 0.2.0
 */
export type FamilyStrategy = AuthStrategy & {
  readonly familyOf: NonNullable<AuthStrategy["familyOf"]>
  readonly endFamily: NonNullable<AuthStrategy["endFamily"]>
}

/**
 * The strategy as a `FamilyStrategy`, if its tokens name their family and end with it.
 *
 * @since 0.2.0
 */
export const familyStrategy = (strategy: AuthStrategy): Option.Option<FamilyStrategy> => {
  const { endFamily, familyOf } = strategy
  return familyOf === undefined || endFamily === undefined
    ? Option.none()
    : Option.some({ ...strategy, familyOf, endFamily })
}

/**
 * The backend whose access tokens the refresh tokens renew.
 *
 * @since 0.2.0
 */
export interface Backend {
  readonly name: string
  readonly strategy: FamilyStrategy
}

/**
 * A backend's refresh tokens.
 *
 * @since 0.1.0
 */
export interface RefreshTokensService {
  /** Starts a family for a login and issues its first pair. */
  readonly login: (user: BaseUser, session: LoginSession) => Effect.Effect<TokenPair>
  /** Swaps a refresh token for a new pair, spending it; of concurrent swaps of one token at most one succeeds. */
  readonly refresh: (token: string) => Effect.Effect<TokenPair, RefreshTokenInvalid | RefreshTokenReused>
  /** Ends the user's family (logout, the session list's delete) and its access tokens; whether one ended. */
  readonly end: (familyId: string, user: BaseUser) => Effect.Effect<boolean>
  /** The store, for listing and ending a user's families. */
  readonly store: RefreshTokenStoreService
  /** Ends expired families, `batchSize` at a time until none is left; the number ended. */
  readonly purgeExpired: (batchSize?: number | undefined) => Effect.Effect<number>
}

const asListed = (family: Family, current: boolean): Listed => ({
  id: family.id,
  createdAt: family.createdAt,
  lastUsedAt: family.lastUsedAt,
  backend: family.backend,
  userAgent: family.userAgent ?? null,
  method: family.method ?? null,
  amr: family.amr ?? null,
  current
})

/**
 * The backend's strategy with its refresh-token families: logout ends the family of the access token (its
 * `familyOf`), a change through a session carries its family to the new epoch, "log out everywhere" and a
 * deletion end every family of the user, and the families are sessions the user can list and end.
 *
 * @since 0.1.0
 */
export const withRefresh = (strategy: FamilyStrategy, refresh: RefreshTokensService): AuthStrategy => {
  const { familyOf } = strategy
  const { store } = refresh
  const ofToken = (token: string, f: (familyId: string) => Effect.Effect<unknown>) =>
    Effect.flatMap(familyOf(token), (family) => (Option.isNone(family) ? Effect.void : Effect.asVoid(f(family.value))))
  return {
    ...strategy,
    // The family is read before the token goes: a database token's row is what names it.
    destroy: (token, user) =>
      Effect.flatMap(familyOf(token), (family) =>
        Effect.zipRight(
          strategy.destroy(token, user),
          Option.isNone(family) ? Effect.void : refresh.end(family.value, user)
        )
      ),
    keep: (token, user, epoch) =>
      Effect.zipRight(
        strategy.keep?.(token, user, epoch) ?? Effect.void,
        ofToken(token, (id) => store.setEpoch(id, epoch))
      ),
    endAll: (user) => Effect.zipRight(strategy.endAll?.(user) ?? Effect.void, store.revokeAllOf(String(user.id))),
    sessions: {
      list: (user, current) =>
        Effect.gen(function* () {
          const own = strategy.sessions === undefined ? [] : yield* strategy.sessions.list(user, current)
          const currentFamily = Option.isNone(current) ? Option.none() : yield* familyOf(current.value)
          const families = yield* store.listOf(String(user.id))
          return [...own, ...families.map((family) => asListed(family, Option.contains(currentFamily, family.id)))]
        }),
      revoke: (user, id) =>
        Effect.flatMap(strategy.sessions?.revoke(user, id) ?? Effect.succeed(false), (ended) =>
          ended ? Effect.succeed(true) : refresh.end(id, user)
        )
    }
  }
}

// 32 random bytes in base64url: every other value is refused before a lookup.
const wellFormed = /^[A-Za-z0-9_-]{43}$/

// A refresh token carries 256 random bits, so an unsalted SHA-256 is enough to keep a leaked table useless.
const digest = (token: string) => createHash("sha256").update(token).digest("base64url")
const newToken = () => randomBytes(32).toString("base64url")

// The successor kept for the grace window is sealed under a key derived from the token it succeeds, which the
// store never holds: a read of the store gives nothing to whoever does not hold that token too.
const sealer = (token: string) => TokenCipher.make(Redacted.make(token), "effect-users:refresh-successor")
const seal = (token: string, successor: string) => sealer(token).encrypt(successor)
const unseal = (token: string, sealed: string) =>
  Option.liftThrowable(() => sealer(token).decrypt(sealed))().pipe(Option.filter((next) => wellFormed.test(next)))

/**
 * Builds a backend's refresh tokens over the `RefreshTokenStore` and `Sessions` in context, and purges its expired
 * families every `purgeInterval` until the scope closes (a failed purge is logged and tried again next time).
 *
 * @since 0.1.0
 */
export const make = (
  backend: Backend,
  options: RefreshOptions = {}
): Effect.Effect<RefreshTokensService, never, RefreshTokenStore | Sessions | Scope.Scope> =>
  Effect.tap(makeUnscheduled(backend, options), (service) =>
    service.purgeExpired().pipe(
      Effect.catchAllCause((cause) =>
        Effect.logWarning(`Purging the expired refresh tokens of backend ${backend.name} failed`, cause)
      ),
      Effect.delay(options.purgeInterval ?? "1 hour"),
      Effect.forever,
      Effect.forkScoped
    )
  )

const makeUnscheduled = (
  { name: backend, strategy }: Backend,
  options: RefreshOptions
): Effect.Effect<RefreshTokensService, never, RefreshTokenStore | Sessions> =>
  Effect.map(Effect.all([RefreshTokenStore, Sessions, AuthEvents.AuthEvents]), ([store, sessions, events]) => {
    const lifetime = Duration.toMillis(options.lifetime ?? "30 days")
    const idleLifetime = Duration.toMillis(options.idleLifetime ?? "7 days")
    const graceWindow = Duration.toMillis(options.graceWindow ?? "10 seconds")
    const invalid = new RefreshTokenInvalid()
    const reused = new RefreshTokenReused()
    const endThen = <E>(family: Family, error: E) => Effect.zipRight(store.revoke(family.id), Effect.fail(error))
    // Reuse ends the family whoever presents it, and every access token issued under it.
    const about = (family: Family) => (common: AuthEvents.Common) => ({
      ...common,
      userId: family.userId,
      sessionId: family.id,
      backend,
      ...(family.method === undefined ? {} : { method: family.method })
    })
    const endReused = (family: Family) =>
      Effect.gen(function* () {
        yield* store.revoke(family.id)
        yield* events.emit((common) => new AuthEvents.RefreshReuseDetected(about(family)(common)))
        const owner = yield* sessions.lookup(family.userId)
        if (Option.isSome(owner)) yield* strategy.endFamily(family.id, owner.value.user)
        return yield* reused
      })

    const pair = (user: BaseUser, family: Family, refreshToken: string) =>
      Effect.map(
        strategy.write(user, {
          epoch: family.epoch,
          backend,
          family: family.id,
          userAgent: family.userAgent,
          ...(family.method === undefined ? {} : { method: family.method as Method }),
          ...(family.amr === undefined ? {} : { amr: family.amr }),
          signedInAt: family.createdAt.getTime()
        }),
        (accessToken): TokenPair => ({ accessToken, refreshToken, family: family.id })
      )

    const login = (user: BaseUser, session: LoginSession) =>
      Effect.gen(function* () {
        const now = new Date(yield* Clock.currentTimeMillis)
        const family: Family = {
          id: randomBytes(16).toString("base64url"),
          userId: String(user.id),
          backend,
          epoch: session.epoch,
          createdAt: now,
          lastUsedAt: now,
          ...(session.userAgent === undefined ? {} : { userAgent: session.userAgent.slice(0, maxUserAgentLength) }),
          ...(session.method === undefined ? {} : { method: session.method }),
          ...(session.amr === undefined ? {} : { amr: session.amr })
        }
        const refreshToken = newToken()
        yield* store.create(family, digest(refreshToken))
        return yield* pair(user, family, refreshToken)
      })

    /** The family's user, if the family is alive (lifetimes, epoch, active user); ends it otherwise. */
    const ownerOf = (family: Family, now: number) =>
      Effect.gen(function* () {
        if (family.createdAt.getTime() + lifetime <= now || family.lastUsedAt.getTime() + idleLifetime <= now) {
          return yield* endThen(family, invalid)
        }
        const current = yield* sessions.lookup(family.userId)
        if (Option.isNone(current) || current.value.sessionEpoch !== family.epoch || !current.value.user.isActive) {
          return yield* endThen(family, invalid)
        }
        return current.value.user
      })

    /** A spent token: within the grace window, the token just rotated gets its successor again; else reuse. */
    const respent = (token: string, { family, spentAt, successor }: FoundToken) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const recent = Option.exists(spentAt, (at) => now - at.getTime() < graceWindow)
        const next = recent ? Option.flatMap(successor, (sealed) => unseal(token, sealed)) : Option.none()
        if (Option.isNone(next)) return yield* endReused(family)
        return yield* pair(yield* ownerOf(family, now), family, next.value)
      })

    const refresh = (token: string) =>
      Effect.gen(function* () {
        if (!wellFormed.test(token)) return yield* invalid
        const spent = digest(token)
        const found = yield* store.find(spent)
        // Another backend's token is not one of ours (its strategy issues its access tokens).
        if (Option.isNone(found) || found.value.family.backend !== backend) return yield* invalid
        if (Option.isSome(found.value.spentAt)) return yield* respent(token, found.value)
        const { family } = found.value
        const now = yield* Clock.currentTimeMillis
        const user = yield* ownerOf(family, now)
        const next = newToken()
        const sealed = graceWindow > 0 ? seal(token, next) : undefined
        if (yield* store.rotate(family.id, spent, digest(next), new Date(now), sealed)) {
          yield* events.emit((common) => new AuthEvents.RefreshRotated(about(family)(common)))
          return yield* pair(user, family, next)
        }
        // Lost the race for this token to a concurrent refresh: a retry if that one rotated it moments ago, reuse
        // otherwise (a token spent, or its family ended, between our two reads is a second use all the same).
        const after = yield* store.find(spent)
        return yield* Option.isSome(after) && Option.isSome(after.value.spentAt)
          ? respent(token, after.value)
          : endReused(family)
      })

    const purgeExpired = (batchSize = 500) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const cut = {
          backend,
          createdBefore: new Date(now - lifetime),
          lastUsedBefore: new Date(now - idleLifetime),
          // A successor outlives its window by a purge interval at most: bounded in time without a write per refresh.
          successorsBefore: new Date(now - graceWindow)
        }
        let total = 0
        while (true) {
          const ended = yield* store.purgeExpired({ ...cut, limit: batchSize })
          total += ended
          if (ended < batchSize) return total
        }
      })

    const span = (name: string) => Effect.withSpan(`RefreshTokens.${name}`, { attributes: { backend } })
    return {
      login: (user, session) => login(user, session).pipe(span("login")),
      refresh: (token) => refresh(token).pipe(span("refresh")),
      // Only a family of this user and backend (backends share the store): an ID of someone else's ends nothing.
      end: (familyId, user) =>
        Effect.gen(function* () {
          const families = yield* store.listOf(String(user.id))
          if (!families.some((family) => family.id === familyId && family.backend === backend)) return false
          if (!(yield* store.revoke(familyId, String(user.id)))) return false
          yield* strategy.endFamily(familyId, user)
          return true
        }).pipe(span("end")),
      store,
      purgeExpired: (batchSize) => purgeExpired(batchSize).pipe(span("purgeExpired"))
    }
  })

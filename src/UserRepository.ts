/**
 * The storage contract for users and their OAuth accounts, and an in-memory implementation for tests
 * and prototypes. `SqlUserRepository` implements the same contract over `@effect/sql`.
 *
 * Rules every implementation keeps (the conformance suite checks them): e-mails are stored as given and
 * compared by `emailKey` (NFC and full Unicode case folding; the domain by its IDNA name), two users never share an e-mail under that key
 * (even under concurrent writes: the loser gets `UserAlreadyExists`), a conditional update (`updateIf`)
 * checks and writes in one atomic step, one provider account (`oauthName`, `accountId`) is linked to at most
 * one user and once (the loser of a race gets `OAuthAccountAlreadyLinked`), deleting a user deletes its
 * OAuth accounts, and unlinking never leaves a user without a way to sign in (a password of their own or a link).
 *
 * A user has a password of their own unless `createWithOAuthAccount` made them (their password is random and
 * unknown to anyone); any write of `hashedPassword` (register, reset, change) gives them one.
 *
 * A deactivation (`deactivate`) keeps its detail (reason, `until`) until the user is active again: any write of
 * `isActive: true` clears it. A deactivation whose `until` has passed by the `Clock` has lifted: every read and
 * filter sees the user active, and the first read of the user after it clears the stored deactivation.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Layer from "effect/Layer"
import * as MutableHashMap from "effect/MutableHashMap"
import * as Option from "effect/Option"
import {
  type BaseUser,
  emailKey,
  type IdOf,
  type OAuthAccount,
  type OAuthAccountCreate,
  type User,
  type UserInsert,
  type UserPatch,
  type UserWithOAuth
} from "./User.js"
import {
  OAuthAccountAlreadyLinked,
  OAuthAccountNotFound,
  OAuthLastLoginMethod,
  type OAuthProfileRejected,
  UserAlreadyExists,
  UserNotExists
} from "./UserError.js"
import type * as UserModel from "./UserModel.js"

/**
 * The tokens of an OAuth account that a new login refreshes.
 *
 * @since 0.1.0
 */
export type OAuthAccountUpdate = Partial<Pick<OAuthAccount, "accessToken" | "expiresAt" | "refreshToken">>

/**
 * What a conditional update expects the stored user to hold, field by field (exact equality): the change
 * is written only if every field given still has this value when it is written.
 *
 * @since 0.1.0
 */
export type UserExpectation<U extends BaseUser = User> = Partial<
  Pick<U, "email" | "hashedPassword" | "isActive" | "isVerified">
>

/**
 * A user with their session state, read in the same lookup (one row): `sessionEpoch` moves on every change that
 * ends sessions (a token issued at another epoch is dead); `revokedUntil` (ms since 1970, 0 for none) is the
 * latest expiry of the user's denied JWTs, so that only while it is in the future does a JWT check ask the
 * deny-list.
 *
 * @since 0.2.0
 */
export interface UserWithSessions<U extends BaseUser = User> {
  readonly user: U
  readonly sessionEpoch: number
  readonly revokedUntil: number
}

/**
 * Why and until when a user is deactivated, as an admin set it (`UserManager.deactivate`); never shown to the user.
 * Both null for a user deactivated without them (`isActive: false` through an update).
 *
 * @since 0.2.0
 */
export interface Deactivation {
  readonly reason: string | null
  /** When the deactivation lifts itself; null for one that lasts until an admin activates the user. */
  readonly until: Date | null
}

/**
 * Which users a list or count covers; every filter given must match.
 *
 * @since 0.1.0
 */
export interface UserFilters {
  /** E-mails starting with this, compared by `emailKey` (any case); `%` and `_` are plain characters. */
  readonly emailPrefix?: string | undefined
  readonly isActive?: boolean | undefined
  readonly isVerified?: boolean | undefined
  readonly isSuperuser?: boolean | undefined
}

/**
 * A page of users: at most `limit` (default 50, at most 100) after skipping `offset`, in ID order.
 *
 * @since 0.1.0
 */
export interface ListOptions extends UserFilters {
  readonly limit?: number | undefined
  readonly offset?: number | undefined
}

/**
 * The page size of a list that gives none.
 *
 * @since 0.1.0
 */
export const defaultListLimit = 50
/**
 * The largest page a list returns, whatever it asks.
 *
 * @since 0.1.0
 */
export const maxListLimit = 100

/**
 * The page a list asks for, bounded: a whole `limit` in 1..100 (default 50), a whole `offset` from 0.
 *
 * @since 0.2.0
 */
export const pageOf = (options: ListOptions): { readonly limit: number; readonly offset: number } => {
  const whole = (value: number | undefined, fallback: number) =>
    value === undefined || !Number.isFinite(value) ? fallback : Math.floor(value)
  return {
    limit: Math.min(maxListLimit, Math.max(1, whole(options.limit, defaultListLimit))),
    offset: Math.max(0, whole(options.offset, 0))
  }
}

/**
 * Stores users and their OAuth accounts. Storage faults are defects; only a caller's mistakes are typed.
 *
 * @since 0.1.0
 */
export interface UserRepositoryService<U extends BaseUser = User> {
  /** The user with this ID, if any. */
  readonly get: (id: IdOf<U>) => Effect.Effect<Option.Option<U>>
  /** Finds the user whose e-mail has this one's `emailKey` (any case, any Unicode normal form). */
  readonly getByEmail: (email: string) => Effect.Effect<Option.Option<U>>
  /** The user with their session state, in one lookup (coalesced like `get`). FastAPI Users' rows read epoch 0. */
  readonly getWithEpoch: (id: IdOf<U>) => Effect.Effect<Option.Option<UserWithSessions<U>>>
  /** `getByEmail` with the session state, in one lookup (logins stamp the epoch read before the password check). */
  readonly getByEmailWithEpoch: (email: string) => Effect.Effect<Option.Option<UserWithSessions<U>>>
  /** The user who linked this provider account, with their OAuth accounts. */
  readonly getByOAuthAccount: (oauthName: string, accountId: string) => Effect.Effect<Option.Option<UserWithOAuth<U>>>
  /** Stores a new user; assigns the ID when `id` is absent. */
  readonly create: (user: UserInsert<U>) => Effect.Effect<U, UserAlreadyExists>
  /**
   * Stores a new user and its first OAuth account at once: both or neither. The user has no password of their own.
   * `OAuthProfileRejected` when the store refuses the model's fields (a NOT NULL or CHECK of the app's columns).
   */
  readonly createWithOAuthAccount: (
    user: UserInsert<U>,
    account: OAuthAccountCreate
  ) => Effect.Effect<UserWithOAuth<U>, UserAlreadyExists | OAuthAccountAlreadyLinked | OAuthProfileRejected>
  /** Applies the patch; `UserAlreadyExists` when a new e-mail is taken, `UserNotExists` when the user is gone. */
  readonly update: (user: U, patch: UserPatch<U>) => Effect.Effect<U, UserAlreadyExists | UserNotExists>
  /**
   * Applies the patch only if the stored user still matches `expected`, checked and written in one atomic
   * step (one `UPDATE ... WHERE` in SQL): of concurrent calls expecting one state, one wins. `None` when the
   * user is missing or no longer matches.
   */
  readonly updateIf: (
    user: U,
    patch: UserPatch<U>,
    expected: UserExpectation<U>
  ) => Effect.Effect<Option.Option<U>, UserAlreadyExists>
  /**
   * `updateIf` that also moves the session epoch by one in the same atomic step (every session of the user
   * ends with the change); the user and the new epoch, or `None` when the user is missing or no longer matches.
   * With an empty patch and expectation it only ends the sessions ("log out everywhere").
   */
  readonly updateEndingSessions: (
    user: U,
    patch: UserPatch<U>,
    expected: UserExpectation<U>
  ) => Effect.Effect<Option.Option<UserWithSessions<U>>, UserAlreadyExists>
  /**
   * Deactivates the user with this detail and moves the session epoch, in one atomic step (every session ends);
   * the user and the new epoch, or `None` when the user is missing.
   */
  readonly deactivate: (user: U, deactivation: Deactivation) => Effect.Effect<Option.Option<UserWithSessions<U>>>
  /** The deactivation of an inactive user (both fields null when none was recorded); `None` when active or missing. */
  readonly deactivationOf: (user: U) => Effect.Effect<Option.Option<Deactivation>>
  /** Raises `revokedUntil` to `until` (ms since 1970) if it is lower; a missing user is not an error. */
  readonly raiseRevokedUntil: (user: U, until: number) => Effect.Effect<void>
  /** A page of the users matching the filters, in ascending ID order (stable across pages). */
  readonly list: (options: ListOptions) => Effect.Effect<ReadonlyArray<U>>
  /** How many users match the filters. */
  readonly count: (filters: UserFilters) => Effect.Effect<number>
  /** Deletes the user and its OAuth accounts; deleting a missing user does nothing. */
  readonly delete: (user: U) => Effect.Effect<void>
  /** Links a provider account to the user; `OAuthAccountAlreadyLinked` if any user (this one too) has it. */
  readonly addOAuthAccount: (
    user: U,
    account: OAuthAccountCreate
  ) => Effect.Effect<UserWithOAuth<U>, UserNotExists | OAuthAccountAlreadyLinked>
  /** Updates a linked account's tokens and e-mail; `UserNotExists` when the user is gone. */
  readonly updateOAuthAccount: (
    user: U,
    account: OAuthAccount,
    patch: OAuthAccountUpdate
  ) => Effect.Effect<UserWithOAuth<U>, UserNotExists>
  /** The user's OAuth accounts, oldest link first; none for a missing user. */
  readonly oauthAccountsOf: (user: U) => Effect.Effect<ReadonlyArray<OAuthAccount>>
  /**
   * Whether the user has a password of their own (not the random one of an OAuth sign-up); false for a missing user.
   *
   * @since 0.3.0
   */
  readonly hasOwnPassword: (user: U) => Effect.Effect<boolean>
  /**
   * Unlinks one OAuth account of the user and returns it, checked and written in one atomic step: of concurrent
   * unlinks, none leaves the user without a password of their own and without a link (`OAuthLastLoginMethod`).
   * `OAuthAccountNotFound` when the user has no such link.
   */
  readonly removeOAuthAccount: (
    user: U,
    oauthName: string,
    accountId: string
  ) => Effect.Effect<OAuthAccount, UserNotExists | OAuthAccountNotFound | OAuthLastLoginMethod>
  /** Unlinks every OAuth account of the user (the address's owner proved it) and returns them. */
  readonly removeOAuthAccounts: (user: U) => Effect.Effect<ReadonlyArray<OAuthAccount>>
}

interface Stored<U extends BaseUser> {
  readonly user: U
  readonly oauthAccounts: ReadonlyArray<OAuthAccount>
  readonly sessionEpoch: number
  readonly revokedUntil: number
  /** Whether the user has a password of their own (not the random one of an OAuth sign-up). */
  readonly passwordSet: boolean
  /** The detail of an inactive user's deactivation, if one was recorded. */
  readonly deactivation: Deactivation | null
}

/**
 * Whether a stored deactivation has lifted by `now` (ms since 1970): the user is inactive and its `until` has passed.
 *
 * @since 0.2.0
 */
export const hasLapsed = (isActive: boolean, until: number | null, now: number): boolean =>
  !isActive && until !== null && until <= now

/**
 * The stored form of an OAuth account a provider reported: a fresh ID, absent tokens as null.
 *
 * @since 0.2.0
 */
export const newOAuthAccount = (account: OAuthAccountCreate): OAuthAccount => ({
  id: crypto.randomUUID(),
  oauthName: account.oauthName,
  accessToken: account.accessToken,
  expiresAt: account.expiresAt ?? null,
  refreshToken: account.refreshToken ?? null,
  accountId: account.accountId,
  accountEmail: account.accountEmail,
  createdAt: new Date()
})

/**
 * Builds an in-memory repository for any user model. IDs the caller does not give are assigned 1, 2, 3…
 *
 * @since 0.1.0
 */
export const makeMemory = <U extends BaseUser = User>(): UserRepositoryService<U> => {
  const users = MutableHashMap.empty<IdOf<U>, Stored<U>>()
  const idsByEmail = new Map<string, IdOf<U>>()
  let nextId = 1

  const withOAuth = ({ oauthAccounts, user }: Stored<U>): UserWithOAuth<U> => ({ ...user, oauthAccounts })
  const ownerOf = (email: string) => Option.fromNullable(idsByEmail.get(emailKey(email)))
  const linkedTo = (account: { readonly oauthName: string; readonly accountId: string }) => {
    for (const [, stored] of users) {
      if (stored.oauthAccounts.some((a) => a.oauthName === account.oauthName && a.accountId === account.accountId)) {
        return Option.some(stored)
      }
    }
    return Option.none<Stored<U>>()
  }
  const takenByOther = (email: string, id: IdOf<U>) =>
    Option.exists(ownerOf(email), (owner) => !Equal.equals(owner, id))

  // Each method checks and writes in one synchronous step, so concurrent fibers cannot interleave.
  const insert = (input: UserInsert<U>, accounts: ReadonlyArray<OAuthAccount>) =>
    Effect.suspend((): Effect.Effect<Stored<U>, UserAlreadyExists | OAuthAccountAlreadyLinked> => {
      if (Option.isSome(ownerOf(input.email))) return Effect.fail(new UserAlreadyExists())
      if (accounts.some((account) => Option.isSome(linkedTo(account))))
        return Effect.fail(new OAuthAccountAlreadyLinked())
      // Like a primary key: a taken ID is the caller's bug, not a conflict it can handle.
      if (input.id !== undefined && MutableHashMap.has(users, input.id)) {
        return Effect.dieMessage("UserRepository: a user with this ID already exists")
      }
      // The store assigns integer IDs: a model that lets it has integer IDs.
      const user = { ...input, id: input.id ?? nextId++ } as U
      const stored: Stored<U> = {
        user,
        oauthAccounts: accounts,
        sessionEpoch: 0,
        revokedUntil: 0,
        passwordSet: accounts.length === 0,
        deactivation: null
      }
      MutableHashMap.set(users, user.id, stored)
      idsByEmail.set(emailKey(user.email), user.id)
      return Effect.succeed(stored)
    })

  // A deactivation whose `until` has passed is cleared by the first step that reads the user after it.
  const lapsed = (stored: Stored<U>, now: number): Stored<U> => {
    if (!hasLapsed(stored.user.isActive, stored.deactivation?.until?.getTime() ?? null, now)) return stored
    const next = { ...stored, user: { ...stored.user, isActive: true }, deactivation: null }
    MutableHashMap.set(users, stored.user.id, next)
    return next
  }
  const storedNow = (id: IdOf<U>, now: number) =>
    Option.map(MutableHashMap.get(users, id), (stored) => lapsed(stored, now))
  /** Runs a synchronous step with the time read from the `Clock`. */
  const atNow = <A, E>(step: (now: number) => Effect.Effect<A, E>) => Effect.flatMap(Clock.currentTimeMillis, step)

  // Synchronous steps: the effects below run each one inside a single `Effect.suspend`, never split by a yield.
  const modifyNow = (id: IdOf<U>, f: (stored: Stored<U>) => Stored<U>): Stored<U> | UserNotExists => {
    const stored = MutableHashMap.get(users, id)
    if (Option.isNone(stored)) return new UserNotExists()
    const next = f(stored.value)
    MutableHashMap.set(users, id, next)
    idsByEmail.delete(emailKey(stored.value.user.email))
    idsByEmail.set(emailKey(next.user.email), id)
    return next
  }
  const updateNow = (
    user: U,
    patch: UserPatch<U>,
    endSessions = false
  ): Stored<U> | UserAlreadyExists | UserNotExists =>
    patch.email !== undefined && takenByOther(patch.email, user.id)
      ? new UserAlreadyExists()
      : modifyNow(user.id, (stored) => ({
          ...stored,
          user: { ...stored.user, ...patch },
          sessionEpoch: stored.sessionEpoch + (endSessions ? 1 : 0),
          passwordSet: stored.passwordSet || patch.hashedPassword !== undefined,
          deactivation: patch.isActive === true ? null : stored.deactivation
        }))
  const matches = (id: IdOf<U>, expected: UserExpectation<U>, now: number) =>
    Option.exists(storedNow(id, now), ({ user }) =>
      Object.entries(expected).every(
        ([field, value]) => value === undefined || (user as Record<string, unknown>)[field] === value
      )
    )
  const lift = <E>(result: Stored<U> | E): Effect.Effect<Stored<U>, E> =>
    result instanceof UserNotExists || result instanceof UserAlreadyExists
      ? Effect.fail(result as E)
      : Effect.succeed(result as Stored<U>)
  const modify = (id: IdOf<U>, f: (stored: Stored<U>) => Stored<U>) => Effect.suspend(() => lift(modifyNow(id, f)))
  const withSessions = ({ revokedUntil, sessionEpoch, user }: Stored<U>): UserWithSessions<U> => ({
    user,
    sessionEpoch,
    revokedUntil
  })

  const matching = (filters: UserFilters, now: number) => {
    const prefix = filters.emailPrefix === undefined ? undefined : emailKey(filters.emailPrefix)
    const found: Array<U> = []
    for (const [, stored] of users) {
      const { user } = lapsed(stored, now)
      if (prefix !== undefined && !emailKey(user.email).startsWith(prefix)) continue
      if (filters.isActive !== undefined && user.isActive !== filters.isActive) continue
      if (filters.isVerified !== undefined && user.isVerified !== filters.isVerified) continue
      if (filters.isSuperuser !== undefined && user.isSuperuser !== filters.isSuperuser) continue
      found.push(user)
    }
    return found
  }
  // IDs are numbers or strings (UUIDs compare as their lowercase text, as in SQL).
  const byId = (a: U, b: U) => ((a.id as number) < (b.id as number) ? -1 : a.id === b.id ? 0 : 1)

  return {
    get: (id) => atNow((now) => Effect.sync(() => Option.map(storedNow(id, now), ({ user }) => user))),
    getByEmail: (email) =>
      atNow((now) =>
        Effect.sync(() => Option.flatMap(ownerOf(email), (id) => Option.map(storedNow(id, now), ({ user }) => user)))
      ),
    getWithEpoch: (id) => atNow((now) => Effect.sync(() => Option.map(storedNow(id, now), withSessions))),
    getByEmailWithEpoch: (email) =>
      atNow((now) =>
        Effect.sync(() => Option.flatMap(ownerOf(email), (id) => Option.map(storedNow(id, now), withSessions)))
      ),
    getByOAuthAccount: (oauthName, accountId) =>
      atNow((now) =>
        Effect.sync(() => Option.map(linkedTo({ oauthName, accountId }), (stored) => withOAuth(lapsed(stored, now))))
      ),
    create: (input) => Effect.map(insert(input, []) as Effect.Effect<Stored<U>, UserAlreadyExists>, ({ user }) => user),
    createWithOAuthAccount: (input, account) => Effect.map(insert(input, [newOAuthAccount(account)]), withOAuth),
    update: (user, patch) => Effect.suspend(() => Effect.map(lift(updateNow(user, patch)), (stored) => stored.user)),
    updateIf: (user, patch, expected) =>
      atNow((now) => {
        if (!matches(user.id, expected, now)) return Effect.succeedNone
        const result = updateNow(user, patch)
        if (result instanceof UserAlreadyExists) return Effect.fail(result)
        return Effect.succeed(result instanceof UserNotExists ? Option.none() : Option.some(result.user))
      }),
    updateEndingSessions: (user, patch, expected) =>
      atNow((now) => {
        if (!matches(user.id, expected, now)) return Effect.succeedNone
        const result = updateNow(user, patch, true)
        if (result instanceof UserAlreadyExists) return Effect.fail(result)
        return Effect.succeed(result instanceof UserNotExists ? Option.none() : Option.some(withSessions(result)))
      }),
    deactivate: (user, deactivation) =>
      Effect.sync(() => {
        const result = modifyNow(user.id, (stored) => ({
          ...stored,
          user: { ...stored.user, isActive: false },
          sessionEpoch: stored.sessionEpoch + 1,
          deactivation
        }))
        return result instanceof UserNotExists ? Option.none() : Option.some(withSessions(result))
      }),
    deactivationOf: (user) =>
      atNow((now) =>
        Effect.sync(() =>
          Option.flatMap(storedNow(user.id, now), ({ deactivation, user }) =>
            user.isActive ? Option.none() : Option.some(deactivation ?? { reason: null, until: null })
          )
        )
      ),
    raiseRevokedUntil: (user, until) =>
      Effect.sync(() => {
        modifyNow(user.id, (stored) => ({ ...stored, revokedUntil: Math.max(stored.revokedUntil, until) }))
      }),
    list: (options) =>
      atNow((now) =>
        Effect.sync(() => {
          const { limit, offset } = pageOf(options)
          return matching(options, now)
            .sort(byId)
            .slice(offset, offset + limit)
        })
      ),
    count: (filters) => atNow((now) => Effect.sync(() => matching(filters, now).length)),
    delete: (user) =>
      Effect.sync(() => {
        const stored = MutableHashMap.get(users, user.id)
        if (Option.isNone(stored)) return
        MutableHashMap.remove(users, user.id)
        idsByEmail.delete(emailKey(stored.value.user.email))
      }),
    addOAuthAccount: (user, account) =>
      Effect.suspend(
        (): Effect.Effect<UserWithOAuth<U>, UserNotExists | OAuthAccountAlreadyLinked> =>
          Option.isSome(linkedTo(account))
            ? Effect.fail(new OAuthAccountAlreadyLinked())
            : Effect.map(
                modify(user.id, (stored) => ({
                  ...stored,
                  oauthAccounts: [...stored.oauthAccounts, newOAuthAccount(account)]
                })),
                withOAuth
              )
      ),
    updateOAuthAccount: (user, account, patch) =>
      Effect.map(
        modify(user.id, (stored) => ({
          ...stored,
          oauthAccounts: stored.oauthAccounts.map((existing) =>
            existing.id === account.id ? { ...existing, ...definedOnly(patch) } : existing
          )
        })),
        withOAuth
      ),
    oauthAccountsOf: (user) =>
      Effect.sync(() =>
        Option.match(MutableHashMap.get(users, user.id), {
          onNone: () => [],
          onSome: ({ oauthAccounts }) => oauthAccounts
        })
      ),
    hasOwnPassword: (user) =>
      Effect.sync(() =>
        Option.match(MutableHashMap.get(users, user.id), {
          onNone: () => false,
          onSome: (stored) => stored.passwordSet
        })
      ),
    removeOAuthAccount: (user, oauthName, accountId) =>
      Effect.suspend((): Effect.Effect<OAuthAccount, UserNotExists | OAuthAccountNotFound | OAuthLastLoginMethod> => {
        const stored = MutableHashMap.get(users, user.id)
        if (Option.isNone(stored)) return Effect.fail(new UserNotExists())
        const { oauthAccounts, passwordSet } = stored.value
        const target = oauthAccounts.find((a) => a.oauthName === oauthName && a.accountId === accountId)
        if (target === undefined) return Effect.fail(new OAuthAccountNotFound())
        if (!passwordSet && oauthAccounts.length <= 1) return Effect.fail(new OAuthLastLoginMethod())
        MutableHashMap.set(users, user.id, {
          ...stored.value,
          oauthAccounts: oauthAccounts.filter((a) => a !== target)
        })
        return Effect.succeed(target)
      }),
    removeOAuthAccounts: (user) =>
      Effect.sync(() => {
        const stored = MutableHashMap.get(users, user.id)
        if (Option.isNone(stored)) return []
        MutableHashMap.set(users, user.id, { ...stored.value, oauthAccounts: [] })
        return stored.value.oauthAccounts
      })
  }
}

const definedOnly = <A extends object>(patch: A): Partial<A> =>
  Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<A>

/**
 * The user store in use, typed for the default model; `forModel` types it for an app's own.
 *
 * @since 0.1.0
 */
export class UserRepository extends Context.Tag("effect-users/UserRepository")<
  UserRepository,
  UserRepositoryService<User>
>() {}

/**
 * The tag typed for an app's own user model: one store serves one model, whichever the app has.
 *
 * @since 0.1.0
 */
export const forModel = <M extends UserModel.Any>(
  _model: M
): Context.Tag<UserRepository, UserRepositoryService<UserModel.UserOf<M>>> =>
  UserRepository as unknown as Context.Tag<UserRepository, UserRepositoryService<UserModel.UserOf<M>>>

/**
 * A fresh in-memory store, for tests and prototypes; it stores any user model.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<UserRepository> = Layer.sync(UserRepository, () => makeMemory())

/**
 * The user manager: FastAPI Users' `BaseUserManager` as an Effect service.
 *
 * It is built from a `UserRepository`, a `UserManagerConfig` and the swappable parts (`IdParser`,
 * `PasswordValidator`, `PasswordHasher`, `TokenCodec`, `UserHooks`), each of which has a default.
 * With `Mail` in context it also writes its mails (verification, reset, notices) to the outbox, in the transaction
 * of the change that causes them.
 */

import { randomBytes } from "node:crypto"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as AuthEvents from "./AuthEvents.js"
import { IdParser } from "./IdParser.js"
import { HttpServerRequestTag } from "./internal/httpRequest.js"
import { Mail, type MailService } from "./Mail.js"
import { PasskeyStore } from "./PasskeyStore.js"
import { PasswordHasher } from "./PasswordHasher.js"
import { type PasswordOwner, PasswordValidator, type PasswordValidatorService } from "./PasswordValidator.js"
import { SecondFactor } from "./SecondFactor.js"
import * as Sessions from "./Sessions.js"
import { type SignOptions, TokenCodec } from "./TokenCodec.js"
import {
  type BaseUser,
  type ExtraFields,
  type IdOf,
  linkOf,
  normalizeEmail,
  type OAuthAccount,
  type OAuthAccountCreate,
  type OAuthLink,
  sameMailbox,
  type User,
  type UserCreate,
  type UserInsert,
  type UserPatch,
  type UserUpdate,
  type UserWithOAuth
} from "./User.js"
import {
  DeactivationUntilPast,
  InvalidCredentials,
  type InvalidID,
  type InvalidPassword,
  InvalidResetPasswordToken,
  InvalidVerifyToken,
  OAuthAccountAlreadyLinked,
  OAuthAccountNotFound,
  OAuthEmailNotVerified,
  type OAuthLastLoginMethod,
  type OAuthProfileRejected,
  UserAlreadyExists,
  UserAlreadyVerified,
  UserDeleteAborted,
  UserInactive,
  UserNotExists
} from "./UserError.js"
import {
  type HookRequest,
  hookNames,
  type OAuthUnlinkReason,
  type UserChanges,
  UserHooks,
  type UserHooksService
} from "./UserHooks.js"
import { UserManagerConfig } from "./UserManagerConfig.js"
import type * as UserModel from "./UserModel.js"
import {
  type Deactivation,
  type ListOptions,
  type UserFilters,
  UserRepository,
  type UserRepositoryService
} from "./UserRepository.js"

/**
 * Whether a create or update comes from the user (safe: the flags are ignored) or from an admin.
 *
 * @since 0.1.0
 */
export interface SafeOption {
  /** When true, `isActive`, `isSuperuser` and `isVerified` in the input are ignored. Default false. */
  readonly safe?: boolean | undefined
}

/**
 * How a create runs: safe or not, and how the user came (the `Registered` event's `method`).
 *
 * @since 0.3.0
 */
export interface CreateOptions extends SafeOption {
  /** How the user signed up, as the `Registered` event records it: `password` by default, `magic-link`... */
  readonly method?: string | undefined
}

/**
 * How an update runs: safe or not, and what happens to the session that asked for it.
 *
 * @since 0.2.0
 */
export interface UpdateOptions extends SafeOption {
  /**
   * Called with the user's new session epoch when the update ended their sessions (a new password or e-mail,
   * a deactivation), right after the write: the caller carries its own session over to it
   * (`AuthStrategy.keep`). Without it every session ends, the caller's included.
   */
  readonly keepSession?: ((epoch: number) => Effect.Effect<void>) | undefined
}

/**
 * How `oauthCallback` treats the provider's e-mail, and the model's fields of a user it creates.
 *
 * @since 0.1.0
 */
export interface OAuthCallbackOptions<U extends BaseUser = User> {
  /**
   * Whether the provider asserts that it verified `accountEmail` AND the app trusts that provider's word
   * (`OAuthProvider`'s `trustEmailVerified`). Default false: the login of an account not yet linked fails with
   * `OAuthEmailNotVerified`, since the address would be owned, or linked by e-mail, on nobody's proof.
   */
  readonly emailVerified?: boolean | undefined
  /**
   * Link the account to the user who has its e-mail instead of failing with `UserAlreadyExists`, but only when the
   * local user is verified too and it is the same mailbox. Default false.
   */
  readonly associateByEmail?: boolean | undefined
  /**
   * The model's own fields of a user the callback creates (the provider's profile through `mapProfile`), run only
   * when it creates one: it may refuse the profile with `OAuthProfileRejected`.
   */
  readonly fields?: Effect.Effect<Partial<ExtraFields<U>>, OAuthProfileRejected> | undefined
}

/**
 * The e-mail and password a user logs in with.
 *
 * @since 0.1.0
 */
export interface Credentials {
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * The manager's operations. Hooks see the HTTP request when the caller runs inside an HTTP handler.
 *
 * @since 0.1.0
 */
export interface UserManagerService<U extends BaseUser = User> {
  /** The user with this ID, or `UserNotExists`. */
  readonly get: (id: IdOf<U>) => Effect.Effect<U, UserNotExists>
  /** The user with this e-mail in any case, or `UserNotExists`. */
  readonly getByEmail: (email: string) => Effect.Effect<U, UserNotExists>
  /** The user linked to this OAuth account, or `UserNotExists`. */
  readonly getByOAuthAccount: (oauthName: string, accountId: string) => Effect.Effect<UserWithOAuth<U>, UserNotExists>
  /** A page of the users matching the filters, in ID order: `limit` (default 50, at most 100) after `offset`. */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<U>>
  /** How many users match the filters. */
  readonly count: (filters?: UserFilters) => Effect.Effect<number>
  /**
   * Validates the password, stores a user with its hash, then runs `onAfterRegister`. Unless `safe`, the
   * flags are applied: `create({ email, password, isSuperuser: true, isVerified: true })` makes a superuser.
   */
  readonly create: (
    input: UserCreate<U>,
    options?: CreateOptions
  ) => Effect.Effect<U, InvalidPassword | UserAlreadyExists>
  /** Makes a verification token and hands it to `onAfterRequestVerify`. */
  readonly requestVerify: (user: U) => Effect.Effect<void, UserInactive | UserAlreadyVerified>
  /** Marks the token's user verified, then runs `onAfterVerify`. */
  readonly verify: (token: string) => Effect.Effect<U, InvalidVerifyToken | UserAlreadyVerified>
  /**
   * Marks the user's address verified on a proof other than a verification token (a sign-in by e-mail link or code
   * sent to it), as `verify` does (`Verified`, links made before the proof end, `onAfterVerify`); a verified user is
   * returned as is.
   */
  readonly markVerified: (user: U) => Effect.Effect<U, UserNotExists>
  /** Makes a reset-password token and hands it to `onAfterForgotPassword`. */
  readonly forgotPassword: (user: U) => Effect.Effect<void, UserInactive>
  /**
   * `forgotPassword` for the user with this e-mail, as `POST /auth/forgot-password` runs it after its 202. For an
   * unknown e-mail or an inactive user it sends nothing but does the same work (a hash and a token, no hook), so
   * that the work after the answer says nothing about the address.
   */
  readonly forgotPasswordByEmail: (email: string) => Effect.Effect<void>
  /** `requestVerify` for the user with this e-mail, the same way (`POST /auth/request-verify-token`). */
  readonly requestVerifyByEmail: (email: string) => Effect.Effect<void>
  /** Sets a new password with a reset token (usable once), then runs `onAfterResetPassword`. */
  readonly resetPassword: (
    token: string,
    password: Redacted.Redacted<string>
  ) => Effect.Effect<U, InvalidResetPasswordToken | UserNotExists | UserInactive | InvalidPassword>
  /**
   * Applies the fields given, then runs `onAfterUpdate`. A new e-mail resets `isVerified`. A new password or
   * e-mail, or a deactivation, ends every session of the user in the same write (but the one `keepSession` keeps).
   */
  readonly update: (
    user: U,
    patch: UserUpdate<U>,
    options?: UpdateOptions
  ) => Effect.Effect<U, InvalidPassword | UserAlreadyExists | UserNotExists>
  /**
   * Deactivates the user with a reason and an optional end (`until`: they are active again once it has passed),
   * ending every session of theirs in the same write, then runs `onAfterUpdate` (`{ isActive: false }`). The
   * reason is for admins (`deactivationOf`), never shown to the user. `DeactivationUntilPast` when `until` is not
   * in the future.
   */
  readonly deactivate: (user: U, deactivation: Deactivation) => Effect.Effect<U, UserNotExists | DeactivationUntilPast>
  /** Makes the user active again (ends a deactivation before its `until`), then runs `onAfterUpdate`. */
  readonly activate: (user: U) => Effect.Effect<U, UserNotExists>
  /** Why and until when the user is deactivated; `None` when the user is active (a passed `until` included). */
  readonly deactivationOf: (user: U) => Effect.Effect<Option.Option<Deactivation>>
  /** Runs `onBeforeDelete`, deletes the user, then runs `onAfterDelete`. */
  readonly delete: (user: U) => Effect.Effect<void, UserDeleteAborted>
  /** The user these credentials belong to, active or not (callers decide), or `InvalidCredentials`. */
  readonly authenticate: (credentials: Credentials) => Effect.Effect<U, InvalidCredentials>
  /**
   * Checks a user's current password (re-authentication before a sensitive change): `InvalidCredentials` when
   * wrong, after the same hash work as a failed login. The one place wrong current passwords pass through.
   */
  readonly checkPassword: (user: U, password: Redacted.Redacted<string>) => Effect.Effect<void, InvalidCredentials>
  /**
   * Whether the user has a password of their own (set at registration, reset or change), not the random one of an
   * OAuth, passkey or e-mail-link sign-up: a step-up asks such a user for a recent sign-in instead.
   *
   * @since 0.3.0
   */
  readonly hasOwnPassword: (user: U) => Effect.Effect<boolean>
  /**
   * Logs in through an OAuth account: refreshes a known account; otherwise, only with a trusted verified e-mail
   * (`emailVerified`, else `OAuthEmailNotVerified`), links it by e-mail (see `associateByEmail`, then
   * `onAfterOAuthLink`) or registers a verified user with the model's `fields` (`OAuthProfileRejected` when the
   * store refuses them). Concurrent first logins of one account end with one user.
   */
  readonly oauthCallback: (
    account: OAuthAccountCreate,
    options?: OAuthCallbackOptions<U>
  ) => Effect.Effect<UserWithOAuth<U>, UserAlreadyExists | OAuthEmailNotVerified | OAuthProfileRejected>
  /**
   * Links an OAuth account to a logged-in user, then runs `onAfterOAuthLink` and `onAfterUpdate` with no changes.
   * An account the user already has gets its tokens refreshed (a replay adds no row, runs no link hook); one
   * linked to another user fails with `OAuthAccountAlreadyLinked`.
   */
  readonly oauthAssociateCallback: (
    user: U,
    account: OAuthAccountCreate
  ) => Effect.Effect<UserWithOAuth<U>, UserNotExists | OAuthAccountAlreadyLinked>
  /** The user's OAuth links, oldest first, without the provider's tokens. */
  readonly oauthLinks: (user: U) => Effect.Effect<ReadonlyArray<OAuthLink>>
  /**
   * Unlinks one OAuth account of the user, then runs `onAfterOAuthUnlink` (`unlinked`). `OAuthAccountNotFound` when
   * the user has no such link; `OAuthLastLoginMethod` when it is their last link and they have no password of
   * their own.
   */
  readonly oauthUnlink: (
    user: U,
    oauthName: string,
    accountId: string
  ) => Effect.Effect<void, OAuthAccountNotFound | OAuthLastLoginMethod>
  /** Checks a password against the `PasswordValidator`. */
  readonly validatePassword: (
    password: Redacted.Redacted<string>,
    user: PasswordOwner<U>
  ) => Effect.Effect<void, InvalidPassword>
  /** Parses an outside value into an ID with the `IdParser`. */
  readonly parseId: (value: unknown) => Effect.Effect<IdOf<U>, InvalidID>
  /** Runs `onAfterLogin`; `Login.start` calls it once per session it opens, with the response it built. */
  readonly onAfterLogin: (
    user: U,
    response: Option.Option<HttpServerResponse.HttpServerResponse>
  ) => Effect.Effect<void>
}

/**
 * The longest password `authenticate` hashes, in UTF-16 units: a longer one fails with `InvalidCredentials`
 * at once, before any lookup or hash, for known and unknown e-mails alike (no policy accepts one this long).
 *
 * @since 0.1.0
 */
export const maxLoginPasswordLength = 4096

const VerifyClaims = Schema.Struct({ sub: Schema.String, email: Schema.String })
/**
 * A reset token names the password hash it may replace (FastAPI Users' `password_fgpt`, a hash of the
 * stored hash) and, in ours, the e-mail it was sent to: a password change or an e-mail change spends it.
 * The e-mail is a claim of its own rather than folded into the fingerprint, so that FastAPI Users reads our
 * tokens and we read theirs (theirs carry no `email`, and are spent by a password change only).
 */
const ResetClaims = Schema.Struct({
  sub: Schema.String,
  password_fgpt: Schema.String,
  email: Schema.optional(Schema.String)
})

// Fields a caller may never set through create or update: the store and the manager own them.
const protectedFields = ["id", "hashedPassword", "oauthAccounts"] as const
const flagFields = ["isActive", "isSuperuser", "isVerified"] as const

const pick = (input: object, keys: ReadonlyArray<string>): object =>
  Object.fromEntries(Object.entries(input).filter(([key]) => keys.includes(key)))

const definedFields = (input: object, omit: ReadonlyArray<string>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(input).filter(([key, value]) => value !== undefined && !omit.includes(key)))

/** What a password rule sees of a stored user (or one about to be): every field but the ID and the hash. */
// The manager running a hook: it provides itself to every hook effect it runs, so that hooks built by
// `layerHooks` reach it without the layers depending on each other. It is the manager of whichever user model the
// app has; the hooks of that model read it typed by theirs.
class HookManager extends Context.Tag("effect-users/UserHooks/HookManager")<HookManager, unknown>() {}

type AnyHook = (...args: ReadonlyArray<unknown>) => Effect.Effect<void, unknown>

/** What `layerHooks`' function returns: the hooks, or an effect that builds them from the app's services. */
type HooksOf<U extends BaseUser, E, R> =
  | Partial<UserHooksService<U>>
  | Effect.Effect<Partial<UserHooksService<U>>, E, R>

const withManager = <U extends BaseUser, E, R>(
  make: (users: UserManagerService<U>) => HooksOf<U, E, R>,
  context: Context.Context<R>
): UserHooksService<U> => {
  // Built once per manager, on its first hook call (a failed build is tried again on the next call).
  const built = new WeakMap<object, Partial<UserHooksService<U>>>()
  const hooksOf = (users: UserManagerService<U>): Effect.Effect<Partial<UserHooksService<U>>, E> => {
    const hooks = built.get(users)
    if (hooks !== undefined) return Effect.succeed(hooks)
    const made = make(users)
    if (!Effect.isEffect(made)) {
      built.set(users, made)
      return Effect.succeed(made)
    }
    return Effect.map(Effect.provide(made, context), (hooks) => {
      if (!built.has(users)) built.set(users, hooks)
      return built.get(users)!
    })
  }
  const delegate =
    (name: keyof UserHooksService): AnyHook =>
    (...args) =>
      Effect.flatMap(Effect.serviceOption(HookManager), (users) => {
        if (Option.isNone(users)) return Effect.dieMessage(`UserHooks.${name} ran outside a UserManager`)
        return Effect.flatMap(hooksOf(users.value as UserManagerService<U>), (hooks) => {
          const hook = hooks[name] as AnyHook | undefined
          return hook === undefined ? Effect.void : hook(...args)
        })
      })
  return Object.fromEntries(hookNames.map((name) => [name, delegate(name)])) as unknown as UserHooksService<U>
}

const ownerOf = <U extends BaseUser>(user: object): PasswordOwner<U> =>
  Object.fromEntries(
    Object.entries(user).filter(([key]) => key !== "password" && !protectedFields.includes(key as never))
  ) as PasswordOwner<U>

/**
 * Builds the manager of the user type `U` (the default model's unless given) from the services in context.
 *
 * @since 0.2.0
 */
export const make = <U extends BaseUser = User>(): Effect.Effect<
  UserManagerService<U>,
  never,
  UserRepository | UserManagerConfig
> => Effect.gen(build<U>)

function* build<U extends BaseUser>() {
  // One store, one password policy and one set of hooks serve the app's model: read them typed by its users.
  const repository = yield* UserRepository as Context.Tag<UserRepository, UserRepositoryService<U>>
  // A deleted user's passkeys go with them (SQL stores also cascade from the users table).
  const passkeys = yield* Effect.serviceOption(PasskeyStore)
  const config = yield* UserManagerConfig
  const idParser = yield* IdParser
  const validator = (yield* PasswordValidator) as unknown as PasswordValidatorService<PasswordOwner<U>>
  const hasher = yield* PasswordHasher
  const codec = yield* TokenCodec
  const hooks = (yield* UserHooks) as unknown as UserHooksService<U>
  const events = yield* AuthEvents.AuthEvents
  const factors = yield* SecondFactor
  /** The password rule's view of a stored user: with whether they have a second factor (`nist`'s 8 instead of 15). */
  const ownerWithFactors = (user: BaseUser, owner: object) =>
    Effect.map(factors.hasFactor(String(user.id)), (secondFactor) => ({ ...ownerOf<U>(owner), secondFactor }))

  const mail = Option.getOrUndefined(yield* Effect.serviceOption(Mail))
  /** Writes a mail to the outbox when `Mail` is in context. */
  const sendMail = (send: (mail: MailService) => Effect.Effect<void>) => (mail === undefined ? Effect.void : send(mail))
  /** A change and the mails it causes, in one transaction of the outbox (as is without `Mail`). */
  const withMail = <A, E, R>(change: Effect.Effect<A, E, R>, mails: (a: A) => Effect.Effect<void>) =>
    mail === undefined ? change : mail.transaction(Effect.tap(change, mails))
  /** Emits an event about this user (with the common fields and the user's ID). */
  const emitFor = (user: BaseUser, make: (common: AuthEvents.Common) => AuthEvents.AuthEvent) =>
    events.emit((common) => make({ ...common, userId: String(user.id) }))

  // Unknown e-mails are checked against this hash, so that they cost what a wrong password costs.
  const dummyHash = yield* hasher.hash(Redacted.make(randomBytes(32).toString("base64url")))

  const verifyToken: SignOptions = {
    secret: config.verificationTokenSecret,
    audience: config.verificationTokenAudience,
    lifetime: config.verificationTokenLifetime
  }
  const resetToken: SignOptions = {
    secret: config.resetPasswordTokenSecret,
    audience: config.resetPasswordTokenAudience,
    lifetime: config.resetPasswordTokenLifetime
  }
  /** Verifies a token and decodes the claims the operation needs; any problem is an `InvalidToken` or a `ParseError`. */
  const decodeClaims = <A, I>(token: string, options: SignOptions, claims: Schema.Schema<A, I>) =>
    Effect.flatMap(codec.verify(token, options), Schema.decodeUnknown(claims))

  const currentRequest: Effect.Effect<HookRequest> = Effect.serviceOption(HttpServerRequestTag)
  // Set once the service exists, below: hooks run only after `make` has returned it.
  let self: UserManagerService<U> | undefined
  // Every hook runs with this manager in context, so hooks built by `layerHooks` can call it.
  const runHook = (hook: (request: HookRequest) => Effect.Effect<void, unknown>) =>
    Effect.flatMap(currentRequest, hook).pipe(Effect.provideService(HookManager, self!))

  // An after-hook follows a change that is already stored: its failure is logged, never turned into the
  // operation's failure (a client told "registration failed" would retry into UserAlreadyExists).
  const runAfterHook = (name: string, user: BaseUser, hook: (request: HookRequest) => Effect.Effect<void, unknown>) =>
    runHook(hook).pipe(
      Effect.catchAllCause((cause) =>
        Effect.logError(`UserHooks.${name} failed; the operation it followed stands`, cause).pipe(
          Effect.annotateLogs({ hook: name, userId: String(user.id) })
        )
      ),
      Effect.withSpan(`UserHooks.${name}`)
    )

  const someOrNotExists = <A>(found: Option.Option<A>) =>
    Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail(new UserNotExists())

  // Lookups sit on every authenticated request and carry no span of their own: a span costs about as many
  // runtime steps as the rest of the lookup, and @effect/sql's `sql.execute` span already shows the query.
  const get = (id: IdOf<U>) => Effect.flatMap(repository.get(id), someOrNotExists)
  const getByEmail = (email: string) => Effect.flatMap(repository.getByEmail(email), someOrNotExists)
  const getByOAuthAccount = (oauthName: string, accountId: string) =>
    Effect.flatMap(repository.getByOAuthAccount(oauthName, accountId), someOrNotExists)

  const newId = Option.match(idParser.generate, {
    onNone: () => Effect.succeed({}),
    onSome: (generate) => Effect.map(generate, (id) => ({ id }))
  })

  const create = Effect.fn("UserManager.create")(function* (input: UserCreate<U>, options?: CreateOptions) {
    const email = normalizeEmail(input.email)
    yield* validator.validate(input.password, ownerOf({ ...input, email }))
    if (Option.isSome(yield* repository.getByEmail(email))) return yield* new UserAlreadyExists()
    const fields = {
      ...definedFields(input, ["password", ...protectedFields, ...(options?.safe ? flagFields : [])]),
      email
    }
    const hashedPassword = yield* hasher.hash(input.password)
    const id = yield* newId
    // The verification mail commits with the user: both or neither.
    const user = yield* withMail(
      repository.create({
        isActive: true,
        isSuperuser: false,
        isVerified: false,
        ...fields,
        ...id,
        hashedPassword
      } as UserInsert<U>),
      (user) =>
        mail?.verifyOnRegister === true && !user.isVerified && user.isActive
          ? Effect.flatMap(verifyTokenOf(String(user.id), user.email), (token) => mail.verification(user, token))
          : Effect.void
    )
    yield* emitFor(user, (common) => new AuthEvents.Registered({ ...common, method: options?.method ?? "password" }))
    yield* runAfterHook("onAfterRegister", user, (request) => hooks.onAfterRegister(user, request))
    return user
  })

  const verifyTokenOf = (subject: string, email: string) => codec.sign({ sub: subject, email }, verifyToken)

  const requestVerify = Effect.fn("UserManager.requestVerify")(function* (user: U) {
    if (!user.isActive) return yield* new UserInactive()
    if (user.isVerified) return yield* new UserAlreadyVerified()
    const token = yield* verifyTokenOf(String(user.id), user.email)
    yield* sendMail((mail) => mail.verification(user, token))
    yield* runAfterHook("onAfterRequestVerify", user, (request) => hooks.onAfterRequestVerify(user, token, request))
  })

  const runUnlinkHook = (user: U, links: ReadonlyArray<OAuthLink>, reason: OAuthUnlinkReason) =>
    Effect.forEach(
      links,
      (link) =>
        emitFor(
          user,
          (common) =>
            new AuthEvents.OAuthUnlinked({ ...common, provider: link.oauthName, accountId: link.accountId, reason })
        ),
      { discard: true }
    ).pipe(
      Effect.zipRight(
        runAfterHook("onAfterOAuthUnlink", user, (request) => hooks.onAfterOAuthUnlink(user, links, reason, request))
      )
    )

  // The owner of the user's address just proved it (verify, or a reset while it was unverified): OAuth accounts
  // linked before, while nobody had, may be someone else's (a pre-hijacked account) and end.
  const endUnprovenLinks = Effect.fnUntraced(function* (user: U) {
    const ended = yield* repository.removeOAuthAccounts(user)
    if (ended.length > 0) yield* runUnlinkHook(user, ended.map(linkOf), "emailProven")
  })

  // The mail routes' work after their 202: the same for an address that gets mail and one that does not (unknown,
  // inactive, already verified), but the hook, as a login's dummy verify does for an unknown e-mail.
  const requestVerifyByEmail = Effect.fn("UserManager.requestVerifyByEmail")(function* (email: string) {
    const found = yield* repository.getByEmail(email)
    if (Option.isSome(found) && found.value.isActive && !found.value.isVerified) {
      return yield* Effect.ignore(requestVerify(found.value))
    }
    yield* verifyTokenOf("", email)
    yield* sendMail((mail) => mail.decoy)
  })

  const verify = Effect.fn("UserManager.verify")(function* (token: string) {
    const invalid = () => new InvalidVerifyToken()
    const claims = yield* Effect.mapError(decodeClaims(token, verifyToken, VerifyClaims), invalid)
    const user = yield* Effect.flatMap(repository.getByEmail(claims.email), Effect.mapError(invalid))
    const id = yield* Effect.mapError(idParser.parse(claims.sub), invalid)
    if (!Equal.equals(id, user.id)) return yield* invalid()
    if (user.isVerified) return yield* new UserAlreadyVerified()
    // Conditional on the e-mail the token names, still unverified, in one write: of concurrent verifies one
    // wins, and a verify racing an e-mail change never marks the new, unproven address verified.
    const written = yield* repository
      .updateIf(user, { isVerified: true } as UserPatch<U>, { email: user.email, isVerified: false })
      .pipe(
        Effect.catchTag("UserAlreadyExists", () =>
          Effect.dieMessage("UserRepository.updateIf reported a taken e-mail on a verify")
        )
      )
    if (Option.isNone(written)) {
      const now = yield* repository.getByEmail(claims.email)
      const sameUser = Option.exists(now, (current) => Equal.equals(current.id, user.id))
      return yield* sameUser && Option.exists(now, (current) => current.isVerified)
        ? Effect.fail(new UserAlreadyVerified())
        : Effect.fail(invalid())
    }
    return yield* afterVerified(written.value)
  })

  const afterVerified = Effect.fnUntraced(function* (verified: U) {
    yield* emitFor(verified, (common) => new AuthEvents.Verified(common))
    yield* endUnprovenLinks(verified)
    yield* runAfterHook("onAfterVerify", verified, (request) => hooks.onAfterVerify(verified, request))
    return verified
  })

  const markVerified = Effect.fn("UserManager.markVerified")(function* (user: U) {
    if (user.isVerified) return user
    const written = yield* repository
      .updateIf(user, { isVerified: true } as UserPatch<U>, { email: user.email, isVerified: false })
      .pipe(
        Effect.catchTag("UserAlreadyExists", () =>
          Effect.dieMessage("UserRepository.updateIf reported a taken e-mail on a verify")
        )
      )
    // Verified meanwhile, or the address changed: the user as stored now.
    if (Option.isNone(written)) return yield* get(user.id)
    return yield* afterVerified(written.value)
  })

  // The token carries a hash of the current password hash: once the password changes, the token is spent.
  const resetTokenOf = (subject: string, hashedPassword: string, email: string) =>
    Effect.flatMap(hasher.hash(Redacted.make(hashedPassword)), (fingerprint) =>
      codec.sign({ sub: subject, password_fgpt: fingerprint, email }, resetToken)
    )

  const forgotPassword = Effect.fn("UserManager.forgotPassword")(function* (user: U) {
    if (!user.isActive) return yield* new UserInactive()
    const token = yield* resetTokenOf(String(user.id), user.hashedPassword, user.email)
    yield* sendMail((mail) => mail.reset(user, token))
    yield* emitFor(user, (common) => new AuthEvents.ResetRequested(common))
    yield* runAfterHook("onAfterForgotPassword", user, (request) => hooks.onAfterForgotPassword(user, token, request))
  })

  const forgotPasswordByEmail = Effect.fn("UserManager.forgotPasswordByEmail")(function* (email: string) {
    const found = yield* repository.getByEmail(email)
    if (Option.isSome(found) && found.value.isActive) return yield* Effect.ignore(forgotPassword(found.value))
    // A fingerprint of a hash like a stored one (the dummy's): an argon2 run, as for a known address.
    yield* resetTokenOf("", dummyHash, email)
    yield* sendMail((mail) => mail.decoy)
  })

  /** Validates, checks the e-mail, hashes and stores a patch; returns the user and what changed. */
  const applyUpdate = Effect.fnUntraced(function* (user: U, patch: UserUpdate<U>, options: UpdateOptions) {
    const safe = options.safe ?? false
    const stored: Record<string, unknown> = definedFields(patch, [
      "password",
      "email",
      ...protectedFields,
      ...flagFields
    ])
    const email = patch.email === undefined ? undefined : normalizeEmail(patch.email)
    const { password } = patch
    if (password !== undefined && password !== null) {
      // The rule sees the user as it will be stored: the patch applied, the new e-mail, flags only if unsafe.
      const flags = safe ? {} : definedFields(pick(patch, flagFields), [])
      yield* validator.validate(
        password,
        yield* ownerWithFactors(user, { ...user, ...stored, ...flags, email: email ?? user.email })
      )
    }
    if (email !== undefined && email !== user.email) {
      const owner = yield* repository.getByEmail(email)
      if (Option.isSome(owner) && !Equal.equals(owner.value.id, user.id)) return yield* new UserAlreadyExists()
      // A new address has not been proven to belong to the user.
      stored.email = email
      stored.isVerified = false
    }
    if (!safe) Object.assign(stored, definedFields(pick(patch, flagFields), []))
    const changes: Record<string, unknown> = { ...stored }
    if (password !== undefined && password !== null) {
      stored.hashedPassword = yield* hasher.hash(password)
      changes.passwordChanged = true
    }
    // A new password or address, or a deactivation, ends every session in the same write.
    const endsSessions = changes.passwordChanged === true || stored.email !== undefined || stored.isActive === false
    const row = stored as UserPatch<U>
    // The notices (to the old address for a new one) commit with the change.
    const notices = (updated: U) =>
      sendMail((mail) =>
        Effect.zipRight(
          changes.passwordChanged === true ? mail.passwordChanged(updated) : Effect.void,
          stored.email !== undefined ? mail.emailChanged(updated, user.email) : Effect.void
        )
      )
    let updated: U
    if (endsSessions) {
      const written = yield* withMail(
        Effect.flatMap(repository.updateEndingSessions(user, row, {}), someOrNotExists),
        (written) => notices(written.user)
      )
      if (options.keepSession !== undefined) yield* options.keepSession(written.sessionEpoch)
      updated = written.user
    } else {
      updated = Object.keys(stored).length === 0 ? user : yield* repository.update(user, row)
    }
    return { updated, changes: changes as UserChanges<U> }
  })

  const resetPassword = Effect.fn("UserManager.resetPassword")(function* (
    token: string,
    password: Redacted.Redacted<string>
  ) {
    const invalid = () => new InvalidResetPasswordToken()
    const claims = yield* Effect.mapError(decodeClaims(token, resetToken, ResetClaims), invalid)
    const id = yield* Effect.mapError(idParser.parse(claims.sub), invalid)
    const user = yield* get(id)
    if (!(yield* hasher.verify(Redacted.make(user.hashedPassword), claims.password_fgpt))) return yield* invalid()
    if (claims.email !== undefined && claims.email !== user.email) return yield* invalid()
    if (!user.isActive) return yield* new UserInactive()
    yield* validator.validate(password, yield* ownerWithFactors(user, user))
    const hashedPassword = yield* hasher.hash(password)
    // Written only over the hash and e-mail the token was checked against, in one statement: of concurrent
    // resets with one token exactly one wins, and a change that lands meanwhile spends the token.
    // The session epoch moves in the same statement: every session of the user ends with the reset.
    const written = yield* withMail(
      repository
        .updateEndingSessions(user, { hashedPassword } as UserPatch<U>, {
          hashedPassword: user.hashedPassword,
          email: user.email,
          isActive: true
        })
        .pipe(
          Effect.catchTag("UserAlreadyExists", () =>
            Effect.dieMessage("UserRepository.updateIf reported a taken e-mail on a password reset")
          )
        ),
      (written) => (Option.isSome(written) ? sendMail((mail) => mail.passwordChanged(written.value.user)) : Effect.void)
    )
    if (Option.isNone(written)) return yield* invalid()
    const updated = written.value.user
    yield* emitFor(updated, (common) => new AuthEvents.PasswordReset(common))
    // The reset token reached the mailbox: an unverified address has now been proven by its owner.
    if (!user.isVerified) yield* endUnprovenLinks(updated)
    yield* runAfterHook("onAfterResetPassword", updated, (request) => hooks.onAfterResetPassword(updated, request))
    return updated
  })

  // A user's own change says what changed; an admin's (an unsafe update) names the fields it set.
  const emitUpdate = (user: U, changes: UserChanges<U>, safe: boolean) => {
    const fields = Object.keys(changes).map((key) => (key === "passwordChanged" ? "password" : key))
    if (fields.length === 0) return Effect.void
    if (!safe) return emitFor(user, (common) => new AuthEvents.UserUpdatedByAdmin({ ...common, fields }))
    return Effect.zipRight(
      changes.passwordChanged === true
        ? emitFor(user, (common) => new AuthEvents.PasswordChanged(common))
        : Effect.void,
      "email" in changes ? emitFor(user, (common) => new AuthEvents.EmailChanged(common)) : Effect.void
    )
  }

  const update = Effect.fn("UserManager.update")(function* (user: U, patch: UserUpdate<U>, options?: UpdateOptions) {
    const { changes, updated } = yield* applyUpdate(user, patch, options ?? {})
    yield* emitUpdate(updated, changes, options?.safe ?? false)
    yield* runAfterHook("onAfterUpdate", updated, (request) => hooks.onAfterUpdate(updated, changes, request))
    return updated
  })

  const deactivate = Effect.fn("UserManager.deactivate")(function* (user: U, deactivation: Deactivation) {
    const { until } = deactivation
    if (until !== null && until.getTime() <= (yield* Clock.currentTimeMillis)) {
      return yield* new DeactivationUntilPast()
    }
    const { user: updated } = yield* Effect.flatMap(repository.deactivate(user, deactivation), someOrNotExists)
    yield* emitFor(
      updated,
      (common) =>
        new AuthEvents.UserDeactivated({ ...common, reason: deactivation.reason, until: until?.getTime() ?? null })
    )
    const changes = { isActive: false } as UserChanges<U>
    yield* runAfterHook("onAfterUpdate", updated, (request) => hooks.onAfterUpdate(updated, changes, request))
    return updated
  })

  const activate = Effect.fn("UserManager.activate")(function* (user: U) {
    const patch = { isActive: true } as UserPatch<U>
    const updated = yield* repository
      .update(user, patch)
      .pipe(
        Effect.catchTag("UserAlreadyExists", () => Effect.dieMessage("UserRepository.update: e-mail taken by isActive"))
      )
    yield* emitFor(updated, (common) => new AuthEvents.UserActivated(common))
    const changes = patch as UserChanges<U>
    yield* runAfterHook("onAfterUpdate", updated, (request) => hooks.onAfterUpdate(updated, changes, request))
    return updated
  })

  const deleteUser = Effect.fn("UserManager.delete")(function* (user: U) {
    yield* runHook((request) => hooks.onBeforeDelete(user, request)).pipe(
      Effect.catchAllCause((cause) => Effect.fail(new UserDeleteAborted({ cause })))
    )
    yield* repository.delete(user)
    // Their second factors go with them (PostgreSQL's foreign keys cascade too; SQLite's and memory's do not).
    yield* factors.reset(String(user.id))

    if (Option.isSome(passkeys)) yield* passkeys.value.removeAllOf(String(user.id))
    yield* emitFor(user, (common) => new AuthEvents.UserDeleted(common))
    yield* runAfterHook("onAfterDelete", user, (request) => hooks.onAfterDelete(user, request))
  })

  const authenticate = Effect.fn("UserManager.authenticate")(function* ({ password, username }: Credentials) {
    if (Redacted.value(password).length > maxLoginPasswordLength) return yield* new InvalidCredentials()
    const found = yield* repository.getByEmail(username)
    if (Option.isNone(found)) {
      yield* hasher.verify(password, dummyHash)
      return yield* new InvalidCredentials()
    }
    const user = found.value
    if (!(yield* hasher.verify(password, user.hashedPassword))) return yield* new InvalidCredentials()
    if (!hasher.needsRehash(user.hashedPassword)) return user
    const hashedPassword = yield* hasher.hash(password)
    return yield* repository.update(user, { hashedPassword } as UserPatch<U>).pipe(Effect.orElseSucceed(() => user))
  })

  const checkPassword = Effect.fn("UserManager.checkPassword")(function* (
    user: U,
    password: Redacted.Redacted<string>
  ) {
    // Too long to be anyone's: the same dummy hash work as a failed login, so timing says nothing either way.
    const tooLong = Redacted.value(password).length > maxLoginPasswordLength
    const valid = yield* hasher.verify(
      tooLong ? Redacted.make("") : password,
      tooLong ? dummyHash : user.hashedPassword
    )
    if (tooLong || !valid) return yield* new InvalidCredentials()
  })

  const refreshTokens = (user: UserWithOAuth<U>, account: OAuthAccountCreate) => {
    const existing = user.oauthAccounts.find(
      (candidate: OAuthAccount) =>
        candidate.oauthName === account.oauthName && candidate.accountId === account.accountId
    )!
    return repository
      .updateOAuthAccount(user, existing, {
        accessToken: account.accessToken,
        expiresAt: account.expiresAt ?? null,
        refreshToken: account.refreshToken ?? null
      })
      .pipe(Effect.orElseSucceed(() => user))
  }

  const runLinkHook = (user: U, account: OAuthAccountCreate) =>
    Effect.flatMap(repository.oauthAccountsOf(user), (accounts) => {
      const linked = accounts.find((a) => a.oauthName === account.oauthName && a.accountId === account.accountId)
      return linked === undefined
        ? Effect.void
        : emitFor(
            user,
            (common) =>
              new AuthEvents.OAuthLinked({ ...common, provider: linked.oauthName, accountId: linked.accountId })
          ).pipe(
            Effect.zipRight(
              runAfterHook("onAfterOAuthLink", user, (request) => hooks.onAfterOAuthLink(user, linkOf(linked), request))
            )
          )
    })

  const linkedNotice = (user: U, account: OAuthAccountCreate) =>
    sendMail((mail) => mail.signInMethod(user, `a ${account.oauthName} account`, true))

  const linkOrRegister = Effect.fnUntraced(function* (account: OAuthAccountCreate, options?: OAuthCallbackOptions<U>) {
    const linked = yield* repository.getByOAuthAccount(account.oauthName, account.accountId)
    if (Option.isSome(linked)) return yield* refreshTokens(linked.value, account)
    // An address the provider did not verify, or whose verification this app does not trust for the provider, is
    // anyone's claim: owning it here would lock its owner out and hand the account to the claimant (pre-hijack).
    if (options?.emailVerified !== true) return yield* new OAuthEmailNotVerified()
    const owner = yield* repository.getByEmail(account.accountEmail)
    if (Option.isSome(owner)) {
      if (!options.associateByEmail) return yield* new UserAlreadyExists()
      // Linking by e-mail hands the local account to whoever controls the provider account: only when both
      // sides proved they own the address, and it is the same mailbox, not merely the same key (`straße@` and
      // `strasse@` are one key, which refuses a lookalike registration, but may be two people's mailboxes).
      if (!owner.value.isVerified || !sameMailbox(owner.value.email, account.accountEmail)) {
        return yield* new UserAlreadyExists()
      }
      const joined = yield* withMail(
        repository
          .addOAuthAccount(owner.value, account)
          .pipe(Effect.catchTag("UserNotExists", () => new UserAlreadyExists())),
        (joined) => linkedNotice(joined, account)
      )
      yield* runLinkHook(joined, account)
      return joined
    }
    // OAuth users never log in with a password: theirs is random and unknown to anyone. The provider proved the
    // address, and the app trusts it to: the user starts verified.
    const hashedPassword = yield* hasher.hash(Redacted.make(randomBytes(32).toString("base64url")))
    const user = yield* repository.createWithOAuthAccount(
      {
        ...definedFields(options.fields === undefined ? {} : yield* options.fields, [
          ...protectedFields,
          ...flagFields,
          "email",
          "password"
        ]),
        ...(yield* newId),
        email: normalizeEmail(account.accountEmail),
        hashedPassword,
        isActive: true,
        isSuperuser: false,
        isVerified: true
      } as UserInsert<U>,
      account
    )
    yield* emitFor(user, (common) => new AuthEvents.Registered({ ...common, method: `oauth:${account.oauthName}` }))
    yield* runAfterHook("onAfterRegister", user, (request) => hooks.onAfterRegister(user, request))
    return user
  })

  const oauthCallback = Effect.fn("UserManager.oauthCallback")(function* (
    account: OAuthAccountCreate,
    options?: OAuthCallbackOptions<U>
  ) {
    // A concurrent first login of the same account won the race (the unique index, or the e-mail it
    // registered): log in as the user it linked.
    const afterRace = <E>(error: E) =>
      Effect.flatMap(repository.getByOAuthAccount(account.oauthName, account.accountId), (linked) =>
        Option.isSome(linked) ? refreshTokens(linked.value, account) : Effect.fail(error)
      )
    return yield* linkOrRegister(account, options).pipe(
      Effect.catchTags({
        OAuthAccountAlreadyLinked: () => afterRace(new UserAlreadyExists()),
        UserAlreadyExists: (error) => afterRace(error)
      })
    )
  })

  const oauthAssociateCallback = Effect.fn("UserManager.oauthAssociateCallback")(function* (
    user: U,
    account: OAuthAccountCreate
  ) {
    const linked = yield* repository.getByOAuthAccount(account.oauthName, account.accountId)
    if (Option.isSome(linked) && !Equal.equals(linked.value.id, user.id)) return yield* new OAuthAccountAlreadyLinked()
    const updated = Option.isSome(linked)
      ? yield* refreshTokens(linked.value, account)
      : yield* withMail(repository.addOAuthAccount(user, account), (joined) => linkedNotice(joined, account)).pipe(
          Effect.catchTag("OAuthAccountAlreadyLinked", (error) =>
            Effect.flatMap(repository.getByOAuthAccount(account.oauthName, account.accountId), (now) =>
              Option.isSome(now) && Equal.equals(now.value.id, user.id) ? Effect.succeed(now.value) : Effect.fail(error)
            )
          )
        )
    if (Option.isNone(linked)) yield* runLinkHook(updated, account)
    yield* runAfterHook("onAfterUpdate", updated, (request) => hooks.onAfterUpdate(updated, {}, request))
    return updated
  })

  const oauthUnlink = Effect.fn("UserManager.oauthUnlink")(function* (user: U, oauthName: string, accountId: string) {
    const removed = yield* repository
      .removeOAuthAccount(user, oauthName, accountId)
      .pipe(Effect.catchTag("UserNotExists", () => new OAuthAccountNotFound()))
    yield* runUnlinkHook(user, [linkOf(removed)], "unlinked")
  })

  self = {
    get: (id) => get(id).pipe(Effect.withSpan("UserManager.get")),
    getByEmail: (email) => getByEmail(email).pipe(Effect.withSpan("UserManager.getByEmail")),
    getByOAuthAccount: (oauth, accountId) =>
      getByOAuthAccount(oauth, accountId).pipe(Effect.withSpan("UserManager.getByOAuthAccount")),
    list: Effect.fn("UserManager.list")((options?: ListOptions) => repository.list(options ?? {})),
    count: Effect.fn("UserManager.count")((filters?: UserFilters) => repository.count(filters ?? {})),
    create,
    requestVerify,
    requestVerifyByEmail,
    verify,
    markVerified,
    forgotPassword,
    forgotPasswordByEmail,
    resetPassword,
    update,
    deactivate,
    activate,
    deactivationOf: (user) => repository.deactivationOf(user),
    delete: deleteUser,
    authenticate,
    checkPassword,
    hasOwnPassword: (user) => repository.hasOwnPassword(user),
    oauthCallback,
    oauthAssociateCallback,
    oauthLinks: (user) =>
      Effect.map(repository.oauthAccountsOf(user), (accounts) => accounts.map(linkOf)).pipe(
        Effect.withSpan("UserManager.oauthLinks")
      ),
    oauthUnlink,
    validatePassword: (password, user) =>
      validator.validate(password, user).pipe(Effect.withSpan("UserManager.validatePassword")),
    // The app's `IdParser` parses its model's IDs.
    parseId: (value) => idParser.parse(value) as Effect.Effect<IdOf<U>, InvalidID>,
    onAfterLogin: (user, response) =>
      runAfterHook("onAfterLogin", user, (request) => hooks.onAfterLogin(user, request, response)).pipe(
        Effect.withSpan("UserManager.onAfterLogin")
      )
  }
  return self
}

/**
 * The user manager, typed for the default model; `forModel` types it for an app's own.
 *
 * @since 0.1.0
 */
export class UserManager extends Context.Tag("effect-users/UserManager")<UserManager, UserManagerService<User>>() {}

/**
 * The manager over the `UserRepository` and `UserManagerConfig` in context, with every other part defaulted,
 * and the `Sessions` of the same repository.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<UserManager | Sessions.Sessions, never, UserRepository | UserManagerConfig> =
  Layer.merge(Layer.effect(UserManager, make()), Sessions.layer)

/**
 * The tag typed for an app's own user model: the manager serves whichever model its repository stores.
 *
 * @since 0.1.0
 */
export const forModel = <M extends UserModel.Any>(
  _model: M
): Context.Tag<UserManager, UserManagerService<UserModel.UserOf<M>>> =>
  UserManager as unknown as Context.Tag<UserManager, UserManagerService<UserModel.UserOf<M>>>

/**
 * Hooks that use the manager running them, e.g. to send the verification e-mail on registration:
 * `UserManager.layerHooks((users) => ({ onAfterRegister: (user) => users.requestVerify(user) }))`. `make` runs
 * once per manager, on its first hook call; the hooks it leaves out stay no-ops.
 *
 * Hooks that use the app's own services (a mailer) return an effect that reads them:
 * `UserManager.layerHooks((users) => Effect.map(Mailer, (mailer) => ({ ... })))`. The layer carries the effect's
 * requirements; a failure of the effect fails the hook call that ran it (logged as that hook's failure), and the
 * next hook call tries again.
 *
 * @since 0.2.0
 */
export const layerHooks = <U extends BaseUser = User, E = never, R = never>(
  make: (users: UserManagerService<U>) => HooksOf<U, E, R>
): Layer.Layer<UserHooks, never, R> =>
  Layer.effect(
    UserHooks,
    // The tag holds the hooks of whichever model the app has; the manager of that model runs them typed by its users.
    Effect.map(Effect.context<R>(), (context) => withManager(make, context) as unknown as UserHooksService)
  )

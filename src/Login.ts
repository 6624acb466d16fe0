/**
 * Login: the one step that turns a user who proved who they are into a session on a backend, whatever the
 * method (a password, an OAuth provider, a refresh token; later a second factor, a passkey, an e-mail link).
 *
 * `start` checks the user as stored now (active, verified when required, the password unchanged since the
 * proof), reads their session epoch with that row, opens the session through the backend's strategy (and a
 * refresh-token family when the backend has refresh tokens), issues a device token when `DeviceTokens` is in
 * context (so that the client's later password attempts are throttled per device, see `Throttle`), and runs
 * `onAfterLogin`. Its outcome is a tagged union: `LoggedIn`, or `SecondFactorRequired` when the user has a second
 * factor (`SecondFactor`) and the first one is not complete on its own. Then no session is opened: the outcome
 * carries an `mfa_token` (opaque, single use, bound to the user, the backend and the first factor, short-lived,
 * dead after too many wrong proofs) that `pending` and `finish` redeem with a proof of one of the user's factors.
 * The session then records both factors (`amr`, RFC 8176), and its method stays the first factor's. A refresh
 * continues a session and never asks again.
 *
 * @since 0.2.0
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as AuthEvents from "./AuthEvents.js"
import type { AuthStrategy } from "./AuthStrategy.js"
import * as DeviceTokens from "./DeviceTokens.js"
import type { RefreshTokenInvalid, RefreshTokenReused, RefreshTokensService } from "./RefreshTokens.js"
import { combinedAmr, MfaBadCode, MfaTokenInvalid, type Proof, SecondFactor } from "./SecondFactor.js"
import type { Challenge } from "./SecondFactorStore.js"
import { type Client, type Method, Sessions } from "./Sessions.js"
import { shownEmail } from "./Throttle.js"
import type { User } from "./User.js"
import { InvalidCredentials, UserInactive, UserNotVerified } from "./UserError.js"
import { UserManager } from "./UserManager.js"

/**
 * A backend as a login sees it: its name, its strategy, and its refresh tokens when it has them on.
 *
 * @since 0.2.0
 */
export interface Backend {
  readonly name: string
  readonly strategy: AuthStrategy
  readonly refresh?: RefreshTokensService | undefined
}

/**
 * The tokens a login or a refresh issues: an access token, and a refresh token on backends that have them.
 *
 * @since 0.2.0
 */
export interface Tokens {
  readonly accessToken: string
  readonly refreshToken: Option.Option<string>
  /** The device token of a login (not of a refresh), when `DeviceTokens` is in context. */
  readonly device?: DeviceTokens.Issued | undefined
  /** The refresh-token family a login started, on backends with refresh tokens. */
  readonly family?: string | undefined
}

/**
 * A user who proved who they are, and where and how they log in.
 *
 * @since 0.2.0
 */
export interface Attempt {
  /** The user as the proof found them (`UserManager.authenticate`, `oauthCallback`, ...). */
  readonly user: User
  /** The backend (by name) that opens the session. */
  readonly backend: string
  readonly method: Method
  /** What the request knows about the client. */
  readonly client?: Client | undefined
  /** The device of a valid device token the client presented for this user (`DeviceTokens.verify`): kept. */
  readonly device?: string | undefined
  /** The response that carries the tokens, for `onAfterLogin` (FastAPI Users' hooks see it); none without HTTP. */
  readonly respond?: ((tokens: Tokens) => HttpServerResponse.HttpServerResponse) | undefined
  /**
   * How the proof was made (RFC 8176 `amr`); default by method: `["pwd"]` for a password, `["oauth"]` for a
   * provider.
   *
   * @since 0.3.0
   */
  readonly amr?: ReadonlyArray<string> | undefined
  /**
   * The proof is complete on its own (a passkey with user verification): no second step is asked for.
   *
   * @since 0.3.0
   */
  readonly complete?: boolean | undefined
}

/**
 * The `amr` values (RFC 8176) of a first factor by its method: `pwd` for a password, `oauth` for a provider,
 * `hwk` and `user` for a passkey (a key's proof of possession, with the user verified by the authenticator), `otp`
 * for a sign-in by e-mail link or code. RFC 8176 has no value for a mailbox: its secret is a one-time password sent
 * out of band (`otp`; `sms` would name a phone), and the session's `method` (`magic-link`, `email-code`) says which.
 *
 * @since 0.3.0
 */
export const amrOf = (method: Method): ReadonlyArray<string> =>
  method === "password"
    ? ["pwd"]
    : method === "passkey"
      ? ["hwk", "user"]
      : method === "magic-link" || method === "email-code"
        ? ["otp"]
        : method.startsWith("oauth:")
          ? ["oauth"]
          : []

/**
 * A login waiting for its second step, found by its `mfa_token` (`pending`): the user as stored now.
 *
 * @since 0.3.0
 */
export interface Pending {
  readonly user: User
  readonly challenge: Challenge
  /** The digest of the `mfa_token`, which names the pending login in the store. */
  readonly digest: string
}

/**
 * The second step of a login: the pending login, a proof of a factor, and what the first step had too.
 *
 * @since 0.3.0
 */
export interface SecondStep {
  readonly pending: Pending
  readonly proof: Proof
  readonly client?: Client | undefined
  /** The response that carries the tokens, as `Attempt.respond`. */
  readonly respond?: ((tokens: Tokens) => HttpServerResponse.HttpServerResponse) | undefined
}

/**
 * How a login ended: a session (`LoggedIn`), or a second step to take first (`SecondFactorRequired`).
 *
 * @since 0.2.0
 */
export type Outcome = Data.TaggedEnum<{
  /** A session is open: its tokens, and the response `respond` built from them. */
  LoggedIn: {
    readonly user: User
    readonly tokens: Tokens
    readonly response: Option.Option<HttpServerResponse.HttpServerResponse>
  }
  /**
   * No session yet: the user has a second factor. `mfaToken` finishes the login with a proof of one of `methods`.
   *
   * @since 0.3.0
   */
  SecondFactorRequired: {
    readonly user: User
    readonly mfaToken: string
    readonly methods: ReadonlyArray<string>
  }
}>

/**
 * Constructors and matchers of `Outcome`.
 *
 * @since 0.2.0
 */
export const Outcome = Data.taggedEnum<Outcome>()

/**
 * Why a proven user gets no session: inactive, unverified where verification is required, or their password
 * changed after the proof was checked (a reset landing while a login's password was being hashed).
 *
 * @since 0.2.0
 */
export type Refused = UserInactive | UserNotVerified | InvalidCredentials

/**
 * A login that failed before `start` (a wrong password, an inactive user, a throttled attempt), as the method
 * reports it to `failed`.
 *
 * @since 0.2.0
 */
export interface Failure {
  readonly backend: string
  readonly method: Method
  readonly reason: typeof AuthEvents.LoginFailureReason.Type
  /** The username as given (recorded as `Throttle.shownEmail` shows it). */
  readonly username?: string | undefined
  /** The user, when the proof found one (an inactive user's right password). */
  readonly userId?: string | undefined
  readonly client?: Client | undefined
}

/**
 * Opens sessions.
 *
 * @since 0.2.0
 */
export interface LoginService {
  /** The backends sessions open on, in the order they were given. */
  readonly backends: ReadonlyArray<Backend>
  /** Opens a session for a proven user on a backend (see the module's description). */
  readonly start: (attempt: Attempt) => Effect.Effect<Outcome, Refused>
  /** Records a login that failed before `start` (`LoginFailed`); `start`'s own refusals are recorded by it. */
  readonly failed: (failure: Failure) => Effect.Effect<void>
  /**
   * Continues a session: swaps a refresh token of the backend for new tokens (`RefreshTokens.refresh`); the
   * session keeps the method it was started with.
   */
  readonly refresh: (
    backend: string,
    refreshToken: string
  ) => Effect.Effect<Tokens, RefreshTokenInvalid | RefreshTokenReused>
  /**
   * The pending login of an `mfa_token` issued on this backend: `MfaTokenInvalid` when it is unknown, expired,
   * spent, dead, of another backend, or its user is gone or ended their sessions since.
   *
   * @since 0.3.0
   */
  readonly pending: (backend: string, mfaToken: string) => Effect.Effect<Pending, MfaTokenInvalid>
  /**
   * The second step: checks the proof (spending it), spends the pending login and opens the session with both
   * factors. A wrong proof fails with `MfaBadCode` and counts on the pending login (which dies at its maximum);
   * `MfaTokenInvalid` when a concurrent step spent it first.
   *
   * @since 0.3.0
   */
  readonly finish: (step: SecondStep) => Effect.Effect<Outcome, MfaBadCode | MfaTokenInvalid | Refused>
}

/**
 * Opens sessions.
 *
 * @since 0.2.0
 */
export class Login extends Context.Tag("effect-users/Login")<Login, LoginService>() {}

/**
 * Options of `make`.
 *
 * @since 0.2.0
 */
export interface Options {
  readonly backends: ReadonlyArray<Backend>
  /** Refuse unverified users (FastAPI Users' `requires_verification`); default false. */
  readonly requiresVerification?: boolean | undefined
}

/**
 * Builds the login over these backends, with the `UserManager` (for `onAfterLogin`) and `Sessions` in context.
 *
 * @since 0.2.0
 */
export const make = (options: Options): Effect.Effect<LoginService, never, UserManager | Sessions> =>
  Effect.gen(function* () {
    const users = yield* UserManager
    const sessions = yield* Sessions
    const devices = yield* Effect.serviceOption(DeviceTokens.DeviceTokens)
    const events = yield* AuthEvents.AuthEvents
    const factors = yield* SecondFactor
    const clientFields = (client: Client | undefined) => ({
      ...(client?.address === undefined ? {} : { address: client.address }),
      ...(client?.userAgent === undefined ? {} : { userAgent: client.userAgent })
    })
    const failed = (failure: Failure) =>
      events.emit(
        (common) =>
          new AuthEvents.LoginFailed({
            ...common,
            ...clientFields(failure.client),
            backend: failure.backend,
            method: failure.method,
            reason: failure.reason,
            ...(failure.username === undefined ? {} : { email: shownEmail(failure.username) }),
            ...(failure.userId === undefined ? {} : { userId: failure.userId })
          })
      )
    const requiresVerification = options.requiresVerification ?? false
    const byName = new Map(options.backends.map((backend) => [backend.name, backend]))
    const backendNamed = (name: string) =>
      Effect.suspend(() => {
        const backend = byName.get(name)
        return backend === undefined ? Effect.dieMessage(`Login: no backend named ${name}`) : Effect.succeed(backend)
      })

    const refusedWith = (attempt: Attempt) => (error: Refused) =>
      failed({
        backend: attempt.backend,
        method: attempt.method,
        reason:
          error._tag === "UserInactive"
            ? "inactive"
            : error._tag === "UserNotVerified"
              ? "unverified"
              : "badCredentials",
        username: attempt.user.email,
        userId: String(attempt.user.id),
        client: attempt.client
      })

    const open = Effect.fnUntraced(function* (attempt: Attempt, secondStep: boolean) {
      const backend = yield* backendNamed(attempt.backend)
      // The row as it is now, with its epoch: a password changed since the proof was checked refuses the login,
      // and a change landing after this read ends the session it opens (its epoch is already past).
      const found = yield* sessions.lookup(String(attempt.user.id))
      if (Option.isNone(found)) return yield* new InvalidCredentials()
      const { sessionEpoch: epoch, user } = found.value
      if (user.hashedPassword !== attempt.user.hashedPassword) return yield* new InvalidCredentials()
      if (!user.isActive) return yield* new UserInactive()
      if (requiresVerification && !user.isVerified) return yield* new UserNotVerified()
      const amr = attempt.amr ?? amrOf(attempt.method)
      if (!secondStep && attempt.complete !== true && factors.enabled) {
        const methods = yield* factors.methodsOf(String(user.id))
        if (methods.length > 0) {
          const mfaToken = yield* factors.issue({
            userId: String(user.id),
            backend: backend.name,
            method: attempt.method,
            amr,
            epoch,
            ...(attempt.device === undefined ? {} : { device: attempt.device })
          })
          return Outcome.SecondFactorRequired({ user, mfaToken, methods })
        }
      }
      const userAgent = attempt.client?.userAgent
      const device = Option.isSome(devices) ? yield* devices.value.issue(user.email, attempt.device) : undefined
      const opened: Tokens =
        backend.refresh === undefined
          ? {
              accessToken: yield* backend.strategy.write(user, {
                epoch,
                backend: backend.name,
                method: attempt.method,
                userAgent,
                amr
              }),
              refreshToken: Option.none()
            }
          : yield* Effect.map(
              backend.refresh.login(user, { epoch, method: attempt.method, userAgent, amr }),
              (pair): Tokens => ({
                accessToken: pair.accessToken,
                refreshToken: Option.some(pair.refreshToken),
                family: pair.family
              })
            )
      const tokens: Tokens = device === undefined ? opened : { ...opened, device }
      yield* events.emit(
        (common) =>
          new AuthEvents.LoginSucceeded({
            ...common,
            ...clientFields(attempt.client),
            userId: String(user.id),
            backend: backend.name,
            method: attempt.method,
            ...(opened.family === undefined ? {} : { sessionId: opened.family })
          })
      )
      const response = Option.fromNullable(attempt.respond?.(tokens))
      yield* users.onAfterLogin(user, response)
      return Outcome.LoggedIn({ user, tokens, response })
    })

    const start = (attempt: Attempt) =>
      open(attempt, false).pipe(Effect.tapError(refusedWith(attempt)), Effect.withSpan("Login.start"))

    const pending = (name: string, mfaToken: string) =>
      Effect.gen(function* () {
        const found = yield* factors.pending(mfaToken)
        if (Option.isNone(found) || found.value.challenge.backend !== name) return yield* new MfaTokenInvalid()
        const { challenge, digest } = found.value
        const owner = yield* sessions.lookup(challenge.userId)
        // Sessions ended since the first step (a new password, a reset, log out everywhere) end the login too.
        if (Option.isNone(owner) || owner.value.sessionEpoch !== challenge.epoch) return yield* new MfaTokenInvalid()
        return { user: owner.value.user, challenge, digest }
      }).pipe(Effect.withSpan("Login.pending"))

    const finish = ({ client, pending, proof, respond }: SecondStep) =>
      Effect.gen(function* () {
        const { challenge, digest, user } = pending
        const userId = String(user.id)
        const proven = yield* factors.verify(userId, proof, { challenge: digest })
        if (Option.isNone(proven)) {
          const alive = yield* factors.fail(digest)
          yield* events.emit(
            (common) =>
              new AuthEvents.SecondFactorFailed({
                ...common,
                ...clientFields(client),
                userId,
                backend: challenge.backend,
                method: challenge.method,
                factor: proof.method,
                tokenEnded: !alive
              })
          )
          return yield* new MfaBadCode()
        }
        if (!(yield* factors.spend(digest))) return yield* new MfaTokenInvalid()
        yield* events.emit(
          (common) =>
            new AuthEvents.SecondFactorVerified({
              ...common,
              ...clientFields(client),
              userId,
              backend: challenge.backend,
              method: challenge.method,
              factor: proof.method
            })
        )
        const attempt: Attempt = {
          user,
          backend: challenge.backend,
          // Written by `start` from an `Attempt`'s method.
          method: challenge.method as Method,
          client,
          device: challenge.device,
          respond,
          amr: combinedAmr(challenge.amr, proven.value)
        }
        return yield* open(attempt, true).pipe(Effect.tapError(refusedWith(attempt)))
      }).pipe(Effect.withSpan("Login.finish", { attributes: { method: proof.method } }))

    const refresh = (name: string, refreshToken: string) =>
      Effect.flatMap(backendNamed(name), (backend) =>
        backend.refresh === undefined
          ? Effect.dieMessage(`Login: backend ${name} has no refresh tokens`)
          : Effect.map(
              backend.refresh.refresh(refreshToken),
              (pair): Tokens => ({ accessToken: pair.accessToken, refreshToken: Option.some(pair.refreshToken) })
            )
      ).pipe(Effect.withSpan("Login.refresh"))

    return Login.of({ backends: options.backends, start, failed, refresh, pending, finish })
  })

/**
 * The login over these backends.
 *
 * @since 0.2.0
 */
export const layer = (options: Options): Layer.Layer<Login, never, UserManager | Sessions> =>
  Layer.effect(Login, make(options))

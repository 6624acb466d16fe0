/**
 * Security events: one typed union of what happens to accounts and sessions (a login, a logout, a new password,
 * a replayed refresh token, a lockout, ...), emitted by the modules that cause them (`UserManager`, `Login`,
 * `RefreshTokens`, `Throttle`, the HTTP routes) and written to every sink the app provides.
 *
 * An event carries when it happened, whose account it concerns when that is known, the session or refresh-token
 * family, the method and backend of a login, and the client's address and user agent when an HTTP request is in
 * scope; never a password, token, code or hash.
 *
 * Emitting never slows a request: events go into a bounded queue (full: the event is dropped, counted and logged,
 * and the request goes on) that a background fiber empties in batches into the sinks. Sinks are registered the
 * way `HttpLayerRouter` registers routes: each `layerSink(sink)` is a layer that needs `AuthEvents` and adds its
 * sink to it, so an app merges as many as it has and provides `AuthEvents.layer()` under them once.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"

const common = {
  /** When it happened. */
  at: Schema.DateFromSelf,
  /** The account it concerns, when known. */
  userId: Schema.optional(Schema.String),
  /** The session (a refresh-token family, or a listed session's public ID), when known. */
  sessionId: Schema.optional(Schema.String),
  /** How the sign-in was made (`password`, `oauth:<provider>`, `refresh`). */
  method: Schema.optional(Schema.String),
  /** The login backend. */
  backend: Schema.optional(Schema.String),
  /** The client's address as the app's trusted proxies name it (an IPv6 client by its /64). */
  address: Schema.optional(Schema.String),
  userAgent: Schema.optional(Schema.String),
  /** Who did it, when someone other than the account's user did (an admin). */
  actorId: Schema.optional(Schema.String)
}

/** @since 0.2.0 */
export class Registered extends Schema.TaggedClass<Registered>()("Registered", common) {}
/** @since 0.2.0 */
export class LoginSucceeded extends Schema.TaggedClass<LoginSucceeded>()("LoginSucceeded", common) {}
/**
 * Why a login failed.
 *
 * @since 0.2.0
 */
export const LoginFailureReason = Schema.Literal("badCredentials", "inactive", "unverified", "throttled")
/** @since 0.2.0 */
export class LoginFailed extends Schema.TaggedClass<LoginFailed>()("LoginFailed", {
  ...common,
  reason: LoginFailureReason,
  /** The username as `Throttle.shownEmail` shows it (never a password typed in the wrong field). */
  email: Schema.optional(Schema.String)
}) {}
/** @since 0.2.0 */
export class LoggedOut extends Schema.TaggedClass<LoggedOut>()("LoggedOut", common) {}
/** @since 0.2.0 */
export class LoggedOutEverywhere extends Schema.TaggedClass<LoggedOutEverywhere>()("LoggedOutEverywhere", common) {}
/** @since 0.2.0 */
export class SessionRevoked extends Schema.TaggedClass<SessionRevoked>()("SessionRevoked", common) {}
/** @since 0.2.0 */
export class RefreshRotated extends Schema.TaggedClass<RefreshRotated>()("RefreshRotated", common) {}
/** A spent refresh token was presented again: its family (`sessionId`) has ended. @since 0.2.0 */
export class RefreshReuseDetected extends Schema.TaggedClass<RefreshReuseDetected>()("RefreshReuseDetected", common) {}
/** @since 0.2.0 */
export class PasswordChanged extends Schema.TaggedClass<PasswordChanged>()("PasswordChanged", common) {}
/** @since 0.2.0 */
export class PasswordReset extends Schema.TaggedClass<PasswordReset>()("PasswordReset", common) {}
/** @since 0.2.0 */
export class ResetRequested extends Schema.TaggedClass<ResetRequested>()("ResetRequested", common) {}
/** @since 0.2.0 */
export class EmailChanged extends Schema.TaggedClass<EmailChanged>()("EmailChanged", common) {}
/** @since 0.2.0 */
export class Verified extends Schema.TaggedClass<Verified>()("Verified", common) {}
/** @since 0.2.0 */
export class OAuthLinked extends Schema.TaggedClass<OAuthLinked>()("OAuthLinked", {
  ...common,
  provider: Schema.String,
  accountId: Schema.String
}) {}
/** @since 0.2.0 */
export class OAuthUnlinked extends Schema.TaggedClass<OAuthUnlinked>()("OAuthUnlinked", {
  ...common,
  provider: Schema.String,
  accountId: Schema.String,
  /** `unlinked` by the user, or `emailProven`: the address's owner proved it and earlier links ended. */
  reason: Schema.Literal("unlinked", "emailProven")
}) {}
/** @since 0.2.0 */
export class UserUpdatedByAdmin extends Schema.TaggedClass<UserUpdatedByAdmin>()("UserUpdatedByAdmin", {
  ...common,
  /** The names of the fields the update set (`password` for a new password), never their values. */
  fields: Schema.Array(Schema.String)
}) {}
/** A superuser deactivated the user, until `until` (ms since 1970) or until activated. @since 0.2.0 */
export class UserDeactivated extends Schema.TaggedClass<UserDeactivated>()("UserDeactivated", {
  ...common,
  /** The superuser's reason, kept for operators; never shown to the user. */
  reason: Schema.NullOr(Schema.String),
  until: Schema.NullOr(Schema.Number)
}) {}
/** A superuser activated the user again. @since 0.2.0 */
export class UserActivated extends Schema.TaggedClass<UserActivated>()("UserActivated", common) {}
/** @since 0.2.0 */
export class UserDeleted extends Schema.TaggedClass<UserDeleted>()("UserDeleted", common) {}
/** An account or device reached its hard lock (`Throttle`'s `maxAttempts`). @since 0.2.0 */
export class LockoutStarted extends Schema.TaggedClass<LockoutStarted>()("LockoutStarted", {
  ...common,
  scope: Schema.Literal("account", "device"),
  email: Schema.String,
  attempts: Schema.Number
}) {}
/**
 * `Throttle` refused a request (`outcome`: `refused`, answered 429), or sent no mail for an address past its limit
 * and answered as usual (`mailNotSent`). `address` is the client key the throttle counted.
 *
 * @since 0.2.0
 */
export class RequestThrottled extends Schema.TaggedClass<RequestThrottled>()("RequestThrottled", {
  ...common,
  route: Schema.String,
  scope: Schema.Literal("client", "address", "account", "device"),
  /** The e-mail of `address`, `account` and `device` decisions, as `Throttle.shownEmail` shows it. */
  email: Schema.optional(Schema.String),
  /** Milliseconds until the limit lets the next one through. */
  retryAfterMillis: Schema.Number,
  outcome: Schema.Literal("refused", "mailNotSent")
}) {}
/**
 * A wrong `current_password` (a password or e-mail change); a login's wrong password is a `LoginFailed`.
 *
 * @since 0.2.0
 */
export class PasswordCheckFailed extends Schema.TaggedClass<PasswordCheckFailed>()("PasswordCheckFailed", {
  ...common,
  /** The account's e-mail, as `Throttle.shownEmail` shows it. */
  email: Schema.String,
  /** Wrong passwords in a row on the count it was made under (the device's or the account's), this one included. */
  attempts: Schema.Number
}) {}
/** The user added a passkey. @since 0.3.0 */
export class PasskeyAdded extends Schema.TaggedClass<PasskeyAdded>()("PasskeyAdded", {
  ...common,
  credentialId: Schema.String
}) {}
/** The user removed a passkey. @since 0.3.0 */
export class PasskeyRemoved extends Schema.TaggedClass<PasskeyRemoved>()("PasskeyRemoved", {
  ...common,
  credentialId: Schema.String
}) {}
/**
 * A passkey sign-in was refused because the signature counter did not move forward: the authenticator may have been
 * cloned (or one assertion was presented twice).
 *
 * @since 0.3.0
 */
export class PasskeyCounterRegressed extends Schema.TaggedClass<PasskeyCounterRegressed>()("PasskeyCounterRegressed", {
  ...common,
  credentialId: Schema.String,
  storedCounter: Schema.Number,
  presentedCounter: Schema.Number
}) {}

/** A second factor (`factor`: `totp`, ...) was turned on. @since 0.3.0 */
export class SecondFactorEnrolled extends Schema.TaggedClass<SecondFactorEnrolled>()("SecondFactorEnrolled", {
  ...common,
  factor: Schema.String
}) {}
/** A second factor was turned off by its user. @since 0.3.0 */
export class SecondFactorRemoved extends Schema.TaggedClass<SecondFactorRemoved>()("SecondFactorRemoved", {
  ...common,
  factor: Schema.String,
  by: Schema.Literal("user", "admin")
}) {}
/** A superuser removed every second factor of the user (`actorId`). @since 0.3.0 */
export class SecondFactorReset extends Schema.TaggedClass<SecondFactorReset>()("SecondFactorReset", common) {}
/** The second step of a login failed: a wrong, replayed or used code (`factor`: the method tried). @since 0.3.0 */
export class SecondFactorFailed extends Schema.TaggedClass<SecondFactorFailed>()("SecondFactorFailed", {
  ...common,
  factor: Schema.String,
  /** Whether the `mfa_token` died with this failure (too many wrong codes). */
  tokenEnded: Schema.Boolean
}) {}
/** The second step of a login (or a step-up) succeeded with `factor`. @since 0.3.0 */
export class SecondFactorVerified extends Schema.TaggedClass<SecondFactorVerified>()("SecondFactorVerified", {
  ...common,
  factor: Schema.String
}) {}
/** A recovery code was spent; `left` are still unused. @since 0.3.0 */
export class RecoveryCodeUsed extends Schema.TaggedClass<RecoveryCodeUsed>()("RecoveryCodeUsed", {
  ...common,
  left: Schema.Number
}) {}
/** New recovery codes replaced the old ones. @since 0.3.0 */
export class RecoveryCodesRegenerated extends Schema.TaggedClass<RecoveryCodesRegenerated>()(
  "RecoveryCodesRegenerated",
  common
) {}

/**
 * The outbox's mail server accepted a mail (`kind`: `verify`, `reset`, `magicLink`, ...) at its `attempts`-th attempt.
 *
 * @since 0.3.0
 */
export class MailSent extends Schema.TaggedClass<MailSent>()("MailSent", {
  ...common,
  kind: Schema.String,
  attempts: Schema.Number
}) {}
/**
 * An attempt to deliver a mail failed; it is retried at `retryAt` (ms since 1970).
 *
 * @since 0.3.0
 */
export class MailFailed extends Schema.TaggedClass<MailFailed>()("MailFailed", {
  ...common,
  kind: Schema.String,
  attempts: Schema.Number,
  retryAt: Schema.Number
}) {}
/**
 * A mail will never be delivered: its attempts ran out, the server refused it for good, or it cannot be decrypted.
 *
 * @since 0.3.0
 */
export class MailDeadLettered extends Schema.TaggedClass<MailDeadLettered>()("MailDeadLettered", {
  ...common,
  kind: Schema.String,
  attempts: Schema.Number,
  reason: Schema.Literal("attempts", "refused", "undecryptable")
}) {}

/**
 * Every security event.
 *
 * @since 0.2.0
 */
export const AuthEvent = Schema.Union(
  Registered,
  LoginSucceeded,
  LoginFailed,
  LoggedOut,
  LoggedOutEverywhere,
  SessionRevoked,
  RefreshRotated,
  RefreshReuseDetected,
  PasswordChanged,
  PasswordReset,
  ResetRequested,
  EmailChanged,
  Verified,
  OAuthLinked,
  OAuthUnlinked,
  UserUpdatedByAdmin,
  UserDeactivated,
  UserActivated,
  UserDeleted,
  LockoutStarted,
  RequestThrottled,
  PasswordCheckFailed,
  SecondFactorEnrolled,
  SecondFactorRemoved,
  SecondFactorReset,
  SecondFactorFailed,
  SecondFactorVerified,
  RecoveryCodeUsed,
  RecoveryCodesRegenerated,
  PasskeyAdded,
  PasskeyRemoved,
  PasskeyCounterRegressed,
  MailSent,
  MailFailed,
  MailDeadLettered
)

/**
 * Every security event.
 *
 * @since 0.2.0
 */
export type AuthEvent = typeof AuthEvent.Type

/**
 * The kind of an event: its `_tag`.
 *
 * @since 0.2.0
 */
export type Kind = AuthEvent["_tag"]

/**
 * Every kind, in the order of the union.
 *
 * @since 0.2.0
 */
export const kinds: ReadonlyArray<Kind> = AuthEvent.members.map((member) => member._tag)

/**
 * What every event carries: the time, and what the request in scope knows.
 *
 * @since 0.2.0
 */
export type Common = Schema.Struct.Type<typeof common>

/**
 * What the HTTP request being served knows about its client (the routes provide it, see `withRequest`).
 *
 * @since 0.2.0
 */
export interface RequestInfo {
  readonly address?: string | undefined
  readonly userAgent?: string | undefined
  readonly actorId?: string | undefined
}

/**
 * The request info in scope; empty outside HTTP.
 *
 * @since 0.2.0
 */
export class CurrentRequest extends Context.Reference<CurrentRequest>()("effect-users/AuthEvents/CurrentRequest", {
  defaultValue: (): RequestInfo => ({})
}) {}

/**
 * Runs `effect` with this request info (merged over what is in scope).
 *
 * @since 0.2.0
 */
export const withRequest =
  (info: RequestInfo) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(CurrentRequest, (current) => Effect.provideService(effect, CurrentRequest, { ...current, ...info }))

/**
 * Writes batches of events somewhere (an audit log, a SIEM, a log line). A failure is logged and the batch is
 * not retried: a sink that must not lose events retries inside `write`.
 *
 * @since 0.2.0
 */
export interface Sink {
  /** Names the sink in the log line of a failed write. */
  readonly name: string
  /** Delivers a batch of events; a failure is logged (and retried, see `retrySink`), never the caller's. */
  readonly write: (events: ReadonlyArray<AuthEvent>) => Effect.Effect<void, unknown>
}

/**
 * The emitter.
 *
 * @since 0.2.0
 */
export interface AuthEventsService {
  /**
   * Queues the event `make` builds from the common fields (time, request info); never waits. Without
   * `AuthEvents.layer` it does nothing, and `make` is not called.
   */
  readonly emit: (make: (common: Common) => AuthEvent) => Effect.Effect<void>
  /** Adds a sink until the scope closes. */
  readonly register: (sink: Sink) => Effect.Effect<void, never, Scope.Scope>
  /** How many events were dropped because the queue was full. */
  readonly dropped: Effect.Effect<number>
}

const disabled: AuthEventsService = {
  emit: () => Effect.void,
  register: (sink) => Effect.logWarning(`AuthEvents: sink ${sink.name} registered without AuthEvents.layer`),
  dropped: Effect.succeed(0)
}

/**
 * The emitter in use: one that does nothing unless `layer` provides one.
 *
 * @since 0.2.0
 */
export class AuthEvents extends Context.Reference<AuthEvents>()("effect-users/AuthEvents", {
  defaultValue: (): AuthEventsService => disabled
}) {}

/**
 * Options of `layer`.
 *
 * @since 0.2.0
 */
export interface Options {
  /** Events queued at most; past it new events are dropped (counted and logged). Default 10,000. */
  readonly capacity?: number | undefined
  /** Events handed to the sinks at once, at most. Default 500. */
  readonly batchSize?: number | undefined
  /**
   * How a sink's failed write is retried before its batch is given up (logged): by default 4 more tries over about
   * 3 seconds, so a database's short outage or fail-over loses no audit events.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * Builds the emitter and starts its writer fiber, which ends with the scope (after writing what is queued).
 *
 * @since 0.2.0
 */
export const make = (options: Options = {}): Effect.Effect<AuthEventsService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Effect.acquireRelease(Queue.dropping<AuthEvent>(options.capacity ?? 10_000), Queue.shutdown)
    const batchSize = options.batchSize ?? 500
    const retry = options.retry ?? Schedule.intersect(Schedule.exponential("200 millis"), Schedule.recurs(4))
    const sinks = new Set<Sink>()
    let dropped = 0

    const writeBatch = (batch: ReadonlyArray<AuthEvent>) =>
      Effect.forEach(
        [...sinks],
        (sink) =>
          sink.write(batch).pipe(
            // SQL sinks die on an outage (`SqlUnavailable.orDie`): retry any cause but an interruption.
            Effect.sandbox,
            Effect.retry({ schedule: retry, while: (cause) => !Cause.isInterruptedOnly(cause) }),
            Effect.unsandbox,
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause)
                ? Effect.failCause(cause)
                : Effect.logError(`AuthEvents: sink ${sink.name} failed; ${batch.length} events not written`, cause)
            )
          ),
        { concurrency: "unbounded", discard: true }
      )

    const writer = yield* Queue.takeBetween(queue, 1, batchSize).pipe(
      Effect.flatMap((chunk) => writeBatch(Array.from(chunk))),
      Effect.forever,
      Effect.forkDaemon
    )
    // On close: stop the writer, then write what is still queued (bounded, so a stuck sink cannot hold shutdown).
    yield* Effect.addFinalizer(() =>
      Fiber.interrupt(writer).pipe(
        Effect.zipRight(Queue.takeAll(queue)),
        Effect.flatMap((rest) => (rest.length === 0 ? Effect.void : writeBatch(Array.from(rest)))),
        Effect.timeout("5 seconds"),
        Effect.ignore
      )
    )

    const emit = (make: (common: Common) => AuthEvent) =>
      Effect.flatMap(Effect.zip(Clock.currentTimeMillis, CurrentRequest), ([now, request]) => {
        const event = make({
          at: new Date(now),
          ...(request.address === undefined ? {} : { address: request.address }),
          ...(request.userAgent === undefined ? {} : { userAgent: request.userAgent }),
          ...(request.actorId === undefined ? {} : { actorId: request.actorId })
        })
        return Effect.flatMap(Queue.offer(queue, event), (queued) => {
          if (queued) return Effect.void
          dropped++
          // The first drop, then every thousandth: a stuck sink must not flood the log too.
          return dropped % 1000 === 1
            ? Effect.logWarning("AuthEvents: queue full, event dropped").pipe(
                Effect.annotateLogs({ dropped, kind: event._tag })
              )
            : Effect.void
        })
      })

    return {
      emit,
      register: (sink) =>
        Effect.acquireRelease(
          Effect.sync(() => sinks.add(sink)),
          () => Effect.sync(() => sinks.delete(sink))
        ).pipe(Effect.asVoid),
      dropped: Effect.sync(() => dropped)
    }
  })

/**
 * The emitter, with its writer fiber for the layer's lifetime. Provide it under the sinks (`layerSink`) and
 * under the modules that emit (`UserManager.layer`, `Login`, `RefreshTokens`, `Throttle`, `UsersApi`).
 *
 * @since 0.2.0
 */
export const layer = (options: Options = {}): Layer.Layer<AuthEvents> => Layer.scoped(AuthEvents, make(options))

/**
 * Adds a sink to the `AuthEvents` in context for the layer's lifetime; merge as many as the app has.
 *
 * @since 0.2.0
 */
export const layerSink = <E = never, R = never>(sink: Sink | Effect.Effect<Sink, E, R>): Layer.Layer<never, E, R> =>
  Layer.scopedDiscard(
    Effect.flatMap(Effect.isEffect(sink) ? sink : Effect.succeed(sink), (made) =>
      Effect.flatMap(AuthEvents, (events) => events.register(made))
    )
  )

/**
 * A sink that logs each event at `Info` level, as structured annotations (a SIEM that reads the app's logs).
 *
 * @since 0.2.0
 */
export const logSink: Sink = {
  name: "log",
  write: (events) =>
    Effect.forEach(
      events,
      (event) => Effect.logInfo(`auth event ${event._tag}`).pipe(Effect.annotateLogs({ ...event })),
      {
        discard: true
      }
    )
}

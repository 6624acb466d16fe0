/**
 * Brute force and flood protection: back-off on password guesses (per device for clients that logged in before,
 * per account for the others), and per-client (and per-address) rate limits on the public routes.
 *
 * Every password check reserves an attempt before any lookup or hash, so unknown e-mails are throttled exactly
 * like known ones and a refused attempt costs nothing. A count lets its first `freeAttempts` through; after that
 * each attempt must wait `baseDelay * 2^(n - freeAttempts)`, at most `maxDelay`, and after `maxAttempts` in a row
 * every attempt is refused until `window` has passed since the last one. A check that could not be made (storage
 * down, a full hash queue, an interruption) gives its attempt back: an outage is not a wrong password.
 *
 * Which count (OWASP's device cookies, see `DeviceTokens`):
 * - a login presenting a valid device token for the account counts under that device (`devices` policy, keyed by
 *   the token's nonce), and never under the account: a stranger's guesses cannot refuse the owner's device;
 * - any other login (an unknown client) counts under the e-mail's canonical key (`emailKey`, `accounts` policy:
 *   NIST SP 800-63B's limit of 100 in a row applies to unknown clients only);
 * - a `current_password` check counts under the account's re-authentication count, apart from logins: only a
 *   holder of the user's session reaches it, so a stranger's login guesses never refuse the owner's change.
 * A right password clears its own count only: a device's success leaves the unknown clients' count as it is (the
 * owner logging in from their phone must not hand a stranger a fresh set of free guesses), an unknown client's
 * success clears the account's count (it proved the password: the owner on a new client, or the game is over).
 * A password reset clears the account's and the re-authentication counts.
 *
 * Per client and per address: `@effect/experimental`'s `RateLimiter` (fixed window, fail when exceeded) over
 * its `RateLimiterStore` (memory, or Redis: see `RedisThrottle`). The mail routes' per-address limit never
 * refuses the request: past it the route answers as usual and sends nothing (`mail`).
 */

import * as RateLimiter from "@effect/experimental/RateLimiter"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AuthEvents from "./AuthEvents.js"
import * as AuthMetrics from "./AuthMetrics.js"
import { Email, emailKey } from "./User.js"
import { ServiceUnavailable } from "./UserError.js"

/**
 * The routes with a per-client limit; `refresh` is the session refresh route, `magicLinkLogin` the sign-in by link
 * (a sign-in by code counts as a `login`, its wrong codes on the account's back-off).
 *
 * @since 0.1.0
 */
export type Route =
  | "login"
  | "register"
  | "forgotPassword"
  | "requestVerifyToken"
  | "verify"
  | "resetPassword"
  | "refresh"
  | "magicLink"
  | "emailCode"
  | "magicLinkLogin"

/**
 * The routes that send mail, limited per target address too.
 *
 * @since 0.1.0
 */
export type MailRoute = "forgotPassword" | "requestVerifyToken" | "magicLink" | "emailCode"

/**
 * At most `limit` requests per `window`.
 *
 * @since 0.1.0
 */
export interface Limit {
  readonly limit: number
  readonly window: Duration.DurationInput
}

/**
 * The per-account back-off (see the module's description).
 *
 * @since 0.1.0
 */
export interface AccountPolicy {
  readonly freeAttempts: number
  readonly baseDelay: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
  readonly maxAttempts: number
  readonly window: Duration.DurationInput
}

/**
 * Per-client limits by route (`false`: none).
 *
 * @since 0.1.0
 */
export const defaultClientLimits: Readonly<Record<Route, Limit>> = {
  login: { limit: 30, window: "1 minute" },
  register: { limit: 20, window: "1 hour" },
  forgotPassword: { limit: 10, window: "15 minutes" },
  requestVerifyToken: { limit: 10, window: "15 minutes" },
  verify: { limit: 30, window: "15 minutes" },
  resetPassword: { limit: 30, window: "15 minutes" },
  refresh: { limit: 60, window: "1 minute" },
  magicLink: { limit: 10, window: "15 minutes" },
  emailCode: { limit: 10, window: "15 minutes" },
  magicLinkLogin: { limit: 30, window: "15 minutes" }
}

/**
 * Per-address limits of the routes that send mail.
 *
 * @since 0.1.0
 */
export const defaultAddressLimits: Readonly<Record<MailRoute, Limit>> = {
  forgotPassword: { limit: 3, window: "1 hour" },
  requestVerifyToken: { limit: 3, window: "1 hour" },
  magicLink: { limit: 5, window: "1 hour" },
  emailCode: { limit: 5, window: "1 hour" }
}

/**
 * The back-off of unknown clients, per account: 5 free attempts, then 1 s doubling up to 15 minutes; refused from
 * the 100th until a day has passed since the last.
 *
 * @since 0.1.0
 */
export const defaultAccountPolicy: AccountPolicy = {
  freeAttempts: 5,
  baseDelay: "1 second",
  maxDelay: "15 minutes",
  maxAttempts: 99,
  window: "24 hours"
}

/**
 * The back-off of one known device (a valid device token): 5 free attempts, then waits of 1, 2, 4, 8 and 16 s;
 * after 10 in a row, refused until an hour has passed since the last. It bounds the guesses of whoever holds a stolen
 * device token, and holds back that device alone.
 *
 * @since 0.2.0
 */
export const defaultDevicePolicy: AccountPolicy = {
  freeAttempts: 5,
  baseDelay: "1 second",
  maxDelay: "1 minute",
  maxAttempts: 10,
  window: "1 hour"
}

/**
 * What was throttled: `account` is the back-off of unknown clients (and of `current_password` checks), `device`
 * the back-off of one known device.
 *
 * @since 0.1.0
 */
export type Scope = "client" | "address" | "account" | "device"

/**
 * What logs and hooks get instead of a login username that is not an e-mail address (junk, or a password).
 *
 * @since 0.1.0
 */
export const notAnEmail = "<not an e-mail>"

const decodeEmail = Schema.decodeUnknownOption(Email)

/**
 * A login username as logs and hooks may show it: the address (trimmed, NFC) when `Email` accepts it, else
 * `notAnEmail`. The username is unvalidated input: control characters and ANSI escapes would reach the
 * operator's terminal, and a password typed into the e-mail box would be written to the log.
 *
 * @since 0.1.0
 */
export const shownEmail = (username: string): string => Option.getOrElse(decodeEmail(username), () => notAnEmail)

// A throttle decision, as logged and emitted: never a password; `client` is the client key.
interface ThrottledEvent {
  readonly route: Route
  readonly scope: Scope
  readonly client: string
  readonly email?: string | undefined
  readonly retryAfter: Duration.Duration
}

/**
 * Options of `layer`; every field has a default.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Per-client limits, by route; `false` turns a route's limit off. */
  readonly clients?: Partial<Record<Route, Limit | false>> | undefined
  /** Per-address limits of the mail routes; `false` turns one off. */
  readonly addresses?: Partial<Record<MailRoute, Limit | false>> | undefined
  /** The back-off of unknown clients per account (and of `current_password` checks); `false` turns it off. */
  readonly accounts?: Partial<AccountPolicy> | false | undefined
  /**
   * The back-off of each known device; `false` ignores device tokens (every login counts under its account, and a
   * stranger's guesses hold back the owner too).
   */
  readonly devices?: Partial<AccountPolicy> | false | undefined
}

/**
 * A refused request: answered 429 with `Retry-After`.
 *
 * @since 0.1.0
 */
export class Throttled extends Schema.TaggedError<Throttled>()("Throttled", {
  scope: Schema.Literal("client", "address", "account", "device"),
  retryAfter: Schema.DurationFromSelf
}) {}

/**
 * An attempt reserved on an account: report how the password check went (`checked` does).
 *
 * @since 0.1.0
 */
export interface Attempt {
  /** Attempts in a row on its count, this one included (0 when that throttle is off). */
  readonly attempts: number
  /** The password was right: starts clearing its count (the device's or the account's), without waiting for the store. */
  readonly succeeded: Effect.Effect<void>
  /** The password was wrong (or the e-mail unknown): logged (a `current_password` check: `PasswordCheckFailed`); already counted. */
  readonly failed: Effect.Effect<void>
  /** The password could not be checked (an outage, an interruption): gives the attempt back. */
  readonly released: Effect.Effect<void>
}

// A typed failure of the check is its verdict on the credentials, unless it says a dependency is down.
const isVerdict = (cause: Cause.Cause<unknown>): boolean => {
  const failures = Cause.failures(cause)
  let verdict = false
  for (const failure of failures) {
    if (failure instanceof ServiceUnavailable) return false
    verdict = true
  }
  return verdict
}

/**
 * Runs a password check under a reserved attempt: `succeeded` when it passes, `failed` when it fails (its typed
 * failures are verdicts on the credentials: wrong password, unknown e-mail, inactive user), `released` when it
 * could not be made (a defect such as a storage or hash-queue `ServiceUnavailable`, a `ServiceUnavailable`
 * failure, an interruption).
 *
 * @since 0.1.0
 */
export const checked = <A, E, R>(attempt: Attempt, check: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.exit(restore(check)), (exit) =>
      Exit.isSuccess(exit)
        ? Effect.as(attempt.succeeded, exit.value)
        : Effect.zipRight(isVerdict(exit.cause) ? restore(attempt.failed) : attempt.released, exit)
    )
  )

/**
 * An attempt an `AccountStore` counted, as `release` needs it to give the attempt back.
 *
 * @since 0.1.0
 */
export interface Reservation {
  /** The count it belongs to: every count started after a reset or an expiry has a new one. */
  readonly generation: string
  /** This attempt. */
  readonly id: string
}

/**
 * What `AccountStore.send` decided.
 *
 * @since 0.1.0
 */
export type AttemptResult =
  | { readonly _tag: "Allowed"; readonly attempts: number; readonly reservation: Reservation }
  | { readonly _tag: "Refused"; readonly retryAfterMillis: number }

/**
 * The back-off in numbers, as stores receive it.
 *
 * @since 0.1.0
 */
export interface AccountLimits {
  readonly freeAttempts: number
  readonly baseDelayMillis: number
  readonly maxDelayMillis: number
  readonly maxAttempts: number
  readonly windowMillis: number
}

/**
 * The wait after the `attempts`-th attempt in a row before the next one is allowed, in milliseconds.
 *
 * @since 0.1.0
 */
export const delayAfter = (attempts: number, limits: AccountLimits): number =>
  attempts < limits.freeAttempts
    ? 0
    : Math.min(limits.baseDelayMillis * 2 ** (attempts - limits.freeAttempts), limits.maxDelayMillis)

/**
 * Where per-account attempts are counted. An attempt is one atomic step: refuse while the account waits (or has
 * reached `maxAttempts`), else count the attempt, set the next wait (`delayAfter`) and keep the count for
 * `windowMillis`. `send` starts it at once and returns the effect that waits for the answer, so that a login
 * overlaps it with its per-client check without forking a fiber; `reset` likewise, so that a right password
 * need not wait for it. `release` gives an allowed attempt back, atomically too: the count drops by one, and the
 * wait goes back to what it was before the attempt if no other attempt came since (else it stays: the later
 * attempt's wait holds); an attempt of a count since reset or expired gives nothing back. Store failures are
 * defects (a 503 at the edge).
 *
 * @since 0.1.0
 */
export class AccountStore extends Context.Tag("effect-users/Throttle/AccountStore")<
  AccountStore,
  {
    /** Counts an attempt on the account's key; the effect it returns waits for the decision. */
    readonly send: (key: string, now: number, limits: AccountLimits) => Effect.Effect<Effect.Effect<AttemptResult>>
    /** Gives an allowed attempt back (the count drops by one). */
    readonly release: (key: string, reservation: Reservation) => Effect.Effect<void>
    /** Clears the account's counts; the effect it returns waits for the store. */
    readonly reset: (key: string) => Effect.Effect<Effect.Effect<void>>
  }
>() {}

interface MemoryEntry {
  attempts: number
  notBefore: number
  expiresAt: number
  readonly generation: string
  /** The last attempt counted, and the wait before it. */
  last: string | undefined
  previousNotBefore: number
}

/**
 * Account counts in this process's memory; expired entries are swept as new ones arrive.
 *
 * @since 0.1.0
 */
export const makeAccountStoreMemory = (): Context.Tag.Service<AccountStore> => {
  const entries = new Map<string, MemoryEntry>()
  let writes = 0
  let serial = 0
  const sweep = (now: number) => {
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key)
  }
  const attempt = (key: string, now: number, limits: AccountLimits): AttemptResult => {
    if (++writes % 1024 === 0) sweep(now)
    let entry = entries.get(key)
    if (entry !== undefined && entry.expiresAt <= now) entry = undefined
    if (entry !== undefined && entry.attempts >= limits.maxAttempts) {
      return { _tag: "Refused", retryAfterMillis: entry.expiresAt - now }
    }
    if (entry !== undefined && now < entry.notBefore) {
      return { _tag: "Refused", retryAfterMillis: entry.notBefore - now }
    }
    const id = String(++serial)
    const generation = entry?.generation ?? id
    const attempts = (entry?.attempts ?? 0) + 1
    entries.set(key, {
      attempts,
      notBefore: now + delayAfter(attempts, limits),
      expiresAt: now + limits.windowMillis,
      generation,
      last: id,
      previousNotBefore: entry?.notBefore ?? 0
    })
    return { _tag: "Allowed", attempts, reservation: { generation, id } }
  }
  const release = (key: string, reservation: Reservation) => {
    const entry = entries.get(key)
    if (entry === undefined || entry.generation !== reservation.generation || entry.attempts < 1) return
    if (entry.attempts === 1) return void entries.delete(key)
    entry.attempts--
    if (entry.last === reservation.id) {
      entry.notBefore = entry.previousNotBefore
      entry.last = undefined
    }
  }
  return AccountStore.of({
    send: (key, now, limits) =>
      Effect.sync((): Effect.Effect<AttemptResult> => Effect.succeed(attempt(key, now, limits))),
    release: (key, reservation) => Effect.sync(() => release(key, reservation)),
    reset: (key) =>
      Effect.sync(() => {
        entries.delete(key)
        return Effect.void
      })
  })
}

/**
 * Counts in memory: one process only.
 *
 * @since 0.1.0
 */
export const layerAccountStoreMemory: Layer.Layer<AccountStore> = Layer.sync(AccountStore, makeAccountStoreMemory)

/**
 * `RateLimiter`'s fixed window in memory, as `RateLimiter.layerStoreMemory` counts it (each request extends the
 * window's expiry by `window / limit`; one past the limit is refused and changes nothing), except that expired
 * windows are swept: that store keeps every key it has seen for the life of the process, one per client
 * address and per target e-mail. Token buckets (unused here) are that store's.
 *
 * @since 0.1.0
 */
export const layerRateLimiterStoreMemory: Layer.Layer<RateLimiter.RateLimiterStore> = Layer.effect(
  RateLimiter.RateLimiterStore,
  Effect.gen(function* () {
    const buckets = yield* RateLimiter.RateLimiterStore
    const windows = new Map<string, { count: number; expiresAt: number }>()
    let writes = 0
    return RateLimiter.RateLimiterStore.of({
      tokenBucket: buckets.tokenBucket,
      fixedWindow: (options) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            const now = clock.unsafeCurrentTimeMillis()
            if (++writes % 1024 === 0) {
              for (const [key, window] of windows) if (window.expiresAt <= now) windows.delete(key)
            }
            let window = windows.get(options.key)
            if (window === undefined || window.expiresAt <= now) {
              window = { count: 0, expiresAt: now }
              windows.set(options.key, window)
            }
            const count = window.count + options.tokens
            if (options.limit !== undefined && count > options.limit) return [count, window.expiresAt - now] as const
            window.count = count
            window.expiresAt += Duration.toMillis(options.refillRate) * options.tokens
            return [count, window.expiresAt - now] as const
          })
        )
    })
  })
).pipe(Layer.provide(RateLimiter.layerStoreMemory))

const memoryStores = Layer.merge(layerRateLimiterStoreMemory, layerAccountStoreMemory)

/**
 * The throttle the routes consult.
 *
 * @since 0.1.0
 */
export interface ThrottleService {
  /** Counts a request against the route's per-client limit (and the address's, for mail routes). */
  readonly route: (route: Route, client: string, email?: string) => Effect.Effect<void, Throttled>
  /**
   * A mail route: fails with `Throttled` when the client is past the route's limit; else `false` when the address
   * is past its own (logged and emitted as `RequestThrottled`: send nothing, answer as usual), `true` otherwise.
   */
  readonly mail: (route: MailRoute, client: string, email: string) => Effect.Effect<boolean, Throttled>
  /**
   * Reserves a password attempt on the account of `email` before it is checked: fails with `Throttled` (no
   * lookup, no hash) while the account waits. `route` names the check for the hooks and logs; a
   * `"currentPassword"` check counts under the account's re-authentication count, apart from logins.
   */
  readonly account: (
    email: string,
    client: string,
    route: Route | "currentPassword"
  ) => Effect.Effect<Attempt, Throttled>
  /**
   * A login: the per-client limit and the attempt, checked together (one store round-trip). `device` is the nonce
   * of a device token the caller verified for this e-mail (`DeviceTokens.verify`): the attempt then counts under
   * that device, else under the account.
   */
  readonly login: (email: string, client: string, device?: string | undefined) => Effect.Effect<Attempt, Throttled>
  /**
   * Reserves a second-factor attempt (a code at the second step of a login, or in a step-up) on the account of
   * `email`, under the device of a device token when `device` is given, as `login` does for passwords; its count
   * is its own (a right password does not clear it), cleared by a right code.
   *
   * @since 0.3.0
   */
  readonly secondFactor: (
    email: string,
    client: string,
    device?: string | undefined
  ) => Effect.Effect<Attempt, Throttled>
  /** Clears the account's counts (a password reset): unknown clients' and `current_password` checks'. */
  readonly clearAccount: (email: string) => Effect.Effect<void>
}

/**
 * The throttle of a `UsersApi`: `layer`, `layerMemory`, `RedisThrottle.layer` or `layerDisabled`.
 *
 * @since 0.1.0
 */
export class Throttle extends Context.Tag("effect-users/Throttle")<Throttle, ThrottleService>() {}

const millis = (duration: Duration.DurationInput) => Duration.toMillis(Duration.decode(duration))

/**
 * A limit as the store receives it: `@effect/experimental` 0.61.1's Redis fixed window stores `window / limit`
 * as a millisecond TTL, and Redis refuses one that is not a whole number ("3 per 10 seconds"). The window is
 * stretched (by less than `limit` ms) to the next multiple of `limit` ms, the same for every store.
 *
 * @since 0.1.0
 */
export const storedLimit = (limit: Limit): { readonly limit: number; readonly window: Duration.Duration } => {
  const count = Math.max(1, Math.floor(limit.limit))
  const perToken = Math.max(1, Math.ceil(millis(limit.window) / count))
  return { limit: count, window: Duration.millis(perToken * count) }
}

const accountLimitsOf = (policy: AccountPolicy): AccountLimits => ({
  freeAttempts: policy.freeAttempts,
  baseDelayMillis: millis(policy.baseDelay),
  maxDelayMillis: millis(policy.maxDelay),
  maxAttempts: policy.maxAttempts,
  windowMillis: millis(policy.window)
})

const storeDown = (error: RateLimiter.RateLimitStoreError) =>
  Effect.die(new ServiceUnavailable({ reason: `rate-limit store unavailable: ${error.message}`, retryAfter: 5 }))

const noAttempt: Attempt = { attempts: 0, succeeded: Effect.void, failed: Effect.void, released: Effect.void }

/**
 * Builds the throttle over the stores in context: the per-client limits on `RateLimiter` (its
 * `RateLimiterStore`), the per-account back-off on the `AccountStore`.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<ThrottleService, never, RateLimiter.RateLimiterStore | AccountStore> =>
  Effect.gen(function* () {
    const limiter = yield* RateLimiter.make
    const accounts = yield* AccountStore
    const events = yield* AuthEvents.AuthEvents
    const clientLimits = new Map<Route, ReturnType<typeof storedLimit>>()
    for (const [route, fallback] of Object.entries(defaultClientLimits) as Array<[Route, Limit]>) {
      const limit = options.clients?.[route] ?? fallback
      if (limit !== false) clientLimits.set(route, storedLimit(limit))
    }
    const addressLimits = new Map<Route, ReturnType<typeof storedLimit>>()
    for (const [route, fallback] of Object.entries(defaultAddressLimits) as Array<[MailRoute, Limit]>) {
      const limit = options.addresses?.[route] ?? fallback
      if (limit !== false) addressLimits.set(route, storedLimit(limit))
    }
    const accountLimits =
      options.accounts === false ? undefined : accountLimitsOf({ ...defaultAccountPolicy, ...options.accounts })
    const deviceLimits =
      options.devices === false ? undefined : accountLimitsOf({ ...defaultDevicePolicy, ...options.devices })

    // Logged like every decision (the e-mail as `shownEmail` shows it, as in every line of ours), and emitted.
    const report = (message: string, given: ThrottledEvent, outcome: "refused" | "mailNotSent") => {
      const event = given.email === undefined ? given : { ...given, email: shownEmail(given.email) }
      return Effect.logWarning(message).pipe(
        Effect.zipLeft(
          Metric.increment(
            Metric.tagged(Metric.tagged(AuthMetrics.throttled, "route", event.route), "scope", event.scope)
          )
        ),
        Effect.annotateLogs({
          route: event.route,
          scope: event.scope,
          client: event.client,
          retryAfterMillis: Duration.toMillis(event.retryAfter),
          ...(event.email === undefined ? {} : { email: event.email })
        }),
        Effect.zipRight(
          events.emit(
            (common) =>
              new AuthEvents.RequestThrottled({
                ...common,
                address: event.client,
                route: event.route,
                scope: event.scope,
                ...(event.email === undefined ? {} : { email: event.email }),
                retryAfterMillis: Duration.toMillis(event.retryAfter),
                outcome
              })
          )
        ),
        Effect.as(event)
      )
    }
    const refuse = (given: ThrottledEvent) =>
      Effect.flatMap(report("Request throttled", given, "refused"), (event) =>
        Effect.fail(new Throttled({ scope: event.scope, retryAfter: event.retryAfter }))
      )

    // The refusal of a request past a limit, or `Exceeded` as a value (`onExceeded`) for the per-address limit.
    const consume = <A>(
      route: Route,
      scope: "client" | "address",
      key: string,
      limit: ReturnType<typeof storedLimit>,
      onExceeded: (retryAfter: Duration.Duration) => Effect.Effect<A, Throttled>,
      allowed: A
    ) =>
      limiter.consume({ key: `${scope}:${route}:${key}`, limit: limit.limit, window: limit.window }).pipe(
        Effect.as(allowed),
        Effect.catchTags({
          RateLimiterError: (error) => (error.reason === "Exceeded" ? onExceeded(error.retryAfter) : storeDown(error))
        })
      )

    const byClient = (route: Route, client: string, bucket = client) => {
      const limit = clientLimits.get(route)
      return limit === undefined
        ? Effect.void
        : consume(
            route,
            "client",
            bucket,
            limit,
            (retryAfter) => refuse({ route, scope: "client", client, retryAfter }),
            undefined
          )
    }

    // The address is counted only once the client passed: a refused client cannot fill the store with addresses.
    const byAddress = <A>(
      route: Route,
      email: string,
      onExceeded: (retryAfter: Duration.Duration) => Effect.Effect<A, Throttled>,
      allowed: A
    ) => {
      const limit = addressLimits.get(route)
      return limit === undefined
        ? Effect.succeed(allowed)
        : consume(route, "address", emailKey(email), limit, onExceeded, allowed)
    }

    const route = (route: Route, client: string, email?: string): Effect.Effect<void, Throttled> =>
      email === undefined
        ? byClient(route, client)
        : Effect.zipRight(
            byClient(route, client),
            byAddress(
              route,
              email,
              (retryAfter) => refuse({ route, scope: "address", client, email, retryAfter }),
              undefined
            )
          )

    // The per-address limit is the owner's as much as a stranger's: past it, nothing is sent, but the answer is
    // the usual one (a 429 would let anyone keep the owner from resetting their password).
    const mail = (route: MailRoute, client: string, email: string): Effect.Effect<boolean, Throttled> =>
      Effect.zipRight(
        byClient(route, client),
        byAddress(
          route,
          email,
          (retryAfter) =>
            Effect.as(
              report(
                "Mail not sent: the address is past its limit",
                {
                  route,
                  scope: "address",
                  client,
                  email,
                  retryAfter
                },
                "mailNotSent"
              ),
              false
            ),
          true
        )
      )

    const startAttempt = (
      email: string,
      client: string,
      routeName: Route | "currentPassword" | "secondFactor",
      device: string | undefined
    ): Effect.Effect<Effect.Effect<Attempt, Throttled>> => {
      const known = device !== undefined && deviceLimits !== undefined
      const limits = known ? deviceLimits : accountLimits
      if (limits === undefined) return Effect.succeed(Effect.succeed(noAttempt))
      // Codes count apart from passwords: the right password of a second step's first step clears no wrong code.
      const factor = routeName === "secondFactor" ? "factor-" : ""
      const key = known
        ? `${factor}device:${device}`
        : `${factor}${routeName === "currentPassword" ? "reauth" : "account"}:${emailKey(email)}`
      const decide = (result: AttemptResult): Effect.Effect<Attempt, Throttled> => {
        if (result._tag === "Refused") {
          return refuse({
            route: routeName === "currentPassword" || routeName === "secondFactor" ? "login" : routeName,
            scope: known ? "device" : "account",
            client,
            email,
            retryAfter: Duration.millis(Math.max(1, result.retryAfterMillis))
          })
        }
        const { attempts, reservation } = result
        return Effect.succeed({
          attempts,
          // Not waited for: the limiter adds one store round-trip to a login, the attempt's.
          succeeded: Effect.asVoid(accounts.reset(key)),
          failed: Effect.suspend(() => {
            const shown = shownEmail(email)
            // The attempt that reaches `maxAttempts` starts the hard lock.
            const lockout =
              attempts === limits.maxAttempts
                ? events.emit(
                    (common) =>
                      new AuthEvents.LockoutStarted({
                        ...common,
                        scope: known ? "device" : "account",
                        email: shown,
                        attempts
                      })
                  )
                : Effect.void
            // A login's failure is the login route's `LoginFailed`; a `current_password` check has no other event.
            const checkFailed =
              routeName === "currentPassword"
                ? events.emit(
                    (common) =>
                      new AuthEvents.PasswordCheckFailed({
                        ...common,
                        address: client,
                        email: shown,
                        attempts
                      })
                  )
                : Effect.void
            return Effect.logInfo(
              routeName === "secondFactor" ? "Second-factor check failed" : "Password check failed"
            ).pipe(
              Effect.annotateLogs({ route: routeName, client, email: shown, attempts, device: known }),
              Effect.zipRight(checkFailed),
              Effect.zipRight(lockout)
            )
          }),
          released: accounts
            .release(key, reservation)
            .pipe(Effect.catchAllCause((cause) => Effect.logWarning("Throttle: an attempt was not given back", cause)))
        })
      }
      return Effect.flatMap(
        Effect.clockWith((clock) => clock.currentTimeMillis),
        (now) => Effect.map(accounts.send(key, now, limits), (pending) => Effect.flatMap(pending, decide))
      )
    }

    const account = (email: string, client: string, routeName: Route | "currentPassword") =>
      Effect.flatten(startAttempt(email, client, routeName, undefined))

    const clearAccount = (email: string) =>
      accountLimits === undefined
        ? Effect.void
        : Effect.flatMap(
            Effect.all([accounts.reset(`account:${emailKey(email)}`), accounts.reset(`reauth:${emailKey(email)}`)]),
            ([unknownClients, reauth]) => Effect.zipRight(unknownClients, reauth)
          )

    // The account's attempt is sent first and awaited after the per-client check: one round-trip of latency.
    // When the client is refused, the attempt is given back: no password was checked, and refused requests
    // cannot fill the store with e-mails. A known device's logins spend a per-client budget of their own for that
    // account: a stranger sharing the owner's address (one NAT) has no device token of that account to spend it.
    const login = (email: string, client: string, device?: string | undefined): Effect.Effect<Attempt, Throttled> =>
      Effect.flatMap(startAttempt(email, client, "login", device), (pending) =>
        Effect.flatMap(
          Effect.either(
            byClient(
              "login",
              client,
              device !== undefined && deviceLimits !== undefined ? `${client} device:${emailKey(email)}` : client
            )
          ),
          (passed) =>
            passed._tag === "Right"
              ? pending
              : Effect.flatMap(Effect.either(pending), (attempt) =>
                  Effect.zipRight(
                    attempt._tag === "Right" ? attempt.right.released : Effect.void,
                    Effect.fail(passed.left)
                  )
                )
        )
      )

    // Named spans; the e-mail and client address stay out of their attributes (the throttle's log lines have them).
    return Throttle.of({
      route: (name, client, email) =>
        route(name, client, email).pipe(Effect.withSpan("Throttle.route", { attributes: { route: name } })),
      mail: (name, client, email) =>
        mail(name, client, email).pipe(Effect.withSpan("Throttle.mail", { attributes: { route: name } })),
      account: (email, client, name) =>
        account(email, client, name).pipe(Effect.withSpan("Throttle.account", { attributes: { route: name } })),
      login: (email, client, device) => login(email, client, device).pipe(Effect.withSpan("Throttle.login")),
      secondFactor: (email, client, device) =>
        Effect.flatten(startAttempt(email, client, "secondFactor", device)).pipe(
          Effect.withSpan("Throttle.secondFactor")
        ),
      clearAccount: (email) => clearAccount(email).pipe(Effect.withSpan("Throttle.clearAccount"))
    })
  })

/**
 * The throttle over the stores in context (see `layerMemory` and `RedisThrottle.layer`).
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Throttle, never, RateLimiter.RateLimiterStore | AccountStore> => Layer.effect(Throttle, make(options))

/**
 * The throttle with in-memory counts: right for one process; several share nothing (use `RedisThrottle`).
 *
 * @since 0.1.0
 */
export const layerMemory = (options: Options = {}): Layer.Layer<Throttle> =>
  layer(options).pipe(Layer.provide(memoryStores))

/**
 * No throttling at all (tests, or an app that throttles in front of us).
 *
 * @since 0.1.0
 */
export const layerDisabled: Layer.Layer<Throttle> = Layer.succeed(
  Throttle,
  Throttle.of({
    route: () => Effect.void,
    mail: () => Effect.succeed(true),
    account: () => Effect.succeed(noAttempt),
    login: () => Effect.succeed(noAttempt),
    secondFactor: () => Effect.succeed(noAttempt),
    clearAccount: () => Effect.void
  })
)

/**
 * The throttle in context, or an in-memory one with the default limits when the app provides none.
 *
 * @since 0.1.0
 */
export const orDefault: Effect.Effect<ThrottleService> = Effect.flatMap(
  Effect.serviceOption(Throttle),
  Option.match({
    onSome: Effect.succeed,
    onNone: () => make().pipe(Effect.provide(memoryStores))
  })
)

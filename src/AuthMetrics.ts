/**
 * Metrics of authentication, on Effect's `Metric` API (any Effect metrics exporter reads them;
 * `effect-users/otel` exports them through OpenTelemetry). Logins, new sessions and refresh-token reuse are counted
 * from the `AuthEvents` stream by a sink (`layer`): every login method, present and future, reports there once, with
 * its method, backend and failure reason. The hash queue and throttle refusals are not events: `PasswordHasher`,
 * `Argon2Workers` and `Throttle` update their metrics where they happen.
 *
 * Attributes carry names and outcomes only (method, backend, reason, route, scope), never an e-mail or a secret.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import * as AuthEvents from "./AuthEvents.js"

/**
 * Logins, by `outcome` (`success`, or the failure reason: `badCredentials`, `inactive`, `unverified`,
 * `throttled`), `method` (`password`, `oauth:<provider>`) and `backend`.
 *
 * @since 0.2.0
 */
export const logins = Metric.counter("effect_users.logins", {
  description: "Logins by outcome, method and backend",
  incremental: true
})

/**
 * Sessions opened by a login, by `method` and `backend`.
 *
 * @since 0.2.0
 */
export const sessionsCreated = Metric.counter("effect_users.sessions.created", {
  description: "Sessions opened by a login, by method and backend",
  incremental: true
})

/**
 * Spent refresh tokens presented again (each ends its family), by `backend`.
 *
 * @since 0.2.0
 */
export const refreshReuse = Metric.counter("effect_users.refresh.reuse", {
  description: "Refresh tokens presented again after rotation (the family ends), by backend",
  incremental: true
})

/**
 * Requests refused or mails held back by `Throttle`, by `route` and `scope` (`client`, `address`, `account`,
 * `device`).
 *
 * @since 0.2.0
 */
export const throttled = Metric.counter("effect_users.throttled", {
  description: "Requests refused (or mails not sent) by the throttle, by route and scope",
  incremental: true
})

/**
 * Hashes and verifies waiting for a hashing slot right now.
 *
 * @since 0.2.0
 */
export const hashQueueDepth = Metric.gauge("effect_users.password_hasher.queue.depth", {
  description: "Password hashes and verifies waiting for a hashing slot"
})

/**
 * How long a hash or verify waited for its slot, in milliseconds (0 when one was free).
 *
 * @since 0.2.0
 */
export const hashQueueWait = Metric.histogram(
  "effect_users.password_hasher.queue.wait",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 13 }),
  "Milliseconds a password hash or verify waited for a hashing slot"
)

const label = (value: string | undefined) => value ?? "unknown"

const count = (counter: Metric.Metric.Counter<number>, attributes: Record<string, string>) =>
  Metric.increment(
    Metric.taggedWithLabels(
      counter,
      Object.entries(attributes).map(([key, value]) => MetricLabel.make(key, value))
    )
  )

const record = (event: AuthEvents.AuthEvent): Effect.Effect<void> => {
  switch (event._tag) {
    case "LoginSucceeded": {
      const how = { method: label(event.method), backend: label(event.backend) }
      return Effect.zipRight(count(logins, { outcome: "success", ...how }), count(sessionsCreated, how))
    }
    case "LoginFailed":
      return count(logins, { outcome: event.reason, method: label(event.method), backend: label(event.backend) })
    case "RefreshReuseDetected":
      return count(refreshReuse, { backend: label(event.backend) })
    default:
      return Effect.void
  }
}

/**
 * The sink that counts logins, sessions created and refresh-token reuse.
 *
 * @since 0.2.0
 */
export const sink: AuthEvents.Sink = {
  name: "metrics",
  write: (events) => Effect.forEach(events, (event) => record(event), { discard: true })
}

/**
 * Adds the metrics sink to the `AuthEvents` in context (provide `AuthEvents.layer()` under it).
 *
 * @since 0.2.0
 */
export const layer: Layer.Layer<never> = AuthEvents.layerSink(sink)

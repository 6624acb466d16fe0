/**
 * Outages as one error. Each adapter recognises its own driver's "down, unreachable, overloaded, timed out"
 * (`SqlUnavailable` in `effect-users/sql`, `PgUnavailable` in `effect-users/pg`, `RedisUnavailable` in
 * `effect-users/redis`) and dies with `ServiceUnavailable` where it gives up on a driver error; the HTTP edge
 * answers that one error with 503 and `Retry-After` and knows no driver. What the recognisers share lives here,
 * with no driver: walking an error's causes, Node's socket error codes, the one-line description of an error
 * chain for logs, and the `orDie` that applies a recogniser.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { ServiceUnavailable } from "./UserError.js"

/**
 * Why a dependency cannot serve the request, and when to try again.
 *
 * @since 0.2.0
 */
export interface Unavailability {
  /** For operators' logs: names the fault, never its data. */
  readonly reason: string
  /** Seconds, sent as `Retry-After`. */
  readonly retryAfter: number
}

/**
 * `Retry-After` of a storage outage (seconds): long enough for a restart or a failover to be noticed.
 *
 * @since 0.2.0
 */
export const storageRetryAfter = 5

/**
 * Tells whether an adapter's error means that its dependency cannot serve now.
 *
 * @since 0.2.0
 */
export type Recogniser = (error: unknown) => boolean

/**
 * An error's `code` when it is a string (Node's `ECONNREFUSED`, a SQLSTATE, an SQLite code), else `undefined`.
 *
 * @since 0.2.0
 */
export const codeOf = (u: unknown): string | undefined =>
  Predicate.hasProperty(u, "code") && typeof u.code === "string" ? u.code : undefined

/**
 * An error's `message` when it has one, else `""`.
 *
 * @since 0.2.0
 */
export const messageOf = (u: unknown): string =>
  Predicate.hasProperty(u, "message") && typeof u.message === "string" ? u.message : ""

const maxDepth = 6

/**
 * Whether the error or one of its causes satisfies `predicate`: its `cause`, and each of the `errors` of an
 * `AggregateError` (Node's connect to a host with several addresses), a few levels deep.
 *
 * @since 0.2.0
 */
export const someCause = (u: unknown, predicate: (cause: object) => boolean, depth = 0): boolean => {
  if (depth >= maxDepth || !Predicate.isObject(u)) return false
  if (predicate(u)) return true
  if (Predicate.hasProperty(u, "errors") && Array.isArray(u.errors)) {
    if (u.errors.some((inner) => someCause(inner, predicate, depth + 1))) return true
  }
  return Predicate.hasProperty(u, "cause") && someCause(u.cause, predicate, depth + 1)
}

// Node's socket errors that mean "cannot reach the server".
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN"
])

/**
 * Whether the error or one of its causes is a Node socket error that means "cannot reach the server".
 *
 * @since 0.2.0
 */
export const isNetworkFault = (u: unknown): boolean => someCause(u, (cause) => networkCodes.has(codeOf(cause) ?? ""))

/**
 * The `ServiceUnavailable` the error is, or was caused by (following `cause`), as an unavailability.
 *
 * @since 0.2.0
 */
export const find = (u: unknown): Option.Option<Unavailability> => {
  for (let current: unknown = u, depth = 0; Predicate.isObject(current) && depth < maxDepth; depth++) {
    if (current instanceof ServiceUnavailable) {
      return Option.some({ reason: current.reason, retryAfter: current.retryAfter ?? 1 })
    }
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return Option.none()
}

const describeOne = (u: unknown): string => {
  if (!Predicate.isObject(u)) return typeof u === "string" ? "a string defect" : `a defect of type ${typeof u}`
  const tag = Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" ? u._tag : undefined
  const name = tag ?? (u instanceof Error ? u.name : "object")
  // A ParseError's message quotes the value that failed to decode (a row, a hash): never log it.
  if (name === "ParseError") return "ParseError (a value did not decode; not shown)"
  if (u instanceof ServiceUnavailable) return `ServiceUnavailable: ${u.reason}`
  const code = codeOf(u)
  // SQLSTATE class 22 (data exceptions) quotes the offending value: keep the code, drop the message.
  const message = code?.startsWith("22") ? "(data exception; message not shown)" : messageOf(u).slice(0, 300)
  return `${name}${message === "" ? "" : `: ${message}`}${code === undefined ? "" : ` [${code}]`}`
}

/**
 * A one-line account of an error and its causes (names, messages, codes; never a value), for a log line.
 *
 * @since 0.2.0
 */
export const describe = (u: unknown): string => {
  const parts: Array<string> = []
  for (let current: unknown = u, depth = 0; current !== undefined && depth < maxDepth; depth++) {
    parts.push(describeOne(current))
    if (Predicate.isTagged(current, "ParseError")) break
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return parts.join(" <- ")
}

/**
 * The `ServiceUnavailable` of a storage outage: the reason names the error chain, `Retry-After` is `storageRetryAfter`.
 *
 * @since 0.2.0
 */
export const storageUnavailable = (error: unknown): ServiceUnavailable =>
  new ServiceUnavailable({ reason: `storage unavailable: ${describe(error)}`, retryAfter: storageRetryAfter })

/**
 * The defect an adapter dies with: `storageUnavailable(error)` when `isUnavailable` recognises an outage, else the error.
 *
 * @since 0.2.0
 */
export const defectOf = (isUnavailable: Recogniser, error: unknown): unknown =>
  isUnavailable(error) ? storageUnavailable(error) : error

/**
 * `Effect.orDie` for an adapter: an error that `isUnavailable` recognises dies with `ServiceUnavailable`
 * (`storageUnavailable`), any other error dies as itself.
 *
 * @since 0.2.0
 */
export const orDieWith =
  (isUnavailable: Recogniser) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, never, R> =>
    Effect.orDieWith(self, (error) => defectOf(isUnavailable, error))

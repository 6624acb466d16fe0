/**
 * What the HTTP edge answers when a request fails for a reason that is not the client's: 503
 * `{"detail": "SERVICE_UNAVAILABLE"}` with `Retry-After` when a dependency is down or overloaded (storage
 * or Redis unreachable, pool exhausted, a full hash queue: every `ServiceUnavailable`), 500
 * `{"detail": "INTERNAL_SERVER_ERROR"}` for every other defect. Each is logged once, as one error line that
 * names the cause without its data (no parameters, no input, no tokens).
 *
 * Storage faults are defects in this codebase (repositories `orDie` their `SqlError`s), so they are told
 * apart here, at the edge, by what the error says about the connection.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { ServiceUnavailable } from "../UserError.js"

/**
 * Why a dependency cannot serve the request, and when to try again.
 *
 * @since 0.1.0
 */
export interface Unavailability {
  /** For operators' logs: names the fault, never its data. */
  readonly reason: string
  /** Seconds, sent as `Retry-After`. */
  readonly retryAfter: number
}

/**
 * `Retry-After` of a storage outage: long enough for a restart or a failover to be noticed.
 *
 * @since 0.1.0
 */
export const storageRetryAfter = 5

// Node's socket errors that mean "cannot reach the server" (an AggregateError carries one of them too).
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

// PostgreSQL SQLSTATEs: class 08 (connection exception), class 53 (insufficient resources: too many
// connections, out of memory, disk full), shutdowns and "starting up", and statement or lock timeouts.
const pgUnavailable = (code: string) =>
  code.startsWith("08") || code.startsWith("53") || ["57P01", "57P02", "57P03", "57014", "55P03"].includes(code)

// SQLite: a lock held too long, I/O faults, a full disk or a file that cannot be opened.
const sqliteUnavailable = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|NOMEM|PROTOCOL)/

// What `pg` and `pg-pool` say, without a code, when a connection dies, cannot be had in time or a query gets
// no answer in time (`query_timeout`); and the messages of @effect/sql-pg's own connection failures.
const connectionMessage =
  /connection terminated|timeout exceeded when trying to connect|connection timed out|query read timeout|not queryable|failed to acquire connection|^connection error$|failed to connect/i

// What ioredis says when a command cannot be sent or answered (no offline queue, a closed connection, the
// command timeout, no retries left), and Redis's own replies of a server that cannot serve now (loading,
// a read-only replica, out of memory, a cluster failing over).
const redisUnavailable =
  /^Stream isn't writeable|^Connection is closed|^Command timed out|^Reached the max retries per request limit|^None of startup nodes is available|^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|OOM) /

const codeOf = (u: unknown): string | undefined =>
  Predicate.hasProperty(u, "code") && typeof u.code === "string" ? u.code : undefined

const messageOf = (u: unknown): string =>
  u instanceof Error || (Predicate.hasProperty(u, "message") && typeof u.message === "string")
    ? String((u as { message: unknown }).message)
    : ""

/** Whether an error (or what caused it) says that the storage connection is down, refused or timed out. */
const isConnectionFault = (u: unknown, depth = 0): boolean => {
  if (depth > 5 || !Predicate.isObject(u)) return false
  const code = codeOf(u)
  if (code !== undefined && (networkCodes.has(code) || pgUnavailable(code) || sqliteUnavailable.test(code))) {
    return true
  }
  const message = messageOf(u)
  if (connectionMessage.test(message) || redisUnavailable.test(message)) return true
  if (Predicate.hasProperty(u, "errors") && Array.isArray(u.errors)) {
    if (u.errors.some((inner) => isConnectionFault(inner, depth + 1))) return true
  }
  return Predicate.hasProperty(u, "cause") && isConnectionFault(u.cause, depth + 1)
}

/**
 * The unavailability a failure or defect stands for, if there is one: a `ServiceUnavailable`, or an `SqlError` or
 * `RedisError` whose cause is a connection or availability problem (also when wrapped as the `cause` of another
 * error).
 *
 * @since 0.1.0
 */
export const unavailability = (u: unknown): Option.Option<Unavailability> => {
  for (let current: unknown = u, depth = 0; Predicate.isObject(current) && depth < 6; depth++) {
    if (current instanceof ServiceUnavailable) {
      return Option.some({ reason: current.reason, retryAfter: current.retryAfter ?? 1 })
    }
    // Tags, not classes: `RedisError` lives in `effect-users/redis`, which the edge must not load (ioredis).
    if (
      (Predicate.isTagged(current, "SqlError") || Predicate.isTagged(current, "RedisError")) &&
      isConnectionFault(current)
    ) {
      return Option.some({ reason: `storage unavailable: ${describe(current)}`, retryAfter: storageRetryAfter })
    }
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return Option.none()
}

/**
 * Whether a failure or defect means "a dependency is down or overloaded: try again later".
 *
 * @since 0.1.0
 */
export const isUnavailable = (u: unknown): boolean => Option.isSome(unavailability(u))

/**
 * How the edge answers a cause: 503, 500, or left to the API (typed failures it encodes, interruptions).
 *
 * @since 0.1.0
 */
export type Verdict =
  | { readonly _tag: "Unavailable"; readonly unavailability: Unavailability }
  | { readonly _tag: "Internal"; readonly defect: unknown }
  | { readonly _tag: "Expected" }

const expected: Verdict = { _tag: "Expected" }

/**
 * Classifies a request's failure: an unavailability is a 503; a defect with no typed failure is a 500.
 *
 * @since 0.1.0
 */
export const classify = (cause: Cause.Cause<unknown>): Verdict => {
  const defects = Chunk.toReadonlyArray(Cause.defects(cause))
  const failures = Chunk.toReadonlyArray(Cause.failures(cause))
  for (const u of [...defects, ...failures]) {
    const found = unavailability(u)
    if (Option.isSome(found)) return { _tag: "Unavailable", unavailability: found.value }
  }
  if (defects.length > 0 && failures.length === 0) return { _tag: "Internal", defect: defects[0] }
  return expected
}

const describeOne = (u: unknown): string => {
  if (!Predicate.isObject(u)) return typeof u === "string" ? "a string defect" : `a defect of type ${typeof u}`
  const tag = Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" ? u._tag : undefined
  const name = tag ?? (u instanceof Error ? u.name : "object")
  // A ParseError's message quotes the value that failed to decode (a row, a hash): never log it.
  if (name === "ParseError") return "ParseError (a value did not decode; not shown)"
  const code = codeOf(u)
  // PostgreSQL's data exceptions (class 22) quote the offending value: keep the code, drop the message.
  const message = code?.startsWith("22") ? "(data exception; message not shown)" : messageOf(u).slice(0, 300)
  return `${name}${message === "" ? "" : `: ${message}`}${code === undefined ? "" : ` [${code}]`}`
}

/**
 * A one-line account of an error and its causes (names, messages, codes), for a log line.
 *
 * @since 0.1.0
 */
export const describe = (u: unknown): string => {
  const parts: Array<string> = []
  for (let current: unknown = u, depth = 0; current !== undefined && depth < 6; depth++) {
    parts.push(describeOne(current))
    if (Predicate.isTagged(current, "ParseError")) break
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return parts.join(" <- ")
}

// The defect as logged: its description and the original stack frames (code locations, no data).
const loggable = (defect: unknown): Error => {
  const error = new Error(describe(defect))
  const frames =
    defect instanceof Error && defect.stack !== undefined
      ? defect.stack.split("\n").filter((line) => /^\s+at /.test(line))
      : []
  error.stack = [`Error: ${error.message}`, ...frames].join("\n")
  return error
}

/**
 * The 503 answer: `{"detail": "SERVICE_UNAVAILABLE"}` with `Retry-After` in whole seconds.
 *
 * @since 0.1.0
 */
export const unavailableResponse = (retryAfter: number): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    { detail: "SERVICE_UNAVAILABLE" },
    { status: 503, headers: { "retry-after": String(Math.max(1, Math.ceil(retryAfter))) } }
  )

/**
 * The 500 answer: `{"detail": "INTERNAL_SERVER_ERROR"}`.
 *
 * @since 0.1.0
 */
export const internalErrorResponse = (): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson({ detail: "INTERNAL_SERVER_ERROR" }, { status: 500 })

/**
 * An unknown route: FastAPI's `{"detail": "Not Found"}`, not an empty body.
 *
 * @since 0.1.0
 */
export const notFoundResponse = (): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson({ detail: "Not Found" }, { status: 404 })

const isRouteNotFound = (cause: Cause.Cause<unknown>): boolean =>
  Chunk.some(Cause.failures(cause), (failure) => Predicate.isTagged(failure, "RouteNotFound"))

// Method and path only: a query string may carry an OAuth code or state.
const where = Effect.map(HttpServerRequest.HttpServerRequest, (request) => ({
  method: request.method,
  path: request.url.split("?")[0] ?? ""
}))

/**
 * Answers a failed request by its verdict (see `classify`), logging 503s and 500s once each; typed failures
 * and interruptions are left to the API.
 *
 * @since 0.1.0
 */
export const handleCause = <E>(
  cause: Cause.Cause<E>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, HttpServerRequest.HttpServerRequest> => {
  const verdict = classify(cause)
  switch (verdict._tag) {
    case "Expected":
      return isRouteNotFound(cause) ? Effect.succeed(notFoundResponse()) : Effect.failCause(cause)
    case "Unavailable":
      return Effect.flatMap(where, (request) =>
        Effect.logError(`Service unavailable, answered 503: ${verdict.unavailability.reason}`).pipe(
          Effect.annotateLogs(request),
          Effect.as(unavailableResponse(verdict.unavailability.retryAfter))
        )
      )
    case "Internal":
      return Effect.flatMap(where, (request) =>
        Effect.logError("Unexpected defect, answered 500", Cause.die(loggable(verdict.defect))).pipe(
          Effect.annotateLogs(request),
          Effect.as(internalErrorResponse())
        )
      )
  }
}

/**
 * An API-level middleware: 503 with `Retry-After` for unavailable dependencies, 500 with a `detail` body for
 * other defects, one error log line each. `UsersApi.make(...).layer(api)` installs it for the whole API.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<never> = HttpApiBuilder.middleware((app) => Effect.catchAllCause(app, handleCause))

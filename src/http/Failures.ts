/**
 * What the HTTP edge answers when a request fails for a reason that is not the client's: 503
 * `{"detail": "SERVICE_UNAVAILABLE"}` with `Retry-After` when a dependency is down or overloaded (storage
 * or Redis unreachable, pool exhausted, a full hash queue: every `ServiceUnavailable`), 500
 * `{"detail": "INTERNAL_SERVER_ERROR"}` for every other defect. Each is logged once, as one error line that
 * names the cause without its data (no parameters, no input, no tokens).
 *
 * The edge knows one outage, `ServiceUnavailable` (a defect or a failure): each adapter recognises its own
 * driver's outages and dies with it (`SqlUnavailable`, `PgUnavailable`, `RedisUnavailable`). Any other defect,
 * a driver's error included, is a 500.
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
import * as Unavailable from "../Unavailable.js"

/**
 * Why a dependency cannot serve the request, and when to try again.
 *
 * @since 0.1.0
 */
export type Unavailability = Unavailable.Unavailability

/**
 * The unavailability a failure or defect stands for, if there is one: a `ServiceUnavailable`, also when it is
 * the `cause` of another error. Adapters turn their own outages into `ServiceUnavailable`; the edge reads no
 * driver's error.
 *
 * @since 0.1.0
 */
export const unavailability = (u: unknown): Option.Option<Unavailability> => Unavailable.find(u)

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

/**
 * A one-line account of an error and its causes (names, messages, codes; never a value), for a log line.
 *
 * @since 0.1.0
 */
export const describe = (u: unknown): string => Unavailable.describe(u)

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

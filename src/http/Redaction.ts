/**
 * Secrets in query strings stay out of logs and traces. An OAuth callback carries the provider's `code` and our
 * `state`; a link in a mail carries a reset or verification `token`. @effect/platform's server span records the
 * whole URL (`url.full`, `url.query`) and its request logger (`HttpMiddleware.logger`) logs it (`http.url`):
 * `layer`, installed by `UsersApi.make(...).layer(api)` on every route of the API, rewrites both for requests
 * whose query names one of these parameters, so that each value reads `REDACTED` and the rest of the URL stays.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"

/**
 * The query parameters whose values are secrets: OAuth's `code`, `state` and tokens, and the tokens of mailed links.
 *
 * @since 0.2.0
 */
export const secretParams: ReadonlySet<string> = new Set([
  "code",
  "state",
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "mfa_token",
  "client_secret",
  "password"
])

const placeholder = "REDACTED"

const nameOf = (pair: string) => {
  const raw = pair.slice(0, pair.includes("=") ? pair.indexOf("=") : pair.length).replaceAll("+", " ")
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/**
 * A query string (without `?`) with the value of each secret parameter replaced by `REDACTED`.
 *
 * @since 0.2.0
 */
export const redactQuery = (query: string, secrets: ReadonlySet<string> = secretParams): string =>
  query
    .split("&")
    .map((pair) => (secrets.has(nameOf(pair)) ? `${pair.split("=", 1)[0]}=${placeholder}` : pair))
    .join("&")

/**
 * A URL (absolute, or a path with its query) with the value of each secret query parameter replaced by
 * `REDACTED`; the same string when it has none.
 *
 * @since 0.2.0
 */
export const redactUrl = (url: string, secrets: ReadonlySet<string> = secretParams): string => {
  const question = url.indexOf("?")
  if (question === -1) return url
  const hash = url.indexOf("#", question)
  const end = hash === -1 ? url.length : hash
  return `${url.slice(0, question + 1)}${redactQuery(url.slice(question + 1, end), secrets)}${url.slice(end)}`
}

// The annotations that hold a URL: the platform's request logger writes `http.url`; spans' names, if logged.
const urlAnnotations = ["http.url", "url.full"] as const

const redactingLogger = (secrets: ReadonlySet<string>) => (logger: Logger.Logger<unknown, unknown>) =>
  Logger.mapInputOptions(logger, (options: Logger.Logger.Options<unknown>) => {
    let annotations = options.annotations
    for (const key of urlAnnotations) {
      const value = HashMap.get(annotations, key)
      if (Option.isSome(value) && typeof value.value === "string") {
        annotations = HashMap.set(annotations, key, redactUrl(value.value, secrets))
      }
    }
    return annotations === options.annotations ? options : { ...options, annotations }
  })

/**
 * An `HttpMiddleware` that keeps the secret query parameters of a request out of the platform's server span and
 * request log. A request without them costs one `indexOf`.
 *
 * @since 0.2.0
 */
export const middleware =
  (secrets: ReadonlySet<string> = secretParams) =>
  <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      if (!request.url.includes("?") || redactUrl(request.url, secrets) === request.url) return app
      return Effect.zipRight(
        Effect.all([
          // The server span was started (its attributes written) before any route ran: overwrite them here.
          Effect.map(Effect.option(Effect.currentSpan), (span) => {
            if (Option.isNone(span) || span.value.kind !== "server") return
            const url = Option.getOrUndefined(HttpServerRequest.toURL(request))
            if (url === undefined) return
            span.value.attribute("url.full", redactUrl(url.href, secrets))
            if (url.search !== "") span.value.attribute("url.query", redactQuery(url.search.slice(1), secrets))
          }),
          // The request logger logs once the app has answered, in this fiber: it logs through these loggers.
          FiberRef.update(FiberRef.currentLoggers, (loggers) => HashSet.map(loggers, redactingLogger(secrets)))
        ]),
        app
      )
    })

/**
 * `middleware` for every route of the `HttpApi` it is provided to (ours and the app's own).
 *
 * @since 0.2.0
 */
export const layer = (secrets: ReadonlySet<string> = secretParams): Layer.Layer<never> => {
  const redact = middleware(secrets)
  return HttpApiBuilder.middleware((app) => redact(app))
}

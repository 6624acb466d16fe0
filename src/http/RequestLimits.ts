/**
 * Bounds on what a request may send: a body size limit for every route of an API (413 before anything is
 * parsed or hashed), and the content types a JSON endpoint accepts (415 otherwise), so that a browser cannot
 * send it a cross-site form, `text/plain` or multipart body without a CORS preflight.
 */

import type { IncomingMessage } from "node:http"
import { Readable } from "node:stream"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { detail, ValidationError } from "./HttpErrors.js"

/**
 * The default body limit: 64 KiB, far above every body of the user routes.
 *
 * @since 0.1.0
 */
export const defaultMaxBodySize = 64 * 1024

/**
 * Options of the body limit.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The largest body accepted, in bytes; default 64 KiB. */
  readonly maxBodySize?: number | undefined
}

/**
 * 413: the body is larger than the limit.
 *
 * @since 0.1.0
 */
export const PayloadTooLarge = detail("PAYLOAD_TOO_LARGE", 413, "The request body is larger than the server accepts")
/**
 * 413 body.
 *
 * @since 0.1.0
 */
export type PayloadTooLarge = typeof PayloadTooLarge.Type

/**
 * 415: the body's content type is not one the endpoint accepts.
 *
 * @since 0.1.0
 */
export const UnsupportedMediaType = detail(
  "UNSUPPORTED_MEDIA_TYPE",
  415,
  "The endpoint accepts application/json bodies only (login: also the urlencoded form)"
)
/**
 * 415 body.
 *
 * @since 0.1.0
 */
export type UnsupportedMediaType = typeof UnsupportedMediaType.Type

// The connection is closed after a 413: the rest of the body is never read.
const tooLarge = HttpServerResponse.unsafeJson(
  { detail: "PAYLOAD_TOO_LARGE" },
  { status: 413, headers: { connection: "close" } }
)

const Bounded = Symbol.for("effect-users/RequestLimits/Bounded")

/** The request with its body already read into `bytes`: every body accessor answers from them. */
const withBody = (
  request: HttpServerRequest.HttpServerRequest,
  bytes: Uint8Array
): HttpServerRequest.HttpServerRequest => {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")
  const decodeError = (cause: unknown) => new HttpServerError.RequestError({ request, reason: "Decode", cause })
  return Object.create(request, {
    [Bounded]: { value: true },
    text: { value: Effect.succeed(text) },
    json: {
      value: Effect.try({ try: () => (text === "" ? null : (JSON.parse(text) as unknown)), catch: decodeError })
    },
    urlParamsBody: {
      value: Effect.try({ try: () => UrlParams.fromInput(new URLSearchParams(text)), catch: decodeError })
    },
    arrayBuffer: { value: Effect.sync(() => bytes.slice().buffer) },
    stream: { value: Stream.succeed(bytes) },
    modify: {
      value: (options: Parameters<HttpServerRequest.HttpServerRequest["modify"]>[0]) =>
        withBody(request.modify(options), bytes)
    }
  })
}

/**
 * Reads a body of unknown length up to `max` bytes. Past the limit it stops listening and leaves the rest
 * to be discarded (the 413 closes the connection): destroying the request here would reset the socket
 * before the 413 could be written.
 */
const readAtMost = (source: IncomingMessage, max: number): Effect.Effect<Uint8Array | undefined> =>
  Effect.async<Uint8Array | undefined>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > max) {
        cleanup()
        resume(Effect.succeed(undefined))
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks, size)))
    }
    // The client went away: the server interrupts the request's fiber; nothing to answer.
    const onError = () => cleanup()
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onError)
    return Effect.sync(cleanup)
  })

const nodeSource = (request: HttpServerRequest.HttpServerRequest): IncomingMessage | undefined => {
  // What `NodeHttpServerRequest.toIncomingMessage` returns, without loading its module (which loads undici and ws).
  const source: unknown = request.source
  return source instanceof Readable ? (source as IncomingMessage) : undefined
}

/** How long a connection answered 413 keeps reading, and discarding, what the client still sends. */
const lingerMillis = 2_000

/**
 * The 413, closing the connection with a lingering close (RFC 9112, 9.6). Node destroys the socket as soon as a
 * `Connection: close` response is written; with the client still sending, that close is a reset, and the
 * client's TCP stack drops the 413 before the client reads it. Here the socket is half-closed instead, the rest
 * of the body is discarded, and the socket is destroyed once the client closes or after `lingerMillis`.
 */
const refuse = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.sync(() => {
    const socket = nodeSource(request)?.socket
    if (socket !== undefined && !socket.destroyed) {
      socket.destroySoon = () => {
        socket.end()
        const timer = setTimeout(() => socket.destroy(), lingerMillis)
        timer.unref()
        socket.once("close", () => clearTimeout(timer))
      }
    }
    return tooLarge
  })

/**
 * An `HttpMiddleware` that bounds request bodies: a `Content-Length` above the limit answers 413
 * `{"detail": "PAYLOAD_TOO_LARGE"}` before reading anything; a body without one (chunked) is read up to
 * the limit and answered 413 as soon as it passes it. A request without a body costs two header lookups.
 *
 * @since 0.1.0
 */
export const middleware =
  (options: Options = {}) =>
  <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> => {
    const max = options.maxBodySize ?? defaultMaxBodySize
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const headers = request.headers
      const length = headers["content-length"]
      if (length !== undefined) return Number(length) <= max ? app : refuse(request)
      if (headers["transfer-encoding"] === undefined || Bounded in request) return app
      const source = nodeSource(request)
      if (source === undefined) return HttpIncomingMessage.withMaxBodySize(app, Option.some(max))
      return Effect.flatMap(readAtMost(source, max), (bytes) =>
        bytes === undefined
          ? refuse(request)
          : Effect.provideService(app, HttpServerRequest.HttpServerRequest, withBody(request, bytes))
      )
    })
  }

/**
 * The body limit for every route of the `HttpApi` it is provided to (ours and the app's own), as an
 * API-level middleware. `UsersApi.make(...).layer(api)` installs it with `maxBodySize` of `UsersApi.make`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<never> => {
  const limit = middleware(options)
  return HttpApiBuilder.middleware((app) => limit(app))
}

const essence = (request: HttpServerRequest.HttpServerRequest): string => {
  const header = request.headers["content-type"]
  if (header === undefined) return ""
  const semicolon = header.indexOf(";")
  return (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase()
}

const unsupported: UnsupportedMediaType = { detail: "UNSUPPORTED_MEDIA_TYPE" }

/**
 * The deepest nesting of arrays and objects a JSON body may have.
 *
 * @since 0.1.0
 */
export const maxJsonDepth = 32

/** Whether `[` and `{` outside strings nest deeper than `max`, in one pass. */
const nestedDeeperThan = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (inString) {
      if (char === 92)
        i++ // a backslash escapes the next character
      else if (char === 34) inString = false
    } else if (char === 34) {
      inString = true
    } else if (char === 91 || char === 123) {
      if (++depth > max) return true
    } else if (char === 93 || char === 125) {
      depth--
    }
  }
  return false
}

// Schema's error formatters recurse into the value: a deeply nested body would overflow the stack (a 500).
const tooDeep: ValidationError = {
  detail: [{ loc: ["body"], msg: `JSON nested deeper than ${maxJsonDepth} levels`, type: "json_invalid" }]
}

const Failure = Schema.Union(UnsupportedMediaType, ValidationError)
type Failure = typeof Failure.Type

/**
 * An endpoint middleware: the body must be `application/json` (with or without parameters, e.g. a charset), else 415;
 * nested at most `maxJsonDepth` levels, else 422.
 *
 * @since 0.1.0
 */
export class JsonOnly extends HttpApiMiddleware.Tag<JsonOnly>()("effect-users/RequestLimits/JsonOnly", {
  failure: Failure
}) {}

/**
 * Like `JsonOnly`, and accepts `application/x-www-form-urlencoded` too (the login form).
 *
 * @since 0.1.0
 */
export class JsonOrForm extends HttpApiMiddleware.Tag<JsonOrForm>()("effect-users/RequestLimits/JsonOrForm", {
  failure: Failure
}) {}

/**
 * Like `JsonOnly`, for routes that take no payload (logout, log out everywhere, ending a session): no body at all,
 * or a JSON one; any other body or content type is 415.
 *
 * @since 0.2.0
 */
export class JsonOrEmpty extends HttpApiMiddleware.Tag<JsonOrEmpty>()("effect-users/RequestLimits/JsonOrEmpty", {
  failure: Failure
}) {}

const hasBody = (request: HttpServerRequest.HttpServerRequest) => {
  const length = request.headers["content-length"]
  return (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined
}

const accepting = (
  accepts: "form" | "empty" | "json"
): Effect.Effect<void, Failure, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request): Effect.Effect<void, Failure> => {
    const type = essence(request)
    if (accepts === "form" && type === "application/x-www-form-urlencoded") return Effect.void
    if (accepts === "empty" && type === "" && !hasBody(request)) return Effect.void
    if (type !== "application/json") return Effect.fail(unsupported)
    // The request caches its text: the payload's decoding reads it again for free.
    return Effect.flatMap(Effect.orDie(request.text), (text) =>
      nestedDeeperThan(text, maxJsonDepth) ? Effect.fail(tooDeep) : Effect.void
    )
  })

/**
 * Implements `JsonOnly`, `JsonOrForm` and `JsonOrEmpty`.
 *
 * @since 0.1.0
 */
export const layerContentTypes: Layer.Layer<JsonOnly | JsonOrForm | JsonOrEmpty> = Layer.mergeAll(
  Layer.succeed(JsonOnly, accepting("json")),
  Layer.succeed(JsonOrForm, accepting("form")),
  Layer.succeed(JsonOrEmpty, accepting("empty"))
)

/**
 * Puts the user routes' content-type rule on every endpoint of an app's own group: a body must be JSON (415 for a
 * form, `text/plain` or multipart body, which a browser sends cross-site without a CORS preflight, to a
 * cookie-authenticated route too), and a request without a body passes (`JsonOrEmpty`). The body limit already
 * bounds every route of the API that `UsersApi.make(...).layer(api)` serves, which also implements the rule:
 * `class Notes extends RequestLimits.guard(HttpApiGroup.make("notes").add(...)) {}`.
 *
 * @since 0.3.0
 */
export const guard = <
  Id extends string,
  Endpoints extends HttpApiEndpoint.HttpApiEndpoint.Any,
  Error,
  R,
  TopLevel extends true | false
>(
  group: HttpApiGroup.HttpApiGroup<Id, Endpoints, Error, R, TopLevel>
): HttpApiGroup.HttpApiGroup<Id, Endpoints, Error | Failure, R | JsonOrEmpty, TopLevel> => group.middleware(JsonOrEmpty)

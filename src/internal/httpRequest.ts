/**
 * The request being served, for the core modules that hand it to hooks without depending on an HTTP server.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Context from "effect/Context"

/**
 * `@effect/platform`'s `HttpServerRequest` tag, declared again under the same key: tags with one key are one
 * service, so the manager reads the request a platform server provides without loading `@effect/platform`
 * (an app that uses only the core never loads it).
 */
export const HttpServerRequestTag = Context.GenericTag<HttpServerRequest.HttpServerRequest>(
  "@effect/platform/HttpServerRequest"
)

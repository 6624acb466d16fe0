/**
 * The API's documentation, built on first request instead of at start-up: `HttpApiSwagger.layer` and
 * `HttpApiBuilder.middlewareOpenApi` build their page and document when the server starts, and Swagger UI's
 * module alone is about 7 MB of strings, so an idle server that nobody reads the docs of keeps them out of
 * memory. The page is still `HttpApiSwagger`'s own (mounted on a router of its own when first asked for).
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** Where the documentation is served. */
export interface DocsOptions {
  /** Swagger UI's page; default `/docs`. */
  readonly swagger?: `/${string}`
  /** The OpenAPI document; default `/openapi.json`. */
  readonly openApi?: `/${string}`
}

/** Swagger UI and the OpenAPI document of the served `HttpApi`, each built once, when first requested. */
export const layerLazy = (options: DocsOptions = {}): Layer.Layer<never, never, HttpApi.Api> =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function* () {
      const api = yield* HttpApi.Api
      const swaggerPath = options.swagger ?? "/docs"
      const document = yield* Effect.cached(Effect.orDie(HttpServerResponse.json(OpenApi.fromApi(api.api))))
      const swagger = yield* Effect.cached(
        Effect.gen(function* () {
          const HttpApiSwagger = yield* Effect.promise(() => import("@effect/platform/HttpApiSwagger"))
          const docs = Layer.provideMerge(HttpApiSwagger.layer({ path: swaggerPath }), HttpApiBuilder.Router.Live)
          return yield* HttpApiBuilder.Router.router.pipe(
            Effect.provide(Layer.provide(docs, Layer.succeed(HttpApi.Api, api)))
          )
        })
      )
      yield* router.get(options.openApi ?? "/openapi.json", document)
      yield* router.get(swaggerPath, Effect.flatten(swagger))
    })
  )

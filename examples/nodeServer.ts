/**
 * `npm start`'s HTTP server: platform-node's, except that its port opens only once the app is served on it.
 * `NodeHttpServer.layer` listens as soon as it is built and attaches the app later, once every layer the app needs
 * is built (the database, its migrations, the routes): a connection accepted in between is never answered. Here
 * `serve` attaches the app's handler first and then listens, so every accepted connection finds the whole app.
 */
import type * as Http from "node:http"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** Where the server listens. */
export interface ListenOptions {
  readonly port: number
  readonly host: string
}

/** The `HttpServer` on the Node server `evaluate` creates (not listening yet); it listens when an app is served. */
export const make = (evaluate: () => Http.Server, options: ListenOptions) =>
  Effect.map(
    Effect.acquireRelease(Effect.sync(evaluate), (server) =>
      Effect.async<void>((resume) => {
        if (!server.listening) return resume(Effect.void)
        server.close((error) => resume(error ? Effect.die(error) : Effect.void))
      })
    ),
    (server) =>
      HttpServer.make({
        address: { _tag: "TcpAddress", hostname: options.host, port: options.port },
        serve: (httpApp, middleware) =>
          Effect.gen(function* () {
            const handler = yield* NodeHttpServer.makeHandler(httpApp, middleware!)
            yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", handler)))
            server.on("request", handler)
            // A port taken by another process ends the start-up, as platform-node's ServeError does.
            yield* Effect.async<void>((resume) => {
              const onError = (error: Error) => resume(Effect.die(error))
              server.once("error", onError)
              server.listen(options, () => {
                server.off("error", onError)
                resume(Effect.void)
              })
            })
          })
      })
  )

/** `NodeHttpServer.layerConfig`'s counterpart: the server and the platform services an app's handlers use. */
export const layerConfig = (evaluate: () => Http.Server, options: Config.Config.Wrap<ListenOptions>) =>
  Layer.merge(
    Layer.scoped(
      HttpServer.HttpServer,
      Effect.flatMap(Config.unwrap(options), (listen) => make(evaluate, listen))
    ),
    NodeHttpServer.layerContext
  )

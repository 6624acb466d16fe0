/**
 * `npm start`'s HTTP server: platform-node's request handling on a plain `node:http` server, with two changes.
 *
 * - Its port opens only once the app is served on it. `NodeHttpServer.layer` listens as soon as it is built and
 *   attaches the app later, once every layer the app needs is built (the database, its migrations, the routes): a
 *   connection accepted in between is never answered. Here `serve` attaches the app's handler first and then
 *   listens, so every accepted connection finds the whole app.
 * - It loads less. `@effect/platform-node/NodeHttpServer` (and `NodeHttpServerRequest`, which shares its module)
 *   imports `undici` for its test client, `ws` for upgrades and `NodeContext` (command executor, terminal,
 *   workers): about 20 MB of resident code an app without WebSockets never runs. This module rebuilds its request
 *   and response handling from the lighter modules (`NodeStream`, `NodeMultipart`, `NodeHttpPlatform`); requests
 *   keep the Node `IncomingMessage` in `source`, as platform-node's do.
 */
import type * as Http from "node:http"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as Cookies from "@effect/platform/Cookies"
import * as Etag from "@effect/platform/Etag"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Headers from "@effect/platform/Headers"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type { HttpMethod } from "@effect/platform/HttpMethod"
import type * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Multipart from "@effect/platform/Multipart"
import type * as Path from "@effect/platform/Path"
import type * as Socket from "@effect/platform/Socket"
import * as UrlParams from "@effect/platform/UrlParams"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpPlatform from "@effect/platform-node/NodeHttpPlatform"
import * as NodeMultipart from "@effect/platform-node/NodeMultipart"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** Where the server listens. */
export interface ListenOptions {
  readonly port: number
  readonly host: string
}

/** A request on a Node server: platform-node's `ServerRequestImpl` without WebSocket upgrades. */
class ServerRequest extends Inspectable.Class implements HttpServerRequest.HttpServerRequest {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpServerRequest.TypeId]: HttpServerRequest.TypeId = HttpServerRequest.TypeId
  private textEffect: Effect.Effect<string, HttpServerError.RequestError> | undefined
  private multipartEffect:
    | Effect.Effect<Multipart.Persisted, Multipart.MultipartError, Scope.Scope | FileSystem.FileSystem | Path.Path>
    | undefined
  private cachedCookies: Record<string, string> | undefined

  constructor(
    readonly source: Http.IncomingMessage,
    readonly response: Http.ServerResponse,
    readonly url: string = source.url ?? "/",
    private readonly headersOverride?: Headers.Headers | undefined,
    private readonly remoteAddressOverride?: string | undefined
  ) {
    super()
  }

  private readonly onError = (cause: unknown) =>
    new HttpServerError.RequestError({ request: this, reason: "Decode", cause })

  get originalUrl(): string {
    return this.source.url ?? "/"
  }
  get method(): HttpMethod {
    return (this.source.method ?? "GET").toUpperCase() as HttpMethod
  }
  get headers(): Headers.Headers {
    // Node's own header record, as platform-node's requests answer (no copy per access).
    return this.headersOverride ?? (this.source.headers as Headers.Headers)
  }
  get cookies(): Record<string, string> {
    this.cachedCookies ??= Cookies.parseHeader(this.headers.cookie ?? "")
    return this.cachedCookies
  }
  get remoteAddress(): Option.Option<string> {
    return Option.fromNullable(this.remoteAddressOverride ?? this.source.socket.remoteAddress)
  }
  get text(): Effect.Effect<string, HttpServerError.RequestError> {
    this.textEffect ??= Effect.runSync(
      Effect.cached(
        Effect.flatMap(HttpIncomingMessage.MaxBodySize, (maxBodySize) =>
          NodeStream.toString(() => this.source, {
            onFailure: this.onError,
            maxBytes: Option.getOrUndefined(maxBodySize)
          })
        )
      )
    )
    return this.textEffect
  }
  get json(): Effect.Effect<unknown, HttpServerError.RequestError> {
    return Effect.tryMap(this.text, { try: (text) => (text === "" ? null : JSON.parse(text)), catch: this.onError })
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpServerError.RequestError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({ try: () => UrlParams.fromInput(new URLSearchParams(text)), catch: this.onError })
    )
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpServerError.RequestError> {
    return Effect.flatMap(HttpIncomingMessage.MaxBodySize, (maxBodySize) =>
      NodeStream.toUint8Array(() => this.source, {
        onFailure: this.onError,
        maxBytes: Option.getOrUndefined(maxBodySize)
      })
    ).pipe(
      Effect.map((bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer)
    )
  }
  get stream(): Stream.Stream<Uint8Array, HttpServerError.RequestError> {
    return NodeStream.fromReadable(() => this.source, this.onError)
  }
  get multipart() {
    this.multipartEffect ??= Effect.runSync(Effect.cached(NodeMultipart.persisted(this.source, this.source.headers)))
    return this.multipartEffect
  }
  get multipartStream(): Stream.Stream<Multipart.Part, Multipart.MultipartError> {
    return NodeMultipart.stream(this.source, this.source.headers)
  }
  get upgrade(): Effect.Effect<Socket.Socket, HttpServerError.RequestError> {
    return Effect.fail(
      new HttpServerError.RequestError({ request: this, reason: "Decode", description: "not an upgradeable request" })
    )
  }
  modify(options: {
    readonly url?: string
    readonly headers?: Headers.Headers
    readonly remoteAddress?: string
  }): ServerRequest {
    return new ServerRequest(
      this.source,
      this.response,
      options.url ?? this.url,
      options.headers ?? this.headersOverride,
      options.remoteAddress ?? this.remoteAddressOverride
    )
  }
  override toString(): string {
    return `ServerRequest(${this.method} ${this.url})`
  }
  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpServerRequest",
      method: this.method,
      url: this.originalUrl
    })
  }
}

// A failure after the head was written ends the response as it is; before, it answers the cause's status.
const handleCause =
  (nodeResponse: Http.ServerResponse, original: HttpServerResponse.HttpServerResponse) =>
  (originalCause: Cause.Cause<unknown>) =>
    Effect.flatMap(HttpServerError.causeResponse(originalCause), ([response, cause]) => {
      const headersSent = nodeResponse.headersSent
      if (!headersSent) nodeResponse.writeHead(response.status)
      if (!nodeResponse.writableEnded) nodeResponse.end()
      return Effect.failCause(headersSent ? Cause.sequential(originalCause, Cause.die(original)) : cause)
    })

/** Writes an app's response on the Node response (platform-node's `handleResponse`). */
const handleResponse = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse
) =>
  Effect.suspend((): Effect.Effect<void, HttpServerError.ResponseError | unknown> => {
    const nodeResponse = (request as ServerRequest).response
    if (nodeResponse.writableEnded) return Effect.void
    let headers: Record<string, string | Array<string>> = response.headers
    if (!Cookies.isEmpty(response.cookies)) {
      const toSet = Cookies.toSetCookieHeaders(response.cookies)
      if (headers["set-cookie"] !== undefined) toSet.push(...[headers["set-cookie"]].flat())
      headers = { ...headers, "set-cookie": toSet }
    }
    const end = (chunk?: string | Uint8Array) =>
      Effect.async<void>((resume) => {
        nodeResponse.end(chunk, () => resume(Effect.void))
      })
    if (request.method === "HEAD") {
      nodeResponse.writeHead(response.status, headers)
      return end()
    }
    const body = response.body
    switch (body._tag) {
      case "Empty": {
        nodeResponse.writeHead(response.status, headers)
        nodeResponse.end()
        return Effect.void
      }
      case "Raw": {
        nodeResponse.writeHead(response.status, headers)
        const raw = body.body
        if (typeof raw === "object" && raw !== null && "pipe" in raw && typeof raw.pipe === "function") {
          const readable = raw as NodeJS.ReadableStream
          return Effect.tryPromise({
            try: (signal) => pipeline(readable, nodeResponse, { signal, end: true }),
            catch: (cause) => new HttpServerError.ResponseError({ request, response, reason: "Decode", cause })
          }).pipe(Effect.interruptible, Effect.tapErrorCause(handleCause(nodeResponse, response)))
        }
        return end(raw as string | Uint8Array)
      }
      case "Uint8Array": {
        nodeResponse.writeHead(response.status, headers)
        return end(body.body)
      }
      case "FormData": {
        const web = new Response(body.formData)
        nodeResponse.writeHead(response.status, { ...headers, ...Object.fromEntries(web.headers) })
        return Effect.async<void, HttpServerError.ResponseError>((resume, signal) => {
          Readable.fromWeb(web.body as Parameters<typeof Readable.fromWeb>[0], { signal })
            .pipe(nodeResponse)
            .on("error", (cause) =>
              resume(Effect.fail(new HttpServerError.ResponseError({ request, response, reason: "Decode", cause })))
            )
            .once("finish", () => resume(Effect.void))
        }).pipe(Effect.interruptible, Effect.tapErrorCause(handleCause(nodeResponse, response)))
      }
      case "Stream": {
        nodeResponse.writeHead(response.status, headers)
        const drained = Effect.unsafeMakeLatch()
        nodeResponse.on("drain", () => drained.unsafeOpen())
        return body.stream.pipe(
          Stream.orDie,
          Stream.runForEachChunk((chunk) => {
            let needDrain = false
            for (const part of Chunk.toReadonlyArray(chunk)) {
              if (!nodeResponse.write(part) && !needDrain) {
                needDrain = true
                drained.unsafeClose()
              }
            }
            return needDrain ? drained.await : Effect.void
          }),
          Effect.interruptible,
          Effect.matchCauseEffect({
            onSuccess: () => Effect.sync(() => nodeResponse.end()),
            onFailure: handleCause(nodeResponse, response)
          })
        )
      }
    }
  })

/**
 * A Node `request` listener running `httpApp` (platform-node's `makeHandler`): each request on a fiber of its
 * own, interrupted when the client goes away before its response ends.
 */
export const makeHandler = <E, R>(
  httpApp: HttpApp.Default<E, R>,
  middleware?: HttpMiddleware.HttpMiddleware | undefined
) => {
  const handled = HttpApp.toHandled(httpApp, handleResponse, middleware)
  return Effect.map(
    Effect.runtime<Exclude<Exclude<R, Scope.Scope>, HttpServerRequest.HttpServerRequest>>(),
    (runtime) => {
      const runFork = Runtime.runFork(runtime)
      return (nodeRequest: Http.IncomingMessage, nodeResponse: Http.ServerResponse) => {
        const fiber = runFork(
          Effect.provideService(
            handled,
            HttpServerRequest.HttpServerRequest,
            new ServerRequest(nodeRequest, nodeResponse)
          )
        )
        nodeResponse.on("close", () => {
          if (!nodeResponse.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
        })
      }
    }
  )
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
            const handler = yield* makeHandler(httpApp, middleware)
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

/**
 * The platform services `HttpApiBuilder.serve` asks for (`HttpPlatform`, `Etag.Generator`, `FileSystem`, `Path`),
 * without `NodeContext`'s command executor, terminal and worker manager, which nothing here uses.
 */
export const layerContext = Layer.mergeAll(NodeHttpPlatform.layer, Etag.layerWeak, NodeFileSystem.layer, NodePath.layer)

/** `NodeHttpServer.layer`'s counterpart: the server and the platform services an app's handlers use. */
export const layer = (evaluate: () => Http.Server, options: ListenOptions) =>
  Layer.merge(Layer.scoped(HttpServer.HttpServer, make(evaluate, options)), layerContext)

/** `NodeHttpServer.layerConfig`'s counterpart, with the listen options read from config. */
export const layerConfig = (evaluate: () => Http.Server, options: Config.Config.Wrap<ListenOptions>) =>
  Layer.merge(
    Layer.scoped(
      HttpServer.HttpServer,
      Effect.flatMap(Config.unwrap(options), (listen) => make(evaluate, listen))
    ),
    layerContext
  )

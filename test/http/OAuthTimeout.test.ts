/**
 * A stalled OpenID Provider (a real socket that accepts, reads and never answers) costs a request at most the
 * provider's `timeout`: discovery and the code exchange answer 503 `SERVICE_UNAVAILABLE` with `Retry-After`
 * instead of holding the request for openid-client's 30 seconds.
 */
import { createServer } from "node:http"
import type { Socket } from "node:net"
import { HttpServer } from "@effect/platform"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { OAuthProvider } from "effect-users"
import { makeServer } from "../utils/HttpTest.js"
import { acquireServer, freePort } from "../utils/LocalServer.js"

/** An issuer on a loopback port that answers discovery when `describes`, and nothing else, ever. */
const stalledIssuer = (describes: boolean) =>
  Effect.gen(function* () {
    const port = yield* Effect.promise(freePort)
    const issuer = `http://127.0.0.1:${port}`
    const held = new Set<Socket>()
    const server = createServer((request, response) => {
      if (!describes || request.url !== "/.well-known/openid-configuration") return
      response.setHeader("content-type", "application/json")
      response.end(
        JSON.stringify({
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ["code"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"]
        })
      )
    })
    server.on("connection", (socket) => {
      held.add(socket)
      socket.on("close", () => held.delete(socket))
    })
    yield* acquireServer(
      () => server.listen(port, "127.0.0.1"),
      () => {
        for (const socket of held) socket.destroy()
        server.close()
      }
    )
    yield* Effect.async<void>((resume) => {
      if (server.listening) resume(Effect.void)
      else server.once("listening", () => resume(Effect.void))
    })
    return issuer
  })

const mounted = (name: string, issuer: string) => ({
  provider: OAuthProvider.oidc({
    name,
    issuer,
    clientId: "client",
    clientSecret: Redacted.make("client-secret"),
    timeout: "300 millis"
  }),
  redirectUrl: `http://127.0.0.1:1/auth/${name}/callback`,
  associateRedirectUrl: `http://127.0.0.1:1/auth/${name}/associate/callback`
})

const server = Layer.unwrapScoped(
  Effect.gen(function* () {
    const silent = yield* stalledIssuer(false)
    const noTokens = yield* stalledIssuer(true)
    return makeServer(SqliteClient.layer({ filename: ":memory:" }), {
      oauth: [mounted("silent", silent), mounted("notokens", noTokens)]
    }).layer
  })
)

/** A GET that gives up after 10 s (openid-client alone would hold it 30 s). */
const get = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const address = (yield* HttpServer.HttpServer).address as HttpServer.TcpAddress
    return yield* Effect.promise(async () => {
      const response = await fetch(`http://127.0.0.1:${address.port}${path}`, {
        headers,
        signal: AbortSignal.timeout(10_000)
      })
      return { status: response.status, headers: response.headers, body: (await response.json()) as unknown }
    })
  })

const unavailable = { detail: "SERVICE_UNAVAILABLE" }

layer(server, { excludeTestServices: true, timeout: 30_000 })("A stalled OpenID Provider", (it) => {
  it.effect("discovery that never answers: 503 with Retry-After within the timeout", () =>
    Effect.gen(function* () {
      const reply = yield* get("/auth/silent/authorize")
      assert.deepStrictEqual([reply.status, reply.body], [503, unavailable])
      assert.isTrue(Number(reply.headers.get("retry-after")) >= 1)
      // The next request tries again, and is bounded again.
      const again = yield* get("/auth/silent/authorize")
      assert.strictEqual(again.status, 503)
    })
  )

  it.effect("a code exchange that never answers: 503 within the timeout", () =>
    Effect.gen(function* () {
      const started = yield* get("/auth/notokens/authorize")
      assert.strictEqual(started.status, 200, JSON.stringify(started.body))
      const url = new URL((started.body as { authorization_url: string }).authorization_url)
      const cookie = started.headers.getSetCookie()[0]!.split(";")[0]!
      const state = url.searchParams.get("state")!
      const reply = yield* get(`/auth/notokens/callback?code=some-code&state=${state}`, { cookie })
      assert.deepStrictEqual([reply.status, reply.body], [503, unavailable])
    })
  )

  it.effect("the default timeout is 5 seconds", () =>
    Effect.sync(() => assert.isTrue(Duration.equals(OAuthProvider.defaultTimeout, Duration.seconds(5))))
  )
})

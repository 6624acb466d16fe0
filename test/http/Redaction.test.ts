/**
 * Secrets in query strings never reach logs or traces: with @effect/platform's request logger on and a tracer
 * recording every span, an OAuth callback's `code` and `state` and a mailed link's `token` appear nowhere in
 * what was logged or traced, while the URL itself is still logged and traced with those values `REDACTED`.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, HashMap, Layer, Logger, Redacted } from "effect"
import { OAuthProvider } from "effect-users"
import { Redaction } from "effect-users/http"
import { makeServer, request } from "../utils/HttpTest.js"
import { recordingTracer } from "../utils/Tracing.js"

const lines: Array<string> = []
const capture = Logger.make(({ annotations, message }) => {
  lines.push(JSON.stringify({ message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) }))
})
const { recorded, tracer } = recordingTracer()

const server = makeServer(SqliteClient.layer({ filename: ":memory:" }), {
  requestLogger: true,
  oauth: [
    {
      // Never contacted: a callback without the browser's state cookie is refused before any exchange.
      provider: OAuthProvider.oidc({
        name: "oidc",
        issuer: "http://127.0.0.1:1",
        clientId: "client",
        clientSecret: Redacted.make("client-secret")
      }),
      redirectUrl: "http://127.0.0.1:1/auth/oidc/callback",
      associateRedirectUrl: "http://127.0.0.1:1/auth/oidc/associate/callback"
    }
  ]
}).layer.pipe(Layer.provide(Logger.replace(Logger.defaultLogger, capture)), Layer.provide(Layer.setTracer(tracer)))

const secrets = ["SECRETCODE", "SECRETSTATE", "SECRETTOKEN", "SECRETRESET"]

layer(server, { excludeTestServices: true })("Redaction of secret query parameters", (it) => {
  it.effect("the request log and the server spans carry the URL with code, state and tokens REDACTED", () =>
    Effect.gen(function* () {
      const callback = yield* request("/auth/oidc/callback?code=SECRETCODE&state=SECRETSTATE&iss=issuer")
      assert.strictEqual(callback.status, 400)
      const associate = yield* request("/auth/oidc/associate/callback?state=SECRETSTATE&code=SECRETCODE")
      assert.strictEqual(associate.status, 401)
      // A front end's link served by the same app (any route, even one that does not exist).
      yield* request("/verify?token=SECRETTOKEN")
      yield* request("/reset-password?token=SECRETRESET&lang=en")
      yield* request("/users?email=someone&limit=1")

      const logged = lines.join("\n")
      const traced = JSON.stringify(recorded)
      for (const secret of secrets) {
        assert.notInclude(logged, secret)
        assert.notInclude(traced, secret)
      }
      assert.include(logged, "/auth/oidc/callback?code=REDACTED&state=REDACTED&iss=issuer")
      assert.include(logged, "/auth/oidc/associate/callback?state=REDACTED&code=REDACTED")
      assert.include(logged, "/verify?token=REDACTED")
      assert.include(logged, "/reset-password?token=REDACTED&lang=en")
      // Parameters that are no secret are left as they are.
      assert.include(logged, "/users?email=someone&limit=1")

      const servers = recorded.flatMap((entry) =>
        "name" in entry && entry.name.startsWith("http.server") ? [entry] : []
      )
      const urls = servers.map((span) => String(new Map(span.attributes).get("url.full")))
      assert.isTrue(urls.some((url) => url.endsWith("/auth/oidc/callback?code=REDACTED&state=REDACTED&iss=issuer")))
      const queries = servers.map((span) => new Map(span.attributes).get("url.query"))
      assert.include(queries, "token=REDACTED&lang=en")
    })
  )
})

layer(Layer.empty)("Redaction.redactUrl", (it) => {
  it.effect("replaces the value of each secret parameter, whatever its encoding, and keeps the rest", () =>
    Effect.sync(() => {
      assert.strictEqual(Redaction.redactUrl("/a?code=x&b=1#frag"), "/a?code=REDACTED&b=1#frag")
      assert.strictEqual(
        Redaction.redactUrl("https://h/cb?%63ode=x&state"),
        "https://h/cb?%63ode=REDACTED&state=REDACTED"
      )
      assert.strictEqual(Redaction.redactUrl("/a?codex=1&token=%zz"), "/a?codex=1&token=REDACTED")
      assert.strictEqual(Redaction.redactUrl("/plain"), "/plain")
      // Every secret the library knows of, by name: dropping one from the list must fail here.
      const names = ["code", "state", "token", "access_token", "refresh_token", "id_token", "mfa_token"]
      for (const name of [...names, "client_secret", "password"]) {
        assert.strictEqual(Redaction.redactUrl(`/cb?${name}=s3cr3t&x=1`), `/cb?${name}=REDACTED&x=1`, name)
      }
    })
  )
})

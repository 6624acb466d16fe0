/**
 * CSRF on the cookie routes, over a real server (`examples/app.ts`: a bearer JWT backend and a cookie backend,
 * an OpenID Provider mounted on the cookie backend): a cross-site request authenticated by cookie, and a
 * cross-site cookie login, answer 403 `CSRF_REJECTED` and change nothing; the server's own origin, listed
 * origins, non-browser clients and bearer tokens go through; payload-less cookie routes take no body but JSON.
 */
import { HttpServer, HttpServerRequest } from "@effect/platform"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { OAuthProvider, UserManager } from "effect-users"
import { CrossSite } from "effect-users/http"
import { makeServer, request } from "../utils/HttpTest.js"
import { startOidcProvider } from "../utils/OidcProvider.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"
const rejected = [403, { detail: "CSRF_REJECTED" }]
const evil = { origin: "https://evil.example" }
const friend = "https://app.example.com"

const statusAndBody = (reply: { status: number; body: unknown }) => [reply.status, reply.body]

// The provider is contacted for discovery only: the associate route builds an authorization URL.
const server = Layer.unwrapScoped(
  Effect.map(
    startOidcProvider({ clientId: "csrf", clientSecret: "csrf-secret", redirectUris: [], accounts: new Map() }),
    (op) =>
      makeServer(SqliteClient.layer({ filename: ":memory:" }), {
        allowedOrigins: [friend],
        oauth: [
          {
            provider: OAuthProvider.oidc({
              name: "oidc",
              issuer: op.issuer,
              clientId: "csrf",
              clientSecret: Redacted.make("csrf-secret")
            }),
            redirectUrl: "http://127.0.0.1:1/auth/oidc/callback",
            associateRedirectUrl: "http://127.0.0.1:1/auth/oidc/associate/callback"
          }
        ]
      }).layer
  )
)

/** The server's own origin, as a browser on one of its pages sends it. */
const ownOrigin = Effect.map(HttpServer.HttpServer, (server) => {
  const address = server.address as HttpServer.TcpAddress
  return `http://127.0.0.1:${address.port}`
})

/** A new user, signed in through the cookie backend (no Origin: a non-browser client) and the bearer one. */
const signedIn = Effect.gen(function* () {
  const users = yield* UserManager.UserManager
  const email = freshEmail("csrf")
  yield* users.create({ email, password: Redacted.make(password) }).pipe(Effect.orDie)
  const login = yield* request("/auth/cookie/login", { form: { username: email, password } })
  assert.strictEqual(login.status, 204, JSON.stringify(login.body))
  const cookie = /fastapiusersauth=([^;]+)/.exec(login.headers.get("set-cookie") ?? "")![1]!
  const bearer = yield* request("/auth/jwt/login", { form: { username: email, password } })
  return {
    email,
    cookie: { cookie: `fastapiusersauth=${cookie}` },
    bearer: { authorization: `Bearer ${bearer.body.access_token as string}` }
  }
})

const sessionIds = (headers: Record<string, string>) =>
  Effect.map(request("/users/me/sessions", { headers }), (reply) =>
    (reply.body as ReadonlyArray<{ id: string }>).map((session) => session.id)
  )

/** Every unsafe cookie route of the branch, and the associate route, with `headers` added. */
const cookieRoutes = (headers: Record<string, string>, sessionId: string) => [
  request("/auth/cookie/logout", { method: "POST", headers }),
  request("/auth/logout-all", { method: "POST", headers }),
  request("/users/me", { method: "PATCH", headers, json: { is_active: true } }),
  request(`/users/me/sessions/${sessionId}`, { method: "DELETE", headers }),
  request("/auth/oidc/associate/authorize", { headers: { ...headers, "sec-fetch-site": "cross-site" } })
]

layer(server, { excludeTestServices: true, timeout: 30_000 })("CSRF on cookie routes", (it) => {
  it.effect("a cross-site Origin is refused with 403 CSRF_REJECTED on every cookie route; nothing happens", () =>
    Effect.gen(function* () {
      const { cookie, email } = yield* signedIn
      const [session] = yield* sessionIds(cookie)
      for (const reply of yield* Effect.all(cookieRoutes({ ...cookie, ...evil }, session!))) {
        assert.deepStrictEqual(statusAndBody(reply), rejected)
      }
      const changed = yield* request("/users/me", {
        method: "PATCH",
        headers: { ...cookie, ...evil },
        json: { email: freshEmail(), current_password: password }
      })
      assert.deepStrictEqual(statusAndBody(changed), rejected)
      // `Origin: null` (a sandboxed page, a redirect from another site) is cross-site too.
      const nullOrigin = yield* request("/auth/cookie/logout", {
        method: "POST",
        headers: { ...cookie, origin: "null" }
      })
      assert.deepStrictEqual(statusAndBody(nullOrigin), rejected)
      const me = yield* request("/users/me", { headers: cookie })
      assert.deepStrictEqual([me.status, me.body.email], [200, email])
      assert.deepStrictEqual(yield* sessionIds(cookie), [session])
    })
  )

  it.effect("the server's own origin and the allowed origins are accepted on every cookie route", () =>
    Effect.gen(function* () {
      for (const origin of [yield* ownOrigin, friend]) {
        const { cookie, email } = yield* signedIn
        const headers = { ...cookie, origin }
        const other = yield* request("/auth/cookie/login", { form: { username: email, password } })
        const [, second] = yield* sessionIds(cookie)
        assert.isDefined(second)
        const patched = yield* request("/users/me", { method: "PATCH", headers, json: { is_active: true } })
        assert.strictEqual(patched.status, 200, JSON.stringify(patched.body))
        const started = yield* request("/auth/oidc/associate/authorize", {
          headers: { ...cookie, "sec-fetch-site": "same-origin" }
        })
        assert.strictEqual(started.status, 200, JSON.stringify(started.body))
        assert.match(started.body.authorization_url, /^http:\/\/127\.0\.0\.1/)
        const revoked = yield* request(`/users/me/sessions/${second}`, { method: "DELETE", headers })
        assert.deepStrictEqual(statusAndBody(revoked), [204, undefined])
        assert.strictEqual(other.status, 204)
        const everywhere = yield* request("/auth/logout-all", { method: "POST", headers })
        assert.deepStrictEqual(statusAndBody(everywhere), [204, undefined])
        const again = yield* signedIn
        const out = yield* request("/auth/cookie/logout", { method: "POST", headers: { ...again.cookie, origin } })
        assert.deepStrictEqual(statusAndBody(out), [204, undefined])
      }
    })
  )

  it.effect(
    "without Origin: Sec-Fetch-Site cross-site is refused; same-site, same-origin, none and no header pass",
    () =>
      Effect.gen(function* () {
        const { cookie } = yield* signedIn
        const patch = (headers: Record<string, string>) =>
          request("/users/me", { method: "PATCH", headers: { ...cookie, ...headers }, json: { is_active: true } })
        assert.deepStrictEqual(statusAndBody(yield* patch({ "sec-fetch-site": "cross-site" })), rejected)
        for (const site of ["same-site", "same-origin", "none"]) {
          assert.strictEqual((yield* patch({ "sec-fetch-site": site })).status, 200, site)
        }
        // curl, a server, a mobile app: no browser headers at all.
        assert.strictEqual((yield* patch({})).status, 200)
        // A top-level link from another site to the associate route (a GET: no Origin) is refused.
        const navigation = yield* request("/auth/oidc/associate/authorize", {
          headers: { ...cookie, "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" }
        })
        assert.deepStrictEqual(statusAndBody(navigation), rejected)
        // Plain GETs stay open to other sites' links: reading is no change.
        const me = yield* request("/users/me", { headers: { ...cookie, ...evil, "sec-fetch-site": "cross-site" } })
        assert.strictEqual(me.status, 200)
      })
  )

  it.effect("bearer requests are not affected by a cross-site Origin, even with the cookie alongside", () =>
    Effect.gen(function* () {
      const { bearer, cookie } = yield* signedIn
      const headers = { ...bearer, ...evil, "sec-fetch-site": "cross-site" }
      const patched = yield* request("/users/me", { method: "PATCH", headers, json: { is_active: true } })
      assert.strictEqual(patched.status, 200, JSON.stringify(patched.body))
      const both = yield* request("/users/me", {
        method: "PATCH",
        headers: { ...headers, ...cookie },
        json: { is_active: true }
      })
      assert.strictEqual(both.status, 200, JSON.stringify(both.body))
      const associate = yield* request("/auth/oidc/associate/authorize", { headers })
      assert.strictEqual(associate.status, 200, JSON.stringify(associate.body))
      const logout = yield* request("/auth/jwt/logout", { method: "POST", headers })
      assert.strictEqual(logout.status, 204)
      // Without any credential the answer stays 401: only a refused cookie is a 403.
      const none = yield* request("/auth/logout-all", { method: "POST", headers: evil })
      assert.deepStrictEqual(statusAndBody(none), [401, { detail: "Unauthorized" }])
    })
  )

  it.effect("the cookie login refuses another site's form (login CSRF); the server's own page signs in", () =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const email = freshEmail("csrf-login")
      yield* users.create({ email, password: Redacted.make(password) }).pipe(Effect.orDie)
      const form = { username: email, password }
      const crossSite = yield* request("/auth/cookie/login", { form, headers: evil })
      assert.deepStrictEqual(statusAndBody(crossSite), rejected)
      assert.isNull(crossSite.headers.get("set-cookie"))
      const navigated = yield* request("/auth/cookie/login", { form, headers: { "sec-fetch-site": "cross-site" } })
      assert.deepStrictEqual(statusAndBody(navigated), rejected)
      const own = yield* request("/auth/cookie/login", { form, headers: { origin: yield* ownOrigin } })
      assert.strictEqual(own.status, 204)
      assert.match(own.headers.get("set-cookie") ?? "", /fastapiusersauth=/)
      const listed = yield* request("/auth/cookie/login", { form, headers: { origin: friend } })
      assert.strictEqual(listed.status, 204)
      // The bearer login is no cookie's: another origin's page may call it (CORS decides what it reads).
      const bearer = yield* request("/auth/jwt/login", { form, headers: evil })
      assert.strictEqual(bearer.status, 200)
    })
  )

  it.effect("payload-less cookie routes answer 415 to any body but JSON, and accept none or JSON", () =>
    Effect.gen(function* () {
      const { cookie } = yield* signedIn
      const [session] = yield* sessionIds(cookie)
      const routes = [
        ["POST", "/auth/cookie/logout"],
        ["POST", "/auth/logout-all"],
        ["DELETE", `/users/me/sessions/${session}`]
      ] as const
      const unsupported = [415, { detail: "UNSUPPORTED_MEDIA_TYPE" }]
      for (const [method, path] of routes) {
        for (const body of [
          { form: { a: "b" } },
          { body: "x", headers: { "content-type": "text/plain" } },
          { body: "", headers: { "content-type": "multipart/form-data; boundary=x" } }
        ]) {
          const reply = yield* request(path, { method, ...body, headers: { ...cookie, ...body.headers } })
          assert.deepStrictEqual(statusAndBody(reply), unsupported, `${method} ${path}`)
        }
      }
      const json = yield* request(`/users/me/sessions/${session}`, { method: "DELETE", headers: cookie, json: {} })
      assert.strictEqual(json.status, 204)
      const again = yield* signedIn
      const bare = yield* request("/auth/cookie/logout", { method: "POST", headers: again.cookie })
      assert.strictEqual(bare.status, 204)
    })
  )
})

describe("CSRF: the OpenAPI document", () => {
  layer(server, { excludeTestServices: true, timeout: 30_000 })("openapi", (it) => {
    it.effect("lists 403 CSRF_REJECTED on the cookie login and the authenticated routes", () =>
      Effect.gen(function* () {
        const spec = (yield* request("/openapi.json")).body
        const text = (path: string, method: string) => JSON.stringify(spec.paths[path][method].responses["403"])
        assert.include(text("/auth/cookie/login", "post"), "CSRF_REJECTED")
        assert.include(text("/users/me", "patch"), "CSRF_REJECTED")
        assert.include(JSON.stringify(spec.components.schemas), "CSRF_REJECTED")
      })
    )
  })
})

describe("CrossSite: the rules themselves", () => {
  const requestWith = (headers: Record<string, string>) =>
    HttpServerRequest.fromWeb(new Request("http://127.0.0.1/users/me", { method: "PATCH", headers }))
  // Called in the tests, not at collection: a throw here must fail a test.
  const allowed = () => CrossSite.origins([friend, "http://localhost:5173/"])

  it("allowedOrigins keeps http(s) origins and refuses anything else, `null`-origin schemes above all", () => {
    assert.deepStrictEqual([...allowed()], [friend, "http://localhost:5173"])
    for (const entry of [
      "app.example.com",
      "file:///etc/passwd",
      "data:text/html,x",
      "javascript:alert(1)",
      "ftp://app.example.com",
      "https://app.example.com/app",
      "https://app.example.com/?next=1",
      "https://app.example.com/#top",
      "https://user@app.example.com",
      "https://user:secret@app.example.com",
      "https://:secret@app.example.com"
    ]) {
      assert.throws(() => CrossSite.origins([entry]), /allowedOrigins: .* is not an origin/, entry)
    }
  })

  it("GET, HEAD and OPTIONS are safe; every other method is not", () => {
    for (const method of ["GET", "HEAD", "OPTIONS"]) assert.isFalse(CrossSite.isUnsafe(method), method)
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) assert.isTrue(CrossSite.isUnsafe(method), method)
  })

  it("Origin against Host (case-insensitive) and the list; a missing Host never matches", () => {
    const crossSite = (headers: Record<string, string>) => CrossSite.isCrossSite(requestWith(headers), allowed())
    assert.isFalse(crossSite({ origin: "http://localhost:8080", host: "LocalHost:8080" }))
    assert.isFalse(crossSite({ origin: friend, host: "api.example.com" }))
    assert.isTrue(crossSite({ origin: "http://localhost:8081", host: "localhost:8080" }))
    assert.isTrue(crossSite({ origin: "https://evil.example" }))
    assert.isTrue(crossSite({ origin: "null", host: "localhost:8080" }))
    assert.isTrue(crossSite({ "sec-fetch-site": "cross-site" }))
    assert.isFalse(crossSite({ "sec-fetch-site": "same-site" }))
    assert.isFalse(crossSite({}))
  })
})

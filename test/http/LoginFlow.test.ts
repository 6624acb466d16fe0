/**
 * One way in: the password login, the OAuth callback (against a real OpenID Provider) and the refresh route all
 * open their sessions through `Login`, so every session answers the same tokens for its backend and lists its
 * backend, user agent and method, on SQLite and PostgreSQL.
 */
import { HttpApi } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { AuthStrategy, OAuthProvider } from "effect-users"
import { AuthBackend, OAuth, UsersApi } from "effect-users/http"
import { SqlRefreshTokenStore } from "effect-users/sql"
import { makeBrowser } from "../utils/Browser.js"
import { serveOAuth } from "../utils/OAuthServer.js"
import { startProviderFor, type TestAccount } from "../utils/OidcProvider.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const secret = Redacted.make("auth-secret-auth-secret-auth-secret-auth")
const stateSecret = Redacted.make("state-secret-state-secret-state-secret")
const clientId = "effect-users-login"
const clientSecret = "client-secret-client-secret-client-secret"
const password = "correct horse battery"

const Users = UsersApi.make({
  backends: [
    AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret, lifetime: "5 minutes" }), { refresh: {} }),
    AuthBackend.bearer("db", AuthStrategy.database()),
    AuthBackend.cookie("cookie", AuthStrategy.database(), { name: "session" })
  ]
})

class Server extends Context.Tag("test/LoginFlowServer")<
  Server,
  { readonly base: string; readonly accounts: Map<string, TestAccount> }
>() {}

const makeServer = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const { port, base, accounts, op } = yield* startProviderFor(["oidc", "web"], { clientId, clientSecret })
      const provider = (name: "oidc" | "web") =>
        OAuthProvider.oidc({ name, issuer: op.issuer, clientId, clientSecret: Redacted.make(clientSecret) })
      // A bearer backend with refresh tokens, and a cookie backend whose sessions are stored.
      const Oidc = OAuth.make(Users, provider("oidc"), { backend: "jwt", stateSecret, baseUrl: base })
      const Web = OAuth.make(Users, provider("web"), { backend: "cookie", stateSecret, baseUrl: base })
      const Api = Users.addTo(HttpApi.make("login-flow"))
        .add(Oidc.group)
        .add(Oidc.associateGroup)
        .add(Web.group)
        .add(Web.associateGroup)
      const users = Users.layer(Api).pipe(Layer.provideMerge(SqlRefreshTokenStore.layer()))
      return serveOAuth({
        api: Api,
        users,
        oauth: Layer.merge(Oidc.layer(Api), Web.layer(Api)),
        client,
        port
      }).pipe(Layer.provideMerge(Layer.succeed(Server, { base, accounts })), Layer.orDie)
    })
  )

interface TokenReply {
  readonly access_token: string
  readonly token_type: string
  readonly refresh_token?: string
}

interface Listed {
  readonly id: string
  readonly backend: string | null
  readonly user_agent: string | null
  readonly method: string | null
  readonly current: boolean
}

const suite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  layer(makeServer(client), { excludeTestServices: true, timeout: 60_000 })(`Login (${name})`, (it) => {
    const request = (path: string, init: Parameters<ReturnType<typeof makeBrowser>["request"]>[1] = {}) =>
      Effect.flatMap(Server, ({ base }) => makeBrowser().request(`${base}${path}`, init))
    const json = (path: string, init: Parameters<ReturnType<typeof makeBrowser>["request"]>[1] = {}) =>
      Effect.map(request(path, init), (page) => ({ status: page.status, body: JSON.parse(page.text || "null") }))
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
    const sessionsOf = (headers: Record<string, string>) =>
      Effect.map(json("/users/me/sessions", { headers }), ({ body, status }) => {
        assert.strictEqual(status, 200)
        return body as ReadonlyArray<Listed>
      })
    /** A POST to our server, with its JSON reply. */
    const post = (path: string, body: string, headers: Record<string, string>) =>
      Effect.flatMap(Server, ({ base }) =>
        Effect.promise(() =>
          fetch(`${base}${path}`, { method: "POST", headers, body }).then(async (response) => ({
            status: response.status,
            body: (await response.json()) as TokenReply
          }))
        )
      )
    const refresh = (token: string | undefined) =>
      post("/auth/jwt/refresh", JSON.stringify({ refresh_token: token }), { "content-type": "application/json" })
    const signUp = Effect.gen(function* () {
      const email = freshEmail("login")
      const reply = yield* post("/auth/register", JSON.stringify({ email, password }), {
        "content-type": "application/json"
      })
      assert.strictEqual(reply.status, 201)
      return email
    })
    /** The OAuth callback's reply for a new verified provider account, through a browser with this user agent. */
    const oauthLogin = (provider: "oidc" | "web", userAgent: string) =>
      Effect.gen(function* () {
        const { accounts, base } = yield* Server
        const sub = `acct-${crypto.randomUUID()}`
        accounts.set(sub, { email: freshEmail(provider), email_verified: true })
        const browser = makeBrowser()
        const page = yield* browser.request(`${base}/auth/${provider}/authorize`)
        const callback = yield* browser.signIn(
          JSON.parse(page.text).authorization_url,
          sub,
          `${base}/auth/${provider}/`
        )
        return yield* browser.request(callback, { headers: { "user-agent": userAgent } })
      })

    it.effect("an OAuth login on a bearer backend with refresh tokens answers a refresh_token that refreshes", () =>
      Effect.gen(function* () {
        const reply = yield* oauthLogin("oidc", "OAuthPhone/1.0")
        assert.strictEqual(reply.status, 200, reply.text)
        const body = JSON.parse(reply.text) as TokenReply
        assert.strictEqual(body.token_type, "bearer")
        assert.isString(body.access_token)
        assert.match(body.refresh_token ?? "", /^[A-Za-z0-9_-]{43}$/)
        const rotated = yield* refresh(body.refresh_token)
        assert.strictEqual(rotated.status, 200)
        assert.notStrictEqual(rotated.body.refresh_token, body.refresh_token)
        assert.strictEqual((yield* request("/users/me", { headers: bearer(rotated.body.access_token) })).status, 200)
      })
    )

    it.effect("OAuth, password and refreshed sessions list their backend, user agent and method", () =>
      Effect.gen(function* () {
        // OAuth on the refresh backend: its family is listed, and keeps its method across a refresh.
        const oauth = JSON.parse((yield* oauthLogin("oidc", "OAuthPhone/1.0")).text) as TokenReply
        const afterOAuth = yield* sessionsOf(bearer(oauth.access_token))
        assert.deepStrictEqual(
          afterOAuth.map(({ backend, current, method, user_agent }) => ({ backend, current, method, user_agent })),
          [{ backend: "jwt", current: true, method: "oauth:oidc", user_agent: "OAuthPhone/1.0" }]
        )
        const rotated = (yield* refresh(oauth.refresh_token)).body
        const afterRefresh = yield* sessionsOf(bearer(rotated.access_token))
        assert.deepStrictEqual(
          afterRefresh.map(({ backend, current, id, method, user_agent }) => ({
            backend,
            current,
            id,
            method,
            user_agent
          })),
          [{ backend: "jwt", current: true, id: afterOAuth[0]!.id, method: "oauth:oidc", user_agent: "OAuthPhone/1.0" }]
        )

        // OAuth on a cookie backend whose sessions are stored (the callback used to store neither).
        const web = yield* oauthLogin("web", "WebBrowser/2.0")
        assert.strictEqual(web.status, 204, web.text)
        const cookie = web.headers
          .getSetCookie()
          .find((line) => line.startsWith("session="))!
          .split(";")[0]!
        assert.deepStrictEqual(
          (yield* sessionsOf({ cookie })).map(({ backend, current, method, user_agent }) => ({
            backend,
            current,
            method,
            user_agent
          })),
          [{ backend: "cookie", current: true, method: "oauth:web", user_agent: "WebBrowser/2.0" }]
        )

        // Password logins on the refresh backend and on a stored-token backend, for one user.
        const email = yield* signUp
        const login = (backend: string, userAgent: string) =>
          post(`/auth/${backend}/login`, new URLSearchParams({ username: email, password }).toString(), {
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": userAgent
          })
        const viaJwt = yield* login("jwt", "Laptop/3.0")
        const viaDb = yield* login("db", "Tablet/4.0")
        assert.strictEqual(viaJwt.status, 200)
        assert.isString(viaJwt.body.refresh_token)
        assert.strictEqual(viaDb.status, 200)
        assert.isUndefined(viaDb.body.refresh_token)
        const listed = yield* sessionsOf(bearer(viaDb.body.access_token))
        assert.sameDeepMembers(
          listed.map(({ backend, current, method, user_agent }) => ({ backend, current, method, user_agent })),
          [
            { backend: "jwt", current: false, method: "password", user_agent: "Laptop/3.0" },
            { backend: "db", current: true, method: "password", user_agent: "Tablet/4.0" }
          ]
        )
      })
    )
  })

suite("SQLite", SqliteClient.layer({ filename: ":memory:" }))

describePg("Login on PostgreSQL", () => {
  suite("PostgreSQL", freshDatabase().client)
})

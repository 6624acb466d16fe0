/**
 * OAuth accounts nobody else can take, end to end against a real OpenID Provider (`oidc-provider`): an e-mail the
 * provider did not verify (or is not trusted for) owns nothing, links made before the address's owner proved it
 * end when they do, linking needs a recent sign-in, links are listed and unlinked but never the last way in, hooks
 * tell the owner, and a password reset ends the sessions OAuth logins opened.
 */
import { randomBytes } from "node:crypto"
import { HttpApi, HttpServerRequest } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { AuthStrategy, OAuthProvider, UserHooks, UserManager } from "effect-users"
import { AuthBackend, Authenticator, OAuth, Reauthentication, UsersApi } from "effect-users/http"
import { makeBrowser } from "../utils/Browser.js"
import { signJwt } from "../utils/Jwt.js"
import { serveOAuth } from "../utils/OAuthServer.js"
import { startProviderFor, type TestAccount } from "../utils/OidcProvider.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const authSecret = "oauth-accounts-secret-oauth-accounts-secret"
const stateSecret = Redacted.make("state-secret-state-secret-state-secret")
const clientId = "effect-users-accounts"
const clientSecret = "client-secret-client-secret-client-secret"
const password = "correct horse battery"

const Users = UsersApi.make({
  backends: [
    AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret: Redacted.make(authSecret), lifetime: "10 minutes" })),
    AuthBackend.cookie("cookie", AuthStrategy.database(), { name: "session", secure: false })
  ]
})

/** What the hooks saw, in order. */
interface Events {
  readonly resetTokens: Map<string, string>
  readonly verifyTokens: Map<string, string>
  readonly links: Array<{ readonly email: string; readonly oauthName: string; readonly accountId: string }>
  readonly unlinks: Array<{
    readonly email: string
    readonly accountIds: ReadonlyArray<string>
    readonly reason: string
  }>
}

class Server extends Context.Tag("test/OAuthAccountsServer")<
  Server,
  { readonly base: string; readonly accounts: Map<string, TestAccount>; readonly events: Events }
>() {}

const makeServer = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const names = ["oidc", "lax", "web"] as const
      const { port, base, accounts, op } = yield* startProviderFor(names, { clientId, clientSecret })
      const provider = <const Name extends string>(name: Name, trustEmailVerified?: boolean) =>
        OAuthProvider.oidc({
          name,
          issuer: op.issuer,
          clientId,
          clientSecret: Redacted.make(clientSecret),
          trustEmailVerified
        })
      // `oidc` is trusted (the default); `lax` says "verified" but is not believed; `web` logs in by cookie.
      const Oidc = OAuth.make(Users, provider("oidc"), { backend: "jwt", stateSecret, baseUrl: base })
      const Lax = OAuth.make(Users, provider("lax", false), { backend: "jwt", stateSecret, baseUrl: base })
      const Web = OAuth.make(Users, provider("web"), { backend: "cookie", stateSecret, baseUrl: base })
      const Api = Users.addTo(HttpApi.make("oauth-accounts"))
        .add(Oidc.group)
        .add(Oidc.associateGroup)
        .add(Lax.group)
        .add(Lax.associateGroup)
        .add(Web.group)
        .add(Web.associateGroup)
      const events: Events = { resetTokens: new Map(), verifyTokens: new Map(), links: [], unlinks: [] }
      const hooks = UserHooks.layer({
        onAfterForgotPassword: (user, token) => Effect.sync(() => events.resetTokens.set(user.email, token)),
        onAfterRequestVerify: (user, token) => Effect.sync(() => events.verifyTokens.set(user.email, token)),
        onAfterOAuthLink: (user, link) =>
          Effect.sync(() =>
            events.links.push({ email: user.email, oauthName: link.oauthName, accountId: link.accountId })
          ),
        onAfterOAuthUnlink: (user, links, reason) =>
          Effect.sync(() =>
            events.unlinks.push({ email: user.email, accountIds: links.map((link) => link.accountId), reason })
          )
      })
      return serveOAuth({
        api: Api,
        users: Users.layer(Api),
        oauth: Layer.mergeAll(Oidc.layer(Api), Lax.layer(Api), Web.layer(Api)),
        client,
        port
      }).pipe(Layer.provideMerge(Layer.succeed(Server, { base, accounts, events })), Layer.provide(hooks), Layer.orDie)
    })
  )

interface Reply {
  readonly status: number
  // biome-ignore lint/suspicious/noExplicitAny: an untyped JSON reply
  readonly body: any
  readonly headers: Headers
}

const suite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  layer(makeServer(client), { excludeTestServices: true, timeout: 60_000 })(`OAuth accounts (${name})`, (it) => {
    /** A request to our server with a JSON body, if given, and its JSON reply. */
    const call = (path: string, init: { method?: string; json?: unknown; headers?: Record<string, string> } = {}) =>
      Effect.flatMap(Server, ({ base }) =>
        Effect.promise(async (): Promise<Reply> => {
          const response = await fetch(`${base}${path}`, {
            method: init.method ?? (init.json === undefined ? "GET" : "POST"),
            headers: {
              ...(init.json === undefined ? {} : { "content-type": "application/json" }),
              ...init.headers
            },
            ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) })
          })
          const text = await response.text()
          return { status: response.status, body: text === "" ? null : JSON.parse(text), headers: response.headers }
        })
      )
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
    const register = (email: string) =>
      Effect.map(call("/auth/register", { json: { email, password } }), (reply) => {
        assert.strictEqual(reply.status, 201, JSON.stringify(reply.body))
        return reply.body as { readonly id: string }
      })
    const passwordLogin = (email: string) =>
      Effect.flatMap(Server, ({ base }) =>
        Effect.promise(() =>
          fetch(`${base}/auth/jwt/login`, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ username: email, password }).toString()
          }).then(async (response) => {
            assert.strictEqual(response.status, 200)
            return bearer(((await response.json()) as { access_token: string }).access_token)
          })
        )
      )
    /** A provider account with these claims, by its `sub`. */
    const providerAccount = (claims: TestAccount) =>
      Effect.map(Server, ({ accounts }) => {
        const sub = `acct-${crypto.randomUUID()}`
        accounts.set(sub, claims)
        return sub
      })
    /** A login through the provider as `sub`: the callback's reply. */
    const oauthLogin = (provider: string, sub: string) =>
      Effect.gen(function* () {
        const { base } = yield* Server
        const browser = makeBrowser()
        const page = yield* browser.request(`${base}/auth/${provider}/authorize`)
        const callback = yield* browser.signIn(
          JSON.parse(page.text).authorization_url,
          sub,
          `${base}/auth/${provider}/`
        )
        const reply = yield* browser.request(callback)
        return { status: reply.status, text: reply.text, headers: reply.headers }
      })
    const oauthToken = (provider: string, sub: string) =>
      Effect.map(oauthLogin(provider, sub), (reply) => {
        assert.strictEqual(reply.status, 200, reply.text)
        return bearer(JSON.parse(reply.text).access_token as string)
      })
    /** Links `sub` to the caller through `provider`'s association routes: the authorize reply, then the callback's. */
    const associate = (provider: string, sessionHeaders: Record<string, string>, sub: string) =>
      Effect.gen(function* () {
        const { base } = yield* Server
        const browser = makeBrowser()
        // A cookie session goes in the browser's jar, beside the state cookie the authorize route sets.
        const { cookie, ...headers } = sessionHeaders
        if (cookie !== undefined) {
          const [key, value] = cookie.split("=")
          browser.cookies(new URL(base).host).set(key!, value!)
        }
        const page = yield* browser.request(`${base}/auth/${provider}/associate/authorize`, { headers })
        if (page.status !== 200) return { status: page.status, text: page.text }
        const callback = yield* browser.signIn(
          JSON.parse(page.text).authorization_url,
          sub,
          `${base}/auth/${provider}/associate/`
        )
        const reply = yield* browser.request(callback, { headers })
        return { status: reply.status, text: reply.text }
      })
    const me = (headers: Record<string, string>) => call("/users/me", { headers })
    const links = (headers: Record<string, string>) => call("/users/me/oauth-accounts", { headers })
    const unlink = (headers: Record<string, string>, provider: string, accountId: string) =>
      call(`/users/me/oauth-accounts/${provider}/${encodeURIComponent(accountId)}`, { method: "DELETE", headers })
    /** A JWT of this user whose sign-in (`mth`, `auth_time`) happened `ago` seconds ago, as the server signs them. */
    const oldSession = (id: string, method: string | undefined, ago: number) => {
      const now = Math.floor(Date.now() / 1000)
      return bearer(
        signJwt(
          {
            sub: id,
            aud: ["effect-users:auth"],
            iat: now - ago,
            exp: now + 600,
            jti: randomBytes(16).toString("base64url"),
            sep: 0,
            ...(method === undefined ? {} : { mth: method, auth_time: now - ago })
          },
          authSecret
        )
      )
    }
    /** The token a hook received for this address: mail goes out after the 202, so it may take a moment. */
    const sent = (tokens: Map<string, string>, email: string) =>
      Effect.suspend(() => {
        const token = tokens.get(email)
        return token === undefined ? Effect.fail("not yet") : Effect.succeed(token)
      }).pipe(Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo("5 seconds"))), Effect.orDie)
    const resetPassword = (email: string, newPassword: string) =>
      Effect.gen(function* () {
        const { events } = yield* Server
        assert.strictEqual((yield* call("/auth/forgot-password", { json: { email } })).status, 202)
        const token = yield* sent(events.resetTokens, email)
        events.resetTokens.delete(email)
        const reply = yield* call("/auth/reset-password", { json: { token, password: newPassword } })
        assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
      })
    const notAvailable = { detail: "OAUTH_NOT_AVAILABLE_EMAIL" }

    it.effect(
      "a provider's unverified claim on an address owns nothing: refused before and after its owner registers",
      () =>
        Effect.gen(function* () {
          const users = yield* UserManager.UserManager
          const victim = freshEmail("victim")
          const attacker = yield* providerAccount({ email: victim, email_verified: false })
          const first = yield* oauthLogin("oidc", attacker)
          assert.deepStrictEqual([first.status, JSON.parse(first.text)], [400, notAvailable])
          assert.isTrue(Option.isNone(yield* Effect.option(users.getByEmail(victim))))
          // The owner registers: nothing holds their address.
          const owner = yield* register(victim)
          const again = yield* oauthLogin("oidc", attacker)
          assert.deepStrictEqual([again.status, JSON.parse(again.text)], [400, notAvailable])
          assert.isTrue(Option.isNone(yield* Effect.option(users.getByOAuthAccount("oidc", attacker))))
          // A provider that says "verified" but is not trusted (`trustEmailVerified: false`) is refused the same way.
          const lax = yield* providerAccount({ email: freshEmail("lax"), email_verified: true })
          const viaLax = yield* oauthLogin("lax", lax)
          assert.deepStrictEqual([viaLax.status, JSON.parse(viaLax.text)], [400, notAvailable])
          assert.strictEqual((yield* users.getByEmail(victim)).id, owner.id)
        })
    )

    it.effect("a trusted, verified provider e-mail signs up a verified user", () =>
      Effect.gen(function* () {
        const email = freshEmail("trusted")
        const headers = yield* oauthToken("oidc", yield* providerAccount({ email, email_verified: true }))
        const user = (yield* me(headers)).body
        assert.deepStrictEqual([user.email, user.is_verified], [email, true])
      })
    )

    it.effect(
      "pre-hijack: links made before the owner proves the address end at reset and at verify; the attacker's next provider login reaches nothing",
      () =>
        Effect.gen(function* () {
          const { events } = yield* Server
          const users = yield* UserManager.UserManager
          for (const proof of ["reset", "verify"] as const) {
            // The attacker registers the victim's address first (unverified), then links their own provider account.
            const victim = freshEmail(`victim-${proof}`)
            const squatted = yield* register(victim)
            const attacker = yield* providerAccount({ email: freshEmail("attacker"), email_verified: false })
            const linked = yield* associate("oidc", yield* passwordLogin(victim), attacker)
            assert.strictEqual(linked.status, 200, linked.text)
            const attackerSession = yield* oauthToken("oidc", attacker)
            assert.strictEqual((yield* me(attackerSession)).body.id, squatted.id)

            // The mailbox's owner proves it.
            if (proof === "reset") {
              yield* resetPassword(victim, "the owner's own password")
            } else {
              assert.strictEqual((yield* call("/auth/request-verify-token", { json: { email: victim } })).status, 202)
              const token = yield* sent(events.verifyTokens, victim)
              assert.strictEqual((yield* call("/auth/verify", { json: { token } })).status, 200)
            }
            assert.deepInclude(events.unlinks, { email: victim, accountIds: [attacker], reason: "emailProven" })
            assert.deepStrictEqual((yield* users.oauthLinks(yield* users.getByEmail(victim))).length, 0)

            // The attacker's provider login comes back: its account is linked to nobody, and its e-mail is unverified.
            const back = yield* oauthLogin("oidc", attacker)
            assert.deepStrictEqual([back.status, JSON.parse(back.text)], [400, notAvailable])
            assert.isTrue(Option.isNone(yield* Effect.option(users.getByOAuthAccount("oidc", attacker))))
            if (proof === "reset") assert.strictEqual((yield* me(attackerSession)).status, 401)
          }
        })
    )

    it.effect("associate needs a recent sign-in: refused for an old or unknown one, accepted after a login", () =>
      Effect.gen(function* () {
        const { events } = yield* Server
        const email = freshEmail("linker")
        const { id } = yield* register(email)
        const sub = yield* providerAccount({ email: freshEmail("elsewhere"), email_verified: true })
        const reauth = { detail: "REAUTHENTICATION_REQUIRED" }
        for (const headers of [
          oldSession(id, "password", 6 * 60),
          oldSession(id, undefined, 0),
          oldSession(id, "refresh", 0)
        ]) {
          assert.strictEqual((yield* me(headers)).status, 200)
          const refused = yield* associate("oidc", headers, sub)
          assert.deepStrictEqual([refused.status, JSON.parse(refused.text)], [403, reauth])
        }
        // Four minutes is within the window; a fresh password login too.
        const recent = yield* associate("oidc", oldSession(id, "password", 4 * 60), sub)
        assert.strictEqual(recent.status, 200, recent.text)
        assert.deepInclude(events.links, { email, oauthName: "oidc", accountId: sub })
        const other = yield* providerAccount({ email: freshEmail("elsewhere"), email_verified: true })
        assert.strictEqual((yield* associate("lax", yield* passwordLogin(email), other)).status, 200)
        assert.deepInclude(events.links, { email, oauthName: "lax", accountId: other })
      })
    )

    it.effect("links are listed without tokens, unlinked with re-authentication, and the last way in is kept", () =>
      Effect.gen(function* () {
        const { events } = yield* Server
        const email = freshEmail("oauth-only")
        const first = yield* providerAccount({ email, email_verified: true })
        // An OAuth sign-up: no password of their own, one link. Its fresh OAuth session re-authenticates.
        const session = yield* oauthToken("oidc", first)
        const { id } = (yield* me(session)).body
        const listed = yield* links(session)
        assert.strictEqual(listed.status, 200)
        assert.lengthOf(listed.body, 1)
        assert.deepStrictEqual(Object.keys(listed.body[0]).sort(), [
          "account_email",
          "account_id",
          "created_at",
          "oauth_name"
        ])
        assert.deepInclude(listed.body[0], { oauth_name: "oidc", account_id: first, account_email: email })
        assert.isAbove(Date.parse(listed.body[0].created_at), Date.now() - 60_000)
        const last = { detail: "OAUTH_LAST_LOGIN_METHOD" }
        assert.deepStrictEqual(yield* Effect.map(unlink(session, "oidc", first), (r) => [r.status, r.body]), [
          400,
          last
        ])

        const second = yield* providerAccount({ email: freshEmail("second"), email_verified: false })
        assert.strictEqual((yield* associate("lax", session, second)).status, 200)
        assert.deepStrictEqual(
          (yield* links(session)).body.map((link: { oauth_name: string }) => link.oauth_name),
          ["oidc", "lax"]
        )
        // Re-authentication, then the caller's own links only.
        const stale = oldSession(id, "oauth:oidc", 6 * 60)
        assert.deepStrictEqual(yield* Effect.map(unlink(stale, "oidc", first), (r) => [r.status, r.body]), [
          403,
          { detail: "REAUTHENTICATION_REQUIRED" }
        ])
        const missing = yield* unlink(session, "oidc", "acct-nobody")
        assert.deepStrictEqual([missing.status, missing.body], [404, { detail: "OAUTH_ACCOUNT_NOT_FOUND" }])
        const unlinked = yield* unlink(session, "oidc", first)
        assert.strictEqual(unlinked.status, 204)
        assert.deepInclude(events.unlinks, { email, accountIds: [first], reason: "unlinked" })
        assert.deepStrictEqual(
          (yield* links(session)).body.map((link: { account_id: string }) => link.account_id),
          [second]
        )
        assert.deepStrictEqual(yield* Effect.map(unlink(session, "lax", second), (r) => [r.status, r.body]), [
          400,
          last
        ])
        // A password of their own makes the last link removable (a fresh password login re-authenticates).
        yield* resetPassword(email, "now with a password")
        const afterReset = yield* Effect.flatMap(Server, ({ base }) =>
          Effect.promise(() =>
            fetch(`${base}/auth/jwt/login`, {
              method: "POST",
              headers: { "content-type": "application/x-www-form-urlencoded" },
              body: new URLSearchParams({ username: email, password: "now with a password" }).toString()
            }).then(async (response) => bearer(((await response.json()) as { access_token: string }).access_token))
          )
        )
        assert.strictEqual((yield* unlink(afterReset, "lax", second)).status, 204)
        assert.deepStrictEqual((yield* links(afterReset)).body, [])
      })
    )

    it.effect("another user's link is not found", () =>
      Effect.gen(function* () {
        const owner = yield* providerAccount({ email: freshEmail("owner"), email_verified: true })
        yield* oauthToken("oidc", owner)
        const strangerEmail = freshEmail("stranger")
        yield* register(strangerEmail)
        const reply = yield* unlink(yield* passwordLogin(strangerEmail), "oidc", owner)
        assert.deepStrictEqual([reply.status, reply.body], [404, { detail: "OAUTH_ACCOUNT_NOT_FOUND" }])
        assert.isTrue(
          Option.isSome(
            yield* Effect.option(Effect.flatMap(UserManager.UserManager, (u) => u.getByOAuthAccount("oidc", owner)))
          )
        )
      })
    )

    it.effect("a password reset ends the sessions OAuth logins opened, cookie and bearer", () =>
      Effect.gen(function* () {
        const email = freshEmail("oauth-sessions")
        const sub = yield* providerAccount({ email, email_verified: true })
        const web = yield* oauthLogin("web", sub)
        assert.strictEqual(web.status, 204, web.text)
        const cookie = {
          cookie: web.headers
            .getSetCookie()
            .find((line) => line.startsWith("session="))!
            .split(";")[0]!
        }
        // The same user on the bearer backend: a provider account linked through the cookie session, then logged in.
        const other = yield* providerAccount({ email: freshEmail("other"), email_verified: false })
        assert.strictEqual((yield* associate("oidc", cookie, other)).status, 200)
        const bearerSession = yield* oauthToken("oidc", other)
        assert.strictEqual((yield* me(cookie)).status, 200)
        assert.strictEqual((yield* me(bearerSession)).body.email, email)
        yield* resetPassword(email, "a password of my own")
        assert.strictEqual((yield* me(cookie)).status, 401)
        assert.strictEqual((yield* me(bearerSession)).status, 401)
      })
    )
  })

suite("SQLite", SqliteClient.layer({ filename: ":memory:" }))

describePg("PostgreSQL", () => {
  suite("PostgreSQL", freshDatabase().client)
})

describe("Reauthentication.requireRecentSignIn", () => {
  it.effect("a request that no session authenticated is refused (403), never a defect", () =>
    Effect.gen(function* () {
      const exit = yield* Reauthentication.requireRecentSignIn(Reauthentication.defaultWindow).pipe(
        Effect.provideService(Authenticator.Authenticator, Authenticator.makeAuthenticator([])),
        Effect.provideService(
          HttpServerRequest.HttpServerRequest,
          HttpServerRequest.fromWeb(new Request("http://127.0.0.1/auth/oidc/associate/authorize"))
        ),
        Effect.flip
      )
      assert.strictEqual(exit._tag, "ReauthenticationRequired")
    })
  )
})

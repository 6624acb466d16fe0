/**
 * The OpenID Connect flow against a real OpenID Provider (`oidc-provider` on a loopback port), driven by a
 * browser with a cookie jar: authorize → the provider's login and consent → callback → session, on SQLite and
 * PostgreSQL; and each attack of issue 12 as a test that fails if the attack succeeds.
 */
import { request as httpRequest } from "node:http"
import { HttpApi } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { AuthStrategy, OAuthProvider, UserManager } from "effect-users"
import { AuthBackend, OAuth, UsersApi } from "effect-users/http"
import * as jose from "jose"
import type { CustomFetch } from "openid-client"
import { makeBrowser } from "../utils/Browser.js"
import { serveOAuth } from "../utils/OAuthServer.js"
import { startProviderFor, type TestAccount } from "../utils/OidcProvider.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const secret = Redacted.make("auth-secret-auth-secret-auth-secret-auth")
const stateSecret = Redacted.make("state-secret-state-secret-state-secret")
const clientId = "effect-users-test"
const clientSecret = "client-secret-client-secret-client-secret"

/** Rewrites the id_token of token responses when set: how the tests forge tokens in transit. */
let tamper: ((idToken: string) => Promise<string>) | undefined
const tamperingFetch: CustomFetch = async (url, init) => {
  const response = await fetch(url, init as RequestInit)
  if (tamper === undefined || !url.endsWith("/token") || !response.ok) return response
  const body = (await response.json()) as { id_token: string }
  return Response.json({ ...body, id_token: await tamper(body.id_token) }, { headers: response.headers })
}

const Users = UsersApi.make({
  backends: [
    AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret })),
    AuthBackend.cookie("cookie", AuthStrategy.jwt({ secret }), { name: "session" })
  ]
})

class TestProvider extends Context.Tag("test/TestProvider")<
  TestProvider,
  {
    readonly issuer: string
    readonly base: string
    readonly privateKey: jose.CryptoKey
    readonly kid: string
    readonly accounts: Map<string, TestAccount>
    readonly appleSecrets: ReadonlyArray<jose.JWTPayload>
  }
>() {}

const makeServer = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const { port, base, accounts, op } = yield* startProviderFor(["oidc", "web", "apple"], { clientId, clientSecret })
      const provider = (name: "oidc" | "web") =>
        OAuthProvider.oidc({
          name,
          issuer: op.issuer,
          clientId,
          clientSecret: Redacted.make(clientSecret),
          fetch: tamperingFetch
        })
      const Oidc = OAuth.make(Users, provider("oidc"), {
        backend: "jwt",
        stateSecret,
        baseUrl: base,
        associateByEmail: true
      })
      const Web = OAuth.make(Users, provider("web"), {
        backend: "cookie",
        stateSecret,
        baseUrl: base,
        postLoginRedirects: ["http://127.0.0.1:5173/welcome"]
      })
      // Sign in with Apple's flow (form_post, ES256 client secret) against the same provider: the token request's
      // client secret is checked as Apple would, then swapped for the one the provider knows.
      const appleKey = yield* Effect.promise(() => jose.generateKeyPair("ES256", { extractable: true }))
      const applePem = yield* Effect.promise(() => jose.exportPKCS8(appleKey.privateKey))
      const appleSecrets: Array<jose.JWTPayload> = []
      const appleFetch: CustomFetch = async (url, init) => {
        if (!url.endsWith("/token")) return tamperingFetch(url, init)
        const body = new URLSearchParams(init.body as string)
        const { payload, protectedHeader } = await jose.jwtVerify(body.get("client_secret")!, appleKey.publicKey, {
          algorithms: ["ES256"],
          issuer: "TEAM123456",
          subject: clientId,
          audience: "https://appleid.apple.com"
        })
        assert.strictEqual(protectedHeader.kid, "KEY1234567")
        appleSecrets.push(payload)
        body.set("client_secret", clientSecret)
        return tamperingFetch(url, { ...init, body: body.toString() })
      }
      const Apple = OAuth.make(
        Users,
        OAuthProvider.apple({
          issuer: op.issuer,
          clientId,
          teamId: "TEAM123456",
          keyId: "KEY1234567",
          privateKey: Redacted.make(applePem),
          scopes: ["openid", "email"],
          fetch: appleFetch
        }),
        { backend: "jwt", stateSecret, baseUrl: base }
      )
      const Api = Users.addTo(HttpApi.make("oidc-test"))
        .add(Oidc.group)
        .add(Oidc.associateGroup)
        .add(Web.group)
        .add(Web.associateGroup)
        .add(Apple.group)
        .add(Apple.associateGroup)
      return serveOAuth({
        api: Api,
        users: Users.layer(Api),
        oauth: Layer.mergeAll(Oidc.layer(Api), Web.layer(Api), Apple.layer(Api)),
        client,
        port
      }).pipe(Layer.provideMerge(Layer.succeed(TestProvider, { ...op, base, accounts, appleSecrets })), Layer.orDie)
    })
  )

const suite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  layer(makeServer(client), { excludeTestServices: true, timeout: 60_000 })(`OpenID Connect (${name})`, (it) => {
    const account = (claims: TestAccount) =>
      Effect.map(TestProvider, ({ accounts }) => {
        const sub = `acct-${crypto.randomUUID()}`
        accounts.set(sub, claims)
        return sub
      })
    /** A browser that asked our server for an authorization URL; returns it with the URL. */
    const startFlow = (path = "/auth/oidc/authorize", browser = makeBrowser(), headers: Record<string, string> = {}) =>
      Effect.gen(function* () {
        const { base } = yield* TestProvider
        const page = yield* browser.request(`${base}${path}`, { headers })
        assert.strictEqual(page.status, 200, page.text)
        return { browser, page, url: JSON.parse(page.text).authorization_url as string }
      })
    /** Signs in at the provider; returns the callback URL the provider sent the browser to. */
    const signIn = (
      flow: { browser: ReturnType<typeof makeBrowser>; url: string },
      sub: string,
      route = "/auth/oidc/"
    ) => Effect.flatMap(TestProvider, ({ base }) => flow.browser.signIn(flow.url, sub, `${base}${route}`))
    const me = (token: string) =>
      Effect.flatMap(TestProvider, ({ base }) =>
        makeBrowser().request(`${base}/users/me`, { headers: { authorization: `Bearer ${token}` } })
      )

    /** A new provider account with these claims, signed in through a fresh browser's flow: the callback's reply. */
    const signInAs = (claims: TestAccount) =>
      Effect.gen(function* () {
        const sub = yield* account(claims)
        const flow = yield* startFlow()
        return yield* flow.browser.request(yield* signIn(flow, sub))
      })

    it.effect("the browser flow: authorize → provider login and consent → callback → a session", () =>
      Effect.gen(function* () {
        const email = freshEmail("oidc")
        const sub = yield* account({ email, email_verified: true })
        const flow = yield* startFlow()
        const authorization = new URL(flow.url)
        assert.strictEqual(authorization.searchParams.get("code_challenge_method"), "S256")
        assert.isTrue((authorization.searchParams.get("nonce") ?? "").length >= 32)
        assert.match(authorization.searchParams.get("scope")!, /openid/)
        const cookie = flow.page.headers.getSetCookie().find((line) => line.startsWith("effect-users-oauth-oidc="))!
        assert.match(cookie, /HttpOnly/)
        assert.match(cookie, /Secure/)
        assert.match(cookie, /SameSite=Lax/)
        assert.match(cookie, /Path=\/auth\/oidc/)
        // The cookie is encrypted: neither the state nor the PKCE verifier nor the nonce can be read from it.
        assert.notInclude(cookie, authorization.searchParams.get("state")!)

        const callback = yield* signIn(flow, sub)
        const reply = yield* flow.browser.request(callback)
        assert.strictEqual(reply.status, 200, reply.text)
        const body = JSON.parse(reply.text)
        assert.strictEqual(body.token_type, "bearer")
        const cleared = reply.headers.getSetCookie().find((line) => line.startsWith("effect-users-oauth-oidc="))!
        assert.match(cleared, /Max-Age=0/)
        const user = yield* me(body.access_token)
        assert.strictEqual(user.status, 200)
        assert.strictEqual(JSON.parse(user.text).email, email)
        const stored = yield* Effect.flatMap(UserManager.UserManager, (users) =>
          users.getByOAuthAccount("oidc", sub)
        ).pipe(Effect.orDie)
        assert.strictEqual(stored.email, email)
        assert.isTrue(stored.oauthAccounts[0]!.accessToken.length > 0)

        // A second login of the same account is the same user, with its tokens refreshed, and no new row.
        const again = yield* startFlow()
        const second = yield* again.browser.request(yield* signIn(again, sub))
        assert.strictEqual(second.status, 200, second.text)
        const secondUser = yield* me(JSON.parse(second.text).access_token)
        assert.strictEqual(JSON.parse(secondUser.text).id, stored.id)
        const after = yield* Effect.flatMap(UserManager.UserManager, (users) =>
          users.getByOAuthAccount("oidc", sub)
        ).pipe(Effect.orDie)
        assert.strictEqual(after.oauthAccounts.length, 1)
      })
    )

    it.effect("Sign in with Apple: form_post callback, SameSite=None state cookie, ES256 client secret", () =>
      Effect.gen(function* () {
        const { appleSecrets, base } = yield* TestProvider
        const email = freshEmail("apple")
        const sub = yield* account({ email, email_verified: true })
        const flow = yield* startFlow("/auth/apple/authorize")
        assert.strictEqual(new URL(flow.url).searchParams.get("response_mode"), "form_post")
        const cookie = flow.page.headers.getSetCookie().find((line) => line.startsWith("effect-users-oauth-apple="))!
        assert.match(cookie, /SameSite=None/)
        assert.match(cookie, /Secure/)
        const { fields, url } = yield* flow.browser.walk(flow.url, sub, `${base}/auth/apple/`)
        assert.strictEqual(url, `${base}/auth/apple/callback`)
        assert.isDefined(fields?.code)
        const reply = yield* flow.browser.request(url, { form: fields! })
        assert.strictEqual(reply.status, 200, reply.text)
        const user = yield* me(JSON.parse(reply.text).access_token)
        assert.strictEqual(JSON.parse(user.text).email, email)
        const last = appleSecrets.at(-1)!
        assert.isAtMost(last.exp! - last.iat!, 600)
        // The same form posted again (a replay) is refused.
        const replay = yield* flow.browser.request(url, { form: fields! })
        assert.strictEqual(replay.status, 400)
      })
    )

    it.effect("two authorizations never share a state", () =>
      Effect.gen(function* () {
        const [a, b] = yield* Effect.all([startFlow(), startFlow()], { concurrency: 2 })
        assert.notStrictEqual(new URL(a.url).searchParams.get("state"), new URL(b.url).searchParams.get("state"))
        assert.notStrictEqual(
          new URL(a.url).searchParams.get("code_challenge"),
          new URL(b.url).searchParams.get("code_challenge")
        )
      })
    )

    it.effect("login CSRF: the attacker's callback URL opened in the victim's browser logs nobody in", () =>
      Effect.gen(function* () {
        const attacker = yield* account({ email: freshEmail("attacker"), email_verified: true })
        const flow = yield* startFlow()
        const callback = yield* signIn(flow, attacker)
        // The victim's browser, with a state cookie of its own, and with none.
        const victim = yield* startFlow()
        const withOwnCookie = yield* victim.browser.request(callback)
        assert.deepStrictEqual([withOwnCookie.status, withOwnCookie.text], [400, '{"detail":"OAUTH_INVALID_STATE"}'])
        const noCookie = yield* makeBrowser().request(callback)
        assert.deepStrictEqual([noCookie.status, noCookie.text], [400, '{"detail":"OAUTH_INVALID_STATE"}'])
        const found = yield* Effect.flatMap(UserManager.UserManager, (users) =>
          Effect.exit(users.getByOAuthAccount("oidc", attacker))
        )
        assert.strictEqual(found._tag, "Failure")
        // The attacker's own browser still can: the code was not spent by the refused attempts.
        const own = yield* flow.browser.request(callback)
        assert.strictEqual(own.status, 200, own.text)
      })
    )

    it.effect("a state works once: a replay fails, and of concurrent callbacks exactly one wins", () =>
      Effect.gen(function* () {
        const { base } = yield* TestProvider
        const sub = yield* account({ email: freshEmail("replay"), email_verified: true })
        const flow = yield* startFlow()
        const callback = yield* signIn(flow, sub)
        const cookie = flow.browser.cookies(new URL(base).host).get("effect-users-oauth-oidc")!
        const attempt = () =>
          makeBrowser().request(callback, { headers: { cookie: `effect-users-oauth-oidc=${cookie}` } })
        const replies = yield* Effect.all(Array.from({ length: 6 }, attempt), { concurrency: 6 })
        assert.deepStrictEqual(
          replies.map((reply) => reply.status).sort(),
          [200, 400, 400, 400, 400, 400],
          replies.map((reply) => reply.text).join("\n")
        )
        const replay = yield* attempt()
        assert.deepStrictEqual([replay.status, replay.text], [400, '{"detail":"OAUTH_INVALID_STATE"}'])
      })
    )

    it.effect("a callback without the state, or with a forged cookie, fails", () =>
      Effect.gen(function* () {
        const { base } = yield* TestProvider
        const sub = yield* account({ email: freshEmail("forged"), email_verified: true })
        const flow = yield* startFlow()
        const callback = new URL(yield* signIn(flow, sub))
        const noState = new URL(callback)
        noState.searchParams.delete("state")
        const missing = yield* flow.browser.request(noState.href)
        assert.deepStrictEqual([missing.status, missing.text], [400, '{"detail":"OAUTH_INVALID_STATE"}'])
        const forged = yield* makeBrowser().request(callback.href, {
          headers: { cookie: "effect-users-oauth-oidc=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..x.y.z" }
        })
        assert.deepStrictEqual([forged.status, forged.text], [400, '{"detail":"OAUTH_INVALID_STATE"}'])
        // A cookie of the association flow does not open the login flow either.
        assert.isTrue(flow.browser.cookies(new URL(base).host).has("effect-users-oauth-oidc"))
      })
    )

    it.effect("a wrong nonce (an id_token of another request, validly signed) fails", () =>
      Effect.gen(function* () {
        const { kid, privateKey } = yield* TestProvider
        const sub = yield* account({ email: freshEmail("nonce"), email_verified: true })
        const flow = yield* startFlow()
        const callback = yield* signIn(flow, sub)
        tamper = async (idToken) =>
          new jose.SignJWT({ ...jose.decodeJwt(idToken), nonce: "another-request-nonce" })
            .setProtectedHeader({ alg: "RS256", kid })
            .sign(privateKey)
        const reply = yield* flow.browser
          .request(callback)
          .pipe(Effect.ensuring(Effect.sync(() => (tamper = undefined))))
        assert.deepStrictEqual([reply.status, reply.text], [400, '{"detail":"OAUTH_CALLBACK_ERROR"}'])
        const found = yield* Effect.flatMap(UserManager.UserManager, (users) =>
          Effect.exit(users.getByOAuthAccount("oidc", sub))
        )
        assert.strictEqual(found._tag, "Failure")
      })
    )

    it.effect("a forged id_token (another key, claiming a verified victim's e-mail) fails the signature check", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const victim = freshEmail("victim-of-forgery")
        yield* users
          .create({ email: victim, password: Redacted.make("correct-horse-battery"), isVerified: true })
          .pipe(Effect.orDie)
        const sub = yield* account({ email: freshEmail("forger"), email_verified: false })
        const flow = yield* startFlow()
        const callback = yield* signIn(flow, sub)
        const { privateKey: attackerKey } = yield* Effect.promise(() => jose.generateKeyPair("RS256"))
        tamper = async (idToken) =>
          new jose.SignJWT({ ...jose.decodeJwt(idToken), email: victim, email_verified: true })
            .setProtectedHeader({ alg: "RS256", kid: "test-key" })
            .sign(attackerKey)
        const reply = yield* flow.browser
          .request(callback)
          .pipe(Effect.ensuring(Effect.sync(() => (tamper = undefined))))
        assert.deepStrictEqual([reply.status, reply.text], [400, '{"detail":"OAUTH_CALLBACK_ERROR"}'])
        const found = yield* Effect.exit(users.getByOAuthAccount("oidc", sub))
        assert.strictEqual(found._tag, "Failure")
      })
    )

    it.effect("linking by e-mail needs the provider's and the local account's verification", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const taken = '{"detail":"OAUTH_USER_ALREADY_EXISTS"}'
        // A verified local user; the provider does not vouch for the address (the attacker typed it, in capitals).
        const victim = freshEmail("victim")
        const owner = yield* users
          .create({ email: victim, password: Redacted.make("correct-horse-battery"), isVerified: true })
          .pipe(Effect.orDie)
        const notVerified = '{"detail":"OAUTH_NOT_AVAILABLE_EMAIL"}'
        const unverified = yield* signInAs({ email: victim.toUpperCase(), email_verified: false })
        assert.deepStrictEqual([unverified.status, unverified.text], [400, notVerified])
        const absent = yield* signInAs({ email: victim })
        assert.deepStrictEqual([absent.status, absent.text], [400, notVerified])
        // An unverified local user: whoever registered it may not own the address.
        const squatted = freshEmail("squatted")
        yield* users.create({ email: squatted, password: Redacted.make("correct-horse-battery") }).pipe(Effect.orDie)
        const onUnverified = yield* signInAs({ email: squatted, email_verified: true })
        assert.deepStrictEqual([onUnverified.status, onUnverified.text], [400, taken])
        // Both verified: linked to the existing user.
        const linked = yield* signInAs({ email: victim, email_verified: true })
        assert.strictEqual(linked.status, 200, linked.text)
        const user = yield* me(JSON.parse(linked.text).access_token)
        assert.strictEqual(JSON.parse(user.text).id, owner.id)
      })
    )

    it.effect("linking by e-mail never hands over an account for a lookalike address (ß/SS, straße.de)", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const register = (email: string) =>
          users.create({ email, password: Redacted.make("correct-horse-battery"), isVerified: true }).pipe(Effect.orDie)
        // One key, so a lookalike cannot register, but maybe two people's mailboxes: refused, not linked.
        const gauss = yield* register(freshEmail("gauß"))
        const shouted = yield* signInAs({ email: gauss.email.toUpperCase(), email_verified: true })
        assert.deepStrictEqual([shouted.status, shouted.text], [400, '{"detail":"OAUTH_USER_ALREADY_EXISTS"}'])
        // Two domains of two owners: the provider's verified straße.de address gets an account of its own.
        const victim = yield* register(`kay.${crypto.randomUUID()}@strasse.de`)
        const twin = yield* signInAs({ email: victim.email.replace("@strasse.de", "@straße.de"), email_verified: true })
        assert.strictEqual(twin.status, 200, twin.text)
        const user = JSON.parse((yield* me(JSON.parse(twin.text).access_token)).text)
        assert.notStrictEqual(user.id, victim.id)
        assert.strictEqual(user.email, victim.email.replace("@strasse.de", "@straße.de"))
      })
    )

    it.effect("associate: links to the caller; replayed adds no row; another user's account is refused", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const { base } = yield* TestProvider
        const register = Effect.gen(function* () {
          const email = freshEmail("assoc")
          yield* users.create({ email, password: Redacted.make("correct-horse-battery") }).pipe(Effect.orDie)
          const login = yield* makeBrowser().request(`${base}/auth/jwt/login`, {
            form: { username: email, password: "correct-horse-battery" }
          })
          return { authorization: `Bearer ${JSON.parse(login.text).access_token}` }
        })
        const associate = (headers: Record<string, string>, sub: string) =>
          Effect.gen(function* () {
            const flow = yield* startFlow("/auth/oidc/associate/authorize", makeBrowser(), headers)
            assert.strictEqual(
              new URL(flow.url).searchParams.get("redirect_uri"),
              `${base}/auth/oidc/associate/callback`
            )
            const callback = yield* signIn(flow, sub, "/auth/oidc/associate/")
            return yield* flow.browser.request(callback, { headers })
          })
        const sub = yield* account({ email: freshEmail("elsewhere"), email_verified: false })
        const alice = yield* register
        const first = yield* associate(alice, sub)
        assert.strictEqual(first.status, 200, first.text)
        const again = yield* associate(alice, sub)
        assert.strictEqual(again.status, 200, again.text)
        const linked = yield* users.getByOAuthAccount("oidc", sub).pipe(Effect.orDie)
        assert.strictEqual(linked.oauthAccounts.length, 1)
        const bob = yield* register
        const stolen = yield* associate(bob, sub)
        assert.deepStrictEqual([stolen.status, stolen.text], [400, '{"detail":"OAUTH_ACCOUNT_ALREADY_LINKED"}'])
        const still = yield* users.getByOAuthAccount("oidc", sub).pipe(Effect.orDie)
        assert.strictEqual(still.id, linked.id)
      })
    )

    it.effect("the redirect_uri comes from configuration: Host and X-Forwarded-* are ignored", () =>
      Effect.gen(function* () {
        const { base } = yield* TestProvider
        // Node's fetch will not send a Host header of our choosing: plain node:http does.
        const body = yield* Effect.async<string>((resume) => {
          const request = httpRequest(`${base}/auth/oidc/authorize`, {
            headers: { host: "evil.example", "x-forwarded-proto": "javascript", "x-forwarded-host": "evil.example" }
          })
          request.on("response", (response) => {
            let text = ""
            response.on("data", (chunk) => (text += chunk))
            response.on("end", () => resume(Effect.succeed(text)))
          })
          request.end()
        })
        const url = new URL(JSON.parse(body).authorization_url)
        assert.strictEqual(url.searchParams.get("redirect_uri"), `${base}/auth/oidc/callback`)
      })
    )

    it.effect("post-login redirect: only to an allow-listed URL, with the session cookie", () =>
      Effect.gen(function* () {
        const { base } = yield* TestProvider
        const refused = yield* makeBrowser().request(
          `${base}/auth/web/authorize?redirect_to=${encodeURIComponent("https://evil.example/welcome")}`
        )
        assert.deepStrictEqual([refused.status, refused.text], [400, '{"detail":"OAUTH_INVALID_REDIRECT"}'])
        const sneaky = yield* makeBrowser().request(
          `${base}/auth/web/authorize?redirect_to=${encodeURIComponent("http://127.0.0.1:5173/welcome/../admin")}`
        )
        assert.strictEqual(sneaky.status, 400)
        const sub = yield* account({ email: freshEmail("spa"), email_verified: true })
        const flow = yield* startFlow(
          `/auth/web/authorize?redirect_to=${encodeURIComponent("http://127.0.0.1:5173/welcome")}`
        )
        const reply = yield* flow.browser.request(yield* signIn(flow, sub, "/auth/web/"))
        assert.deepStrictEqual([reply.status, reply.location], [303, "http://127.0.0.1:5173/welcome"])
        assert.isTrue(reply.headers.getSetCookie().some((line) => line.startsWith("session=") && /HttpOnly/.test(line)))
        const session = flow.browser.cookies(new URL(base).host).get("session")!
        const user = yield* makeBrowser().request(`${base}/users/me`, { headers: { cookie: `session=${session}` } })
        assert.strictEqual(user.status, 200)
      })
    )

    it.effect("the provider refusing (the user denied consent) is a 400, and spends the state", () =>
      Effect.gen(function* () {
        const { base } = yield* TestProvider
        const flow = yield* startFlow()
        const state = new URL(flow.url).searchParams.get("state")!
        const denied = `${base}/auth/oidc/callback?error=access_denied&state=${state}`
        const reply = yield* flow.browser.request(denied)
        assert.deepStrictEqual([reply.status, reply.text], [400, '{"detail":"OAUTH_CALLBACK_ERROR"}'])
        const again = yield* flow.browser.request(denied)
        assert.deepStrictEqual([again.status, again.text], [400, '{"detail":"OAUTH_INVALID_STATE"}'])
      })
    )
  })

describe("OpenID Connect", () => {
  suite("SQLite", SqliteClient.layer({ filename: ":memory:" }))
})

describePg("OpenID Connect on PostgreSQL", () => {
  const database = freshDatabase()
  suite("PostgreSQL", database.client)
})

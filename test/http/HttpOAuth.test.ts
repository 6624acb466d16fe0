/**
 * GitHub's non-OIDC path against a small local server speaking its token, user and e-mails endpoints (PKCE
 * checked as GitHub does), the login rules of the callback (requiresVerification, inactive users, the
 * verified primary e-mail only), and the options the OAuth layer refuses when it is built.
 */
import { createHash } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { HttpApi } from "@effect/platform"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Redacted } from "effect"
import { AccessTokenStore, AuthStrategy, OAuthProvider, OAuthStateStore, UserManager } from "effect-users"
import { AuthBackend, OAuth, UsersApi } from "effect-users/http"
import { Migrations, SqlUserRepository } from "effect-users/sql"
import { makeBrowser } from "../utils/Browser.js"
import { serveOAuth } from "../utils/OAuthServer.js"
import { freePort } from "../utils/OidcProvider.js"
import { freshEmail, testConfig } from "../utils/TestUsers.js"

const secret = Redacted.make("auth-secret-auth-secret-auth-secret-auth")
const stateSecret = Redacted.make("state-secret-state-secret-state-secret")

interface GitHubAccount {
  readonly id: number
  readonly emails: ReadonlyArray<{ email: string; primary: boolean; verified: boolean }>
}

/** GitHub's endpoints: a code is registered by the test with the PKCE challenge of its authorization URL. */
const startGitHub = Effect.gen(function* () {
  const codes = new Map<string, { challenge: string; account: GitHubAccount }>()
  const tokens = new Map<string, GitHubAccount>()
  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { "content-type": "application/json" })
    response.end(JSON.stringify(body))
  }
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url!, "http://127.0.0.1")
    if (request.method === "POST" && url.pathname === "/login/oauth/access_token") {
      let text = ""
      for await (const chunk of request) text += chunk
      const form = new URLSearchParams(text)
      const grant = codes.get(form.get("code") ?? "")
      codes.delete(form.get("code") ?? "")
      const verifier = form.get("code_verifier") ?? ""
      const challenge = createHash("sha256").update(verifier).digest("base64url")
      // GitHub answers a bad code with 200 and an error body.
      if (grant === undefined || grant.challenge !== challenge || form.get("client_secret") !== "gh-secret") {
        return json(response, 200, { error: "bad_verification_code" })
      }
      const token = `gho_${crypto.randomUUID()}`
      tokens.set(token, grant.account)
      return json(response, 200, { access_token: token, token_type: "bearer", scope: "read:user,user:email" })
    }
    const account = tokens.get((request.headers.authorization ?? "").replace(/^Bearer /, ""))
    if (account === undefined) return json(response, 401, { message: "Bad credentials" })
    if (url.pathname === "/user") return json(response, 200, { id: account.id, login: `user${account.id}` })
    if (url.pathname === "/user/emails") return json(response, 200, account.emails)
    return json(response, 404, { message: "Not Found" })
  }
  const port = yield* freePort
  const server = createServer((request, response) => void handle(request, response))
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => {
      server.listen(port, "127.0.0.1", () => resume(Effect.void))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )
  return { url: `http://127.0.0.1:${port}`, codes }
})

class GitHubServer extends Context.Tag("test/GitHubServer")<
  GitHubServer,
  Effect.Effect.Success<typeof startGitHub> & { readonly base: string }
>() {}

const Users = UsersApi.make({
  backends: [AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret }))],
  requiresVerification: true
})

const Server = Layer.unwrapScoped(
  Effect.gen(function* () {
    const github = yield* startGitHub
    const port = yield* freePort
    const base = `http://127.0.0.1:${port}`
    const GitHub = OAuth.make(
      Users,
      OAuthProvider.github({
        clientId: "gh-client",
        clientSecret: Redacted.make("gh-secret"),
        webUrl: github.url,
        apiUrl: github.url
      }),
      { backend: "jwt", stateSecret, baseUrl: base }
    )
    // An OpenID Provider that is down: nothing listens on its port.
    const Down = OAuth.make(
      Users,
      OAuthProvider.oidc({
        name: "down",
        issuer: `http://127.0.0.1:${yield* freePort}`,
        clientId: "id",
        clientSecret: Redacted.make("secret")
      }),
      { backend: "jwt", stateSecret, baseUrl: base }
    )
    const Api = Users.addTo(HttpApi.make("github-test"))
      .add(GitHub.group)
      .add(GitHub.associateGroup)
      .add(Down.group)
      .add(Down.associateGroup)
    return serveOAuth({
      api: Api,
      users: Users.layer(Api),
      oauth: Layer.merge(GitHub.layer(Api), Down.layer(Api)),
      client: SqliteClient.layer({ filename: ":memory:" }),
      port
    }).pipe(Layer.provideMerge(Layer.succeed(GitHubServer, { ...github, base })), Layer.orDie)
  })
)

layer(Server, { excludeTestServices: true })("GitHub against a local server speaking its endpoints", (it) => {
  /** Authorizes, lets "GitHub" issue a code for the account, and opens the callback in the same browser. */
  const login = (account: GitHubAccount, options: { readonly code?: string } = {}) =>
    Effect.gen(function* () {
      const { base, codes } = yield* GitHubServer
      const browser = makeBrowser()
      const page = yield* browser.request(`${base}/auth/github/authorize`)
      const url = new URL(JSON.parse(page.text).authorization_url)
      const code = crypto.randomUUID()
      codes.set(code, { challenge: url.searchParams.get("code_challenge")!, account })
      const state = url.searchParams.get("state")!
      return yield* browser.request(`${base}/auth/github/callback?code=${options.code ?? code}&state=${state}`)
    })
  const githubAccount = (emails: GitHubAccount["emails"]): GitHubAccount => ({
    id: Math.floor(Math.random() * 1e9),
    emails
  })

  it.effect("the authorization URL: GitHub's endpoint, PKCE S256, the configured callback, the scopes", () =>
    Effect.gen(function* () {
      const { base, url } = yield* GitHubServer
      const page = yield* makeBrowser().request(`${base}/auth/github/authorize?scopes=repo`)
      const authorization = new URL(JSON.parse(page.text).authorization_url)
      assert.strictEqual(`${authorization.origin}${authorization.pathname}`, `${url}/login/oauth/authorize`)
      assert.strictEqual(authorization.searchParams.get("code_challenge_method"), "S256")
      assert.strictEqual(authorization.searchParams.get("redirect_uri"), `${base}/auth/github/callback`)
      assert.strictEqual(authorization.searchParams.get("scope"), "read:user user:email repo")
      assert.strictEqual(page.headers.get("cache-control"), "no-store")
    })
  )

  it.effect("an OpenID Provider that cannot be reached answers 503, and is tried again on the next request", () =>
    Effect.gen(function* () {
      const { base } = yield* GitHubServer
      for (const _ of [1, 2]) {
        const reply = yield* makeBrowser().request(`${base}/auth/down/authorize`)
        assert.deepStrictEqual([reply.status, reply.text], [503, '{"detail":"SERVICE_UNAVAILABLE"}'])
        assert.strictEqual(reply.headers.get("retry-after"), "5")
      }
    })
  )

  it.effect("only the verified primary e-mail counts; requiresVerification applies to OAuth logins", () =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const primary = freshEmail("primary")
      const account = githubAccount([
        { email: freshEmail("secondary"), primary: false, verified: true },
        { email: primary, primary: true, verified: true }
      ])
      // GitHub verified its primary address, and is trusted to: the user starts verified and logs in.
      const first = yield* login(account)
      assert.strictEqual(first.status, 200, first.text)
      assert.strictEqual(JSON.parse(first.text).token_type, "bearer")
      const user = yield* users.getByOAuthAccount("github", String(account.id)).pipe(Effect.orDie)
      assert.deepStrictEqual([user.email, user.isVerified], [primary, true])
      // Unverified since (an e-mail change, an admin): no session.
      yield* users.update(user, { isVerified: false }).pipe(Effect.orDie)
      const second = yield* login(account)
      assert.deepStrictEqual([second.status, second.text], [400, '{"detail":"LOGIN_USER_NOT_VERIFIED"}'])

      const unverifiedPrimary = yield* login(
        githubAccount([
          { email: freshEmail("unverified"), primary: true, verified: false },
          { email: freshEmail("other"), primary: false, verified: true }
        ])
      )
      assert.deepStrictEqual(
        [unverifiedPrimary.status, unverifiedPrimary.text],
        [400, '{"detail":"OAUTH_NOT_AVAILABLE_EMAIL"}']
      )
    })
  )

  it.effect("a provider's e-mail that /auth/register would refuse is no e-mail: 400, and no user is made", () =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const local = freshEmail("hostile").split("@")[0]!
      for (const email of [
        `${local}\u0000@camelot.bt`,
        `${local}\n@camelot.bt`,
        `${local}\u001b[2J@camelot.bt`,
        `${local}\u202e@camelot.bt`,
        `${local}\u200b@camelot.bt`,
        `${local} x@camelot.bt`,
        `${"a".repeat(5000)}@camelot.bt`,
        local,
        ""
      ]) {
        const account = githubAccount([{ email, primary: true, verified: true }])
        const reply = yield* login(account)
        assert.deepStrictEqual(
          [reply.status, reply.text],
          [400, '{"detail":"OAUTH_NOT_AVAILABLE_EMAIL"}'],
          JSON.stringify(email.slice(0, 40))
        )
        const found = yield* Effect.either(users.getByOAuthAccount("github", String(account.id)))
        assert.isTrue(found._tag === "Left", "no user for a refused e-mail")
      }
    })
  )

  it.effect("an inactive user cannot log in; a code of another authorization (PKCE) is refused", () =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const { codes } = yield* GitHubServer
      const account = githubAccount([{ email: freshEmail("inactive"), primary: true, verified: true }])
      yield* login(account)
      const user = yield* users.getByOAuthAccount("github", String(account.id)).pipe(Effect.orDie)
      yield* users.update(user, { isActive: false, isVerified: true }).pipe(Effect.orDie)
      const inactive = yield* login(account)
      assert.deepStrictEqual([inactive.status, inactive.text], [400, '{"detail":"LOGIN_BAD_CREDENTIALS"}'])

      // An attacker's code, issued for the attacker's own authorization request, injected into the victim's.
      codes.set("injected", { challenge: "the-attackers-challenge", account })
      const injected = yield* login(account, { code: "injected" })
      assert.deepStrictEqual([injected.status, injected.text], [400, '{"detail":"OAUTH_CALLBACK_ERROR"}'])
    })
  )
})

describe("OAuth layer options", () => {
  const provider = OAuthProvider.github({ clientId: "id", clientSecret: Redacted.make("secret") })
  const Bearer = UsersApi.make({ backends: [AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret }))] })
  const buildWith = (options: Partial<OAuth.OAuthOptions<"jwt">>) => {
    const routes = OAuth.make(Bearer, provider, { backend: "jwt", stateSecret, ...options })
    const Api = Bearer.addTo(HttpApi.make("options")).add(routes.group).add(routes.associateGroup)
    return Layer.build(
      routes
        .layer(Api)
        .pipe(
          Layer.provide(Bearer.layer(Api)),
          Layer.provide([OAuthStateStore.layerMemory, AccessTokenStore.layerMemory]),
          Layer.provide(UserManager.layer),
          Layer.provide([SqlUserRepository.layer().pipe(Layer.provide(Migrations.layer())), testConfig()]),
          Layer.provide(SqliteClient.layer({ filename: ":memory:" }))
        )
    ).pipe(Effect.scoped, Effect.exit)
  }
  const refusal = (exit: Exit.Exit<unknown, unknown>) => {
    assert.isTrue(Exit.isFailure(exit))
    return Cause.pretty((exit as Exit.Failure<unknown, unknown>).cause)
  }

  it.effect("a state secret under 32 bytes fails the layer, naming stateSecret and not showing it", () =>
    Effect.gen(function* () {
      const message = refusal(
        yield* buildWith({
          stateSecret: Redacted.make("31-bytes-is-one-byte-too-short!"),
          baseUrl: "https://a.example"
        })
      )
      assert.include(message, "stateSecret")
      assert.include(message, "32 bytes")
      assert.notInclude(message, "31-bytes-is-one-byte-too-short!")
      assert.isTrue(Exit.isSuccess(yield* buildWith({ baseUrl: "https://a.example" })))
    })
  )

  it.effect("the callback URL must be configured, https (http only on loopback), without a query", () =>
    Effect.gen(function* () {
      assert.include(refusal(yield* buildWith({})), "redirectUrl")
      assert.include(refusal(yield* buildWith({ baseUrl: "javascript:alert(1)//" })), "redirectUrl")
      assert.include(refusal(yield* buildWith({ baseUrl: "http://app.example" })), "https")
      assert.include(
        refusal(
          yield* buildWith({ redirectUrl: "https://a.example/cb?x=1", associateRedirectUrl: "https://a.example/a" })
        ),
        "no query"
      )
      assert.isTrue(
        Exit.isSuccess(
          yield* buildWith({ redirectUrl: "https://a.example/cb", associateRedirectUrl: "https://a.example/assoc" })
        )
      )
    })
  )

  it.effect("post-login redirects need a cookie backend and real URLs", () =>
    Effect.gen(function* () {
      const bearer = refusal(
        yield* buildWith({ baseUrl: "https://a.example", postLoginRedirects: ["https://a.example/welcome"] })
      )
      assert.include(bearer, "cookie backend")
      assert.include(
        refusal(yield* buildWith({ baseUrl: "https://a.example", postLoginRedirects: ["javascript:alert(1)"] })),
        "postLoginRedirects"
      )
    })
  )
})

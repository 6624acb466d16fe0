/**
 * The notes API over HTTP, on memory layers: no database, no Redis, a real HTTP server on a free port. It runs
 * with the repository's tests (`test/examples/Tutorial.test.ts` imports it).
 */
import { HttpApiBuilder, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import {
  AccessTokenStore,
  OAuthStateStore,
  RefreshTokenStore,
  SecondFactorStore,
  Throttle,
  UserRepository
} from "effect-users"
import * as OTPAuth from "otpauth"
import { ApiLive, ManagerLive } from "./Api.js"
import * as Mailer from "./Mailer.js"
import * as Notes from "./Notes.js"

const outbox: Array<Mailer.Mail> = []

const TestApp = HttpApiBuilder.serve().pipe(
  Layer.provide(ApiLive),
  Layer.provide(Throttle.layerMemory()),
  Layer.provide(ManagerLive),
  Layer.provide(Mailer.layerMemory(outbox)),
  Layer.provide([
    UserRepository.layerMemory,
    AccessTokenStore.layerMemory,
    RefreshTokenStore.layerMemory,
    OAuthStateStore.layerMemory,
    SecondFactorStore.layerMemory,
    Notes.layerMemory
  ]),
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provide(
    Layer.setConfigProvider(
      ConfigProvider.fromMap(
        new Map([
          ["USERS_AUTH_SECRET", "test-auth-secret-of-at-least-32-bytes"],
          ["USERS_RESET_PASSWORD_TOKEN_SECRET", "test-reset-secret-of-at-least-32-bytes"],
          ["USERS_VERIFICATION_TOKEN_SECRET", "test-verify-secret-of-at-least-32-bytes"],
          ["USERS_OAUTH_STATE_SECRET", "test-state-secret-of-at-least-32-bytes"],
          ["USERS_MFA_ENCRYPTION_KEY", "test-mfa-key-of-at-least-32-bytes-long"],
          ["OIDC_ISSUER", "http://127.0.0.1:9000"],
          ["OIDC_CLIENT_ID", "notes"],
          ["OIDC_CLIENT_SECRET", "notes-secret"],
          ["PUBLIC_URL", "http://127.0.0.1:8000"]
        ])
      )
    )
  )
)

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  HttpClientRequest.post(path).pipe(HttpClientRequest.bodyUnsafeJson(body), HttpClientRequest.setHeaders(headers))

const loginForm = (backend: string, username: string, password: string) =>
  HttpClientRequest.post(`/auth/${backend}/login`).pipe(HttpClientRequest.bodyUrlParams({ username, password }))

layer(TestApp, { excludeTestServices: true })("the notes API on memory layers", (it) => {
  it.effect("registers, mails, logs in with a bearer token and a cookie, and keeps each user's notes", () =>
    Effect.gen(function* () {
      const client = yield* HttpClient.HttpClient
      const password = "plum kettle orbit 77"

      const registered = yield* client.execute(
        post("/auth/register", { email: "ada@example.com", password, display_name: "Ada" })
      )
      assert.strictEqual(registered.status, 201)
      assert.strictEqual(((yield* registered.json) as { display_name: string }).display_name, "Ada")
      assert.deepStrictEqual(outbox.at(-1), {
        to: "ada@example.com",
        subject: "Welcome to Notes",
        text: "Hello Ada!"
      })

      // Bearer login: a short-lived access token and a refresh token.
      const login = yield* client.execute(loginForm("jwt", "ada@example.com", password))
      assert.strictEqual(login.status, 200)
      const tokens = (yield* login.json) as { access_token: string; refresh_token: string }
      const bearer = { authorization: `Bearer ${tokens.access_token}` }

      const created = yield* client.execute(post("/notes", { text: "Buy milk" }, bearer))
      assert.strictEqual(created.status, 201)
      assert.strictEqual(((yield* created.json) as { text: string }).text, "Buy milk")

      // The notes routes take JSON only.
      const form = yield* client.execute(
        HttpClientRequest.post("/notes").pipe(
          HttpClientRequest.bodyUrlParams({ text: "from a form" }),
          HttpClientRequest.setHeaders(bearer)
        )
      )
      assert.strictEqual(form.status, 415)

      // A refresh token buys a new pair.
      const refreshed = yield* client.execute(post("/auth/jwt/refresh", { refresh_token: tokens.refresh_token }))
      assert.strictEqual(refreshed.status, 200)
      const renewed = (yield* refreshed.json) as { access_token: string }

      // Cookie login: the same user, the same notes.
      const cookieLogin = yield* client.execute(loginForm("cookie", "ada@example.com", password))
      assert.strictEqual(cookieLogin.status, 204)
      const cookie = cookieLogin.cookies.cookies.fastapiusersauth?.value
      assert.isDefined(cookie)
      const viaCookie = yield* client.execute(
        HttpClientRequest.get("/notes").pipe(HttpClientRequest.setHeader("cookie", `fastapiusersauth=${cookie}`))
      )
      assert.strictEqual(viaCookie.status, 200)
      const notes = (yield* viaCookie.json) as Array<{ text: string }>
      assert.deepStrictEqual(
        notes.map((note) => note.text),
        ["Buy milk"]
      )

      // Another user sees none of them; nobody at all gets a 401.
      yield* client.execute(post("/auth/register", { email: "bob@example.com", password, display_name: "Bob" }))
      const bob = (yield* (yield* client.execute(loginForm("jwt", "bob@example.com", password))).json) as {
        access_token: string
      }
      const bobsNotes = yield* client.execute(
        HttpClientRequest.get("/notes").pipe(HttpClientRequest.bearerToken(bob.access_token))
      )
      assert.deepStrictEqual(yield* bobsNotes.json, [])
      const anonymous = yield* client.execute(HttpClientRequest.get("/notes"))
      assert.strictEqual(anonymous.status, 401)
      const renewedWorks = yield* client.execute(
        HttpClientRequest.get("/notes").pipe(HttpClientRequest.bearerToken(renewed.access_token))
      )
      assert.strictEqual(renewedWorks.status, 200)
    })
  )

  it.effect("turns on TOTP, then logs in in two steps", () =>
    Effect.gen(function* () {
      const client = yield* HttpClient.HttpClient
      const password = "quince ladder meadow 19"
      yield* client.execute(post("/auth/register", { email: "cy@example.com", password, display_name: "Cy" }))
      const login = (yield* (yield* client.execute(loginForm("jwt", "cy@example.com", password))).json) as {
        access_token: string
      }
      const bearer = { authorization: `Bearer ${login.access_token}` }

      // Enrol: the secret goes into an authenticator app (here, otpauth); a first code confirms it.
      const enrolled = yield* client.execute(post("/users/me/mfa/totp", { current_password: password }, bearer))
      assert.strictEqual(enrolled.status, 200)
      const { secret } = (yield* enrolled.json) as { secret: string }
      const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) })
      const confirmed = yield* client.execute(post("/users/me/mfa/totp/confirm", { code: totp.generate() }, bearer))
      assert.strictEqual(confirmed.status, 200)
      const codes = ((yield* confirmed.json) as { recovery_codes: Array<string> }).recovery_codes
      assert.lengthOf(codes, 10)

      // The password alone opens no session now: the answer carries an mfa_token for the second step.
      const first = yield* client.execute(loginForm("jwt", "cy@example.com", password))
      assert.strictEqual(first.status, 401)
      const { detail } = (yield* first.json) as { detail: { code: string; mfa_token: string } }
      assert.strictEqual(detail.code, "LOGIN_MFA_REQUIRED")
      // A recovery code finishes it (a TOTP code would too, once per 30-second step).
      const second = yield* client.execute(
        post("/auth/jwt/login/mfa", { mfa_token: detail.mfa_token, recovery_code: codes[0] })
      )
      assert.strictEqual(second.status, 200)
      const notes = yield* client.execute(
        HttpClientRequest.get("/notes").pipe(
          HttpClientRequest.bearerToken(((yield* second.json) as { access_token: string }).access_token)
        )
      )
      assert.strictEqual(notes.status, 200)
    })
  )
})

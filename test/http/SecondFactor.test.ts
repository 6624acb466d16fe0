/**
 * The second factor over HTTP, on SQLite and PostgreSQL, with a real TOTP generator (`otpauth`) and the real OpenID
 * Provider: enrolment, the two-step login on a bearer backend with refresh tokens and on a cookie backend, wrong,
 * replayed and concurrent codes, spent, expired, dead and foreign `mfa_token`s, recovery codes (once each, and
 * concurrently), regeneration, disabling, the admin reset, step-up refusals and the fresh-session exemption, the
 * OAuth login of a user with a factor, `amr` in tokens and session lists, and no route that gives a session without
 * the second factor.
 *
 * Codes: a TOTP code is accepted once per time step, and only for a step later than the last one accepted, so each
 * test uses its own user, and a login within the enrolment's 30 s uses the code of the next step (within the one
 * step either side the server accepts).
 */
import { randomBytes } from "node:crypto"
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import {
  AuthStrategy,
  OAuthProvider,
  PasswordHasher,
  PasswordValidator,
  SecondFactor,
  Sessions,
  Throttle,
  UserManager
} from "effect-users"
import { AuthBackend, OAuth, UsersApi } from "effect-users/http"
import {
  Migrations,
  SqlAccessTokenStore,
  SqlOAuthStateStore,
  SqlRefreshTokenStore,
  SqlSecondFactorStore,
  SqlUserRepository
} from "effect-users/sql"
import * as OTPAuth from "otpauth"
import { makeBrowser } from "../utils/Browser.js"
import { payloadOf, signJwt } from "../utils/Jwt.js"
import { startProviderFor, type TestAccount } from "../utils/OidcProvider.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail, makeFakeHasher, testConfig } from "../utils/TestUsers.js"

const authSecret = "second-factor-secret-second-factor-secret"
const stateSecret = Redacted.make("state-secret-state-secret-state-secret")
const clientId = "effect-users-mfa"
const clientSecret = "client-secret-client-secret-client-secret"
const password = "correct horse battery staple"
const jwt = AuthStrategy.jwt({ secret: Redacted.make(authSecret), lifetime: "10 minutes" })

const Users = UsersApi.make({
  backends: [
    AuthBackend.bearer("jwt", jwt, { refresh: {} }),
    AuthBackend.bearer("plain", jwt),
    AuthBackend.cookie("cookie", AuthStrategy.database(), { name: "session", secure: false })
  ]
})

class Server extends Context.Tag("test/SecondFactorServer")<
  Server,
  { readonly base: string; readonly accounts: Map<string, TestAccount> }
>() {}

const makeServer = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const { accounts, base, op, port } = yield* startProviderFor(["oidc"], { clientId, clientSecret })
      const Oidc = OAuth.make(
        Users,
        OAuthProvider.oidc({ name: "oidc", issuer: op.issuer, clientId, clientSecret: Redacted.make(clientSecret) }),
        { backend: "jwt", stateSecret, baseUrl: base }
      )
      const Api = Users.addTo(HttpApi.make("second-factor")).add(Oidc.group).add(Oidc.associateGroup)
      // Per-client limits off (every request of these tests comes from one address); the per-account ones stay,
      // with 8 free attempts (six concurrent logins with one code make five wrong ones at once).
      const users = Users.layer(Api).pipe(
        Layer.provide(
          Throttle.layerMemory({
            clients: { login: false, register: false, refresh: false },
            accounts: { freeAttempts: 8 }
          })
        )
      )
      const manager = UserManager.layer.pipe(
        Layer.provide([
          SqlUserRepository.layer(),
          testConfig(),
          PasswordHasher.layer(makeFakeHasher().service),
          PasswordValidator.layer(PasswordValidator.nist)
        ]),
        Layer.provideMerge(
          SecondFactor.layer({
            encryptionKey: Redacted.make("mfa-key-mfa-key-mfa-key-mfa-key-mfa-key"),
            issuer: "Camelot",
            challengeLifetime: "3 seconds"
          }).pipe(Layer.provide(SqlSecondFactorStore.layer()))
        ),
        Layer.provideMerge(
          Layer.mergeAll(SqlOAuthStateStore.layer(), SqlAccessTokenStore.layer(), SqlRefreshTokenStore.layer())
        ),
        Layer.provideMerge(Migrations.layer()),
        Layer.provideMerge(client)
      )
      return HttpApiBuilder.serve().pipe(
        Layer.provide(HttpApiBuilder.api(Api)),
        Layer.provide(Oidc.layer(Api).pipe(Layer.provide(users))),
        Layer.provide(users),
        Layer.provideMerge(manager),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })),
        Layer.provideMerge(Layer.succeed(Server, { base, accounts })),
        Layer.orDie
      )
    })
  )

interface Reply {
  readonly status: number
  // biome-ignore lint/suspicious/noExplicitAny: an untyped JSON reply
  readonly body: any
  readonly headers: Headers
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The code of `secret` for the time step `steps` away from now. */
const codeAt = (secret: string, steps = 0) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 })

const suite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  layer(makeServer(client), { excludeTestServices: true, timeout: 120_000 })(`Second factor (${name})`, (it) => {
    const call = (
      path: string,
      init: { method?: string; json?: unknown; form?: Record<string, string>; headers?: Record<string, string> } = {}
    ) =>
      Effect.flatMap(Server, ({ base }) =>
        Effect.promise(async (): Promise<Reply> => {
          const body =
            init.json !== undefined
              ? JSON.stringify(init.json)
              : init.form !== undefined
                ? new URLSearchParams(init.form).toString()
                : undefined
          const response = await fetch(`${base}${path}`, {
            method: init.method ?? (body === undefined ? "GET" : "POST"),
            headers: {
              ...(init.json !== undefined ? { "content-type": "application/json" } : {}),
              ...(init.form !== undefined ? { "content-type": "application/x-www-form-urlencoded" } : {}),
              ...init.headers
            },
            ...(body === undefined ? {} : { body })
          })
          const text = await response.text()
          return { status: response.status, body: text === "" ? null : JSON.parse(text), headers: response.headers }
        })
      )
    const login = (email: string, backend = "jwt", secret = password) =>
      call(`/auth/${backend}/login`, { form: { username: email, password: secret } })
    const loginMfa = (backend: string, json: Record<string, unknown>) => call(`/auth/${backend}/login/mfa`, { json })
    /** A registered user and a password session on the refresh backend (born before any factor). */
    const registered = Effect.gen(function* () {
      const email = freshEmail("mfa")
      const created = yield* call("/auth/register", { json: { email, password } })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      // Registration logs nobody in.
      assert.isNull(created.headers.get("set-cookie"))
      assert.notProperty(created.body, "access_token")
      const session = yield* login(email)
      assert.strictEqual(session.status, 200)
      return {
        email,
        id: created.body.id as string,
        headers: bearer(session.body.access_token),
        refreshToken: session.body.refresh_token as string
      }
    })
    /** A user with TOTP on (confirmed with the previous step's code): their secret and recovery codes. */
    const enrolled = Effect.gen(function* () {
      const user = yield* registered
      const started = yield* call("/users/me/mfa/totp", { headers: user.headers, json: { current_password: password } })
      assert.strictEqual(started.status, 200, JSON.stringify(started.body))
      const secret = started.body.secret as string
      const confirmed = yield* call("/users/me/mfa/totp/confirm", {
        headers: user.headers,
        json: { code: codeAt(secret, -1) }
      })
      assert.strictEqual(confirmed.status, 200, JSON.stringify(confirmed.body))
      return { ...user, secret, recoveryCodes: confirmed.body.recovery_codes as ReadonlyArray<string> }
    })
    /** The password step of a user with a factor: its `mfa_token`. */
    const mfaToken = (email: string, backend = "jwt") =>
      Effect.map(login(email, backend), (reply) => {
        assert.strictEqual(reply.status, 401, JSON.stringify(reply.body))
        return reply.body.detail.mfa_token as string
      })
    /** A full two-step login with the code of the given step: the bearer reply. */
    const twoStep = (email: string, secret: string, steps = 0, backend = "jwt") =>
      Effect.flatMap(mfaToken(email, backend), (token) =>
        loginMfa(backend, { mfa_token: token, code: codeAt(secret, steps) })
      )
    const providerAccount = (claims: TestAccount) =>
      Effect.map(Server, ({ accounts }) => {
        const sub = `acct-${crypto.randomUUID()}`
        accounts.set(sub, claims)
        return sub
      })
    const oauthLogin = (sub: string) =>
      Effect.gen(function* () {
        const { base } = yield* Server
        const browser = makeBrowser()
        const page = yield* browser.request(`${base}/auth/oidc/authorize`)
        const callback = yield* browser.signIn(JSON.parse(page.text).authorization_url, sub, `${base}/auth/oidc/`)
        const reply = yield* browser.request(callback)
        return { status: reply.status, body: JSON.parse(reply.text), headers: reply.headers }
      })

    it.effect("enrolment: current_password, a pending 160-bit secret, a confirming code, ten recovery codes", () =>
      Effect.gen(function* () {
        const user = yield* registered
        const missing = yield* call("/users/me/mfa/totp", { headers: user.headers, json: {} })
        assert.deepStrictEqual([missing.status, missing.body], [400, { detail: "CURRENT_PASSWORD_REQUIRED" }])
        const wrong = yield* call("/users/me/mfa/totp", {
          headers: user.headers,
          json: { current_password: "not the password at all" }
        })
        assert.deepStrictEqual([wrong.status, wrong.body], [400, { detail: "CURRENT_PASSWORD_INVALID" }])
        const notPending = yield* call("/users/me/mfa/totp/confirm", {
          headers: user.headers,
          json: { code: "123456" }
        })
        assert.deepStrictEqual([notPending.status, notPending.body], [400, { detail: "MFA_NOT_PENDING" }])
        const first = yield* call("/users/me/mfa/totp", { headers: user.headers, json: { current_password: password } })
        const started = yield* call("/users/me/mfa/totp", {
          headers: user.headers,
          json: { current_password: password }
        })
        assert.strictEqual(started.status, 200)
        const secret = started.body.secret as string
        assert.match(secret, /^[A-Z2-7]{32}$/, "160 bits in base32")
        const uri = new URL(started.body.otpauth_uri)
        assert.strictEqual(uri.protocol, "otpauth:")
        assert.deepStrictEqual(
          ["secret", "issuer", "algorithm", "digits", "period"].map((key) => uri.searchParams.get(key)),
          [secret, "Camelot", "SHA1", "6", "30"]
        )
        assert.include(decodeURIComponent(uri.pathname), user.email)
        assert.deepStrictEqual((yield* call("/users/me/mfa", { headers: user.headers })).body, {
          totp: false,
          recovery_codes_left: 0
        })
        // The earlier pending secret was replaced: its codes confirm nothing.
        const replaced = yield* call("/users/me/mfa/totp/confirm", {
          headers: user.headers,
          json: { code: codeAt(first.body.secret) }
        })
        assert.deepStrictEqual([replaced.status, replaced.body], [400, { detail: "MFA_BAD_CODE" }])
        const confirmed = yield* call("/users/me/mfa/totp/confirm", {
          headers: user.headers,
          json: { code: codeAt(secret) }
        })
        assert.strictEqual(confirmed.status, 200)
        const codes = confirmed.body.recovery_codes as ReadonlyArray<string>
        assert.strictEqual(codes.length, 10)
        assert.strictEqual(new Set(codes).size, 10)
        for (const code of codes) assert.match(code, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/, "80 bits each")
        assert.deepStrictEqual((yield* call("/users/me/mfa", { headers: user.headers })).body, {
          totp: true,
          recovery_codes_left: 10
        })
        // Once a factor exists, a new enrolment needs a current code too.
        const again = yield* call("/users/me/mfa/totp", { headers: user.headers, json: { current_password: password } })
        assert.deepStrictEqual([again.status, again.body], [400, { detail: "MFA_CODE_REQUIRED" }])
      })
    )

    it.effect("turning TOTP on ends the other sessions, not the caller's; the caller's refresh family goes on", () =>
      Effect.gen(function* () {
        const user = yield* registered
        const other = yield* login(user.email, "plain")
        const otherFamily = yield* login(user.email)
        const cookie = yield* login(user.email, "cookie")
        const started = yield* call("/users/me/mfa/totp", {
          headers: user.headers,
          json: { current_password: password }
        })
        const confirmed = yield* call("/users/me/mfa/totp/confirm", {
          headers: user.headers,
          json: { code: codeAt(started.body.secret) }
        })
        assert.strictEqual(confirmed.status, 200)
        assert.strictEqual((yield* call("/users/me", { headers: bearer(other.body.access_token) })).status, 401)
        const cookieHeader = { cookie: cookie.headers.get("set-cookie")!.split(";")[0]! }
        assert.strictEqual((yield* call("/users/me", { headers: cookieHeader })).status, 401)
        const otherRefresh = yield* call("/auth/jwt/refresh", {
          json: { refresh_token: otherFamily.body.refresh_token }
        })
        assert.strictEqual(otherRefresh.status, 401)
        assert.strictEqual((yield* call("/users/me", { headers: user.headers })).status, 200)
        // The family that enrolled was born with the password alone and stays so: a refresh continues it as it was.
        const refreshed = yield* call("/auth/jwt/refresh", { json: { refresh_token: user.refreshToken } })
        assert.strictEqual(refreshed.status, 200)
        assert.deepStrictEqual(payloadOf(refreshed.body.access_token).amr, ["pwd"])
      })
    )

    it.effect("two-step login on a bearer backend with refresh: 401 LOGIN_MFA_REQUIRED, then the pair; amr kept", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const first = yield* login(user.email)
        assert.strictEqual(first.status, 401)
        assert.deepStrictEqual(Object.keys(first.body.detail).sort(), ["code", "methods", "mfa_token"])
        assert.strictEqual(first.body.detail.code, "LOGIN_MFA_REQUIRED")
        assert.deepStrictEqual(first.body.detail.methods, ["totp", "recovery_code"])
        assert.isNull(first.headers.get("set-cookie"))
        // The mfa_token is no session.
        assert.strictEqual((yield* call("/users/me", { headers: bearer(first.body.detail.mfa_token) })).status, 401)
        const second = yield* loginMfa("jwt", { mfa_token: first.body.detail.mfa_token, code: codeAt(user.secret) })
        assert.strictEqual(second.status, 200, JSON.stringify(second.body))
        assert.strictEqual(second.body.token_type, "bearer")
        const claims = payloadOf(second.body.access_token)
        assert.deepStrictEqual([claims.mth, claims.amr], ["password", ["pwd", "otp", "mfa"]])
        const refreshed = yield* call("/auth/jwt/refresh", { json: { refresh_token: second.body.refresh_token } })
        assert.strictEqual(refreshed.status, 200)
        assert.deepStrictEqual(payloadOf(refreshed.body.access_token).amr, ["pwd", "otp", "mfa"])
        const sessions = yield* call("/users/me/sessions", { headers: bearer(refreshed.body.access_token) })
        const current = (sessions.body as ReadonlyArray<{ current: boolean; amr: unknown; method: string }>).find(
          (session) => session.current
        )
        assert.deepStrictEqual([current?.method, current?.amr], ["password", ["pwd", "otp", "mfa"]])
        // The enrolling session's family lists how it was made too.
        assert.isTrue(
          (sessions.body as ReadonlyArray<{ amr: unknown }>).some(
            (session) => JSON.stringify(session.amr) === JSON.stringify(["pwd"])
          )
        )
      })
    )

    it.effect("two-step login on the cookie backend: 401 without a cookie, then 204 with it; amr listed", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const first = yield* login(user.email, "cookie")
        assert.strictEqual(first.status, 401)
        assert.isNull(first.headers.get("set-cookie"))
        const second = yield* loginMfa("cookie", {
          mfa_token: first.body.detail.mfa_token,
          code: codeAt(user.secret)
        })
        assert.strictEqual(second.status, 204)
        const cookie = { cookie: second.headers.get("set-cookie")!.split(";")[0]! }
        assert.strictEqual((yield* call("/users/me", { headers: cookie })).body.email, user.email)
        const sessions = yield* call("/users/me/sessions", { headers: cookie })
        const current = (sessions.body as ReadonlyArray<{ current: boolean; amr: unknown; backend: string }>).find(
          (session) => session.current
        )
        assert.deepStrictEqual([current?.backend, current?.amr], ["cookie", ["pwd", "otp", "mfa"]])
      })
    )

    it.effect("a wrong password answers as before: no hint that the account has a factor", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const plain = yield* registered
        const withFactor = yield* login(user.email, "jwt", "not the password at all")
        const without = yield* login(plain.email, "jwt", "not the password at all")
        assert.deepStrictEqual([withFactor.status, withFactor.body], [without.status, without.body])
        assert.deepStrictEqual(withFactor.body, { detail: "LOGIN_BAD_CREDENTIALS" })
      })
    )

    it.effect("wrong, replayed and missing codes: LOGIN_MFA_BAD_CODE", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const token = yield* mfaToken(user.email)
        const right = codeAt(user.secret)
        const wrong = right === "000000" ? "111111" : "000000"
        const bad = yield* loginMfa("jwt", { mfa_token: token, code: wrong })
        assert.deepStrictEqual([bad.status, bad.body], [400, { detail: "LOGIN_MFA_BAD_CODE" }])
        const none = yield* loginMfa("jwt", { mfa_token: token })
        assert.deepStrictEqual([none.status, none.body], [400, { detail: "LOGIN_MFA_BAD_CODE" }])
        assert.strictEqual((yield* loginMfa("jwt", { mfa_token: token, code: right })).status, 200)
        // The same code on a new login: replayed.
        const replay = yield* loginMfa("jwt", { mfa_token: yield* mfaToken(user.email), code: right })
        assert.deepStrictEqual([replay.status, replay.body], [400, { detail: "LOGIN_MFA_BAD_CODE" }])
        // The enrolment's confirming code (the previous step) is spent too.
        const confirming = yield* loginMfa("jwt", {
          mfa_token: yield* mfaToken(user.email),
          code: codeAt(user.secret, -1)
        })
        assert.strictEqual(confirming.status, 400)
      })
    )

    it.effect("six concurrent logins with one code: exactly one session", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const tokens = yield* Effect.forEach(Array.from({ length: 6 }), () => mfaToken(user.email))
        const code = codeAt(user.secret)
        const replies = yield* Effect.forEach(tokens, (token) => loginMfa("jwt", { mfa_token: token, code }), {
          concurrency: "unbounded"
        })
        const statuses = replies.map((reply) => reply.status)
        assert.strictEqual(statuses.filter((status) => status === 200).length, 1, JSON.stringify(statuses))
        assert.deepStrictEqual(
          replies.filter((reply) => reply.status !== 200).map((reply) => reply.body),
          Array.from({ length: 5 }, () => ({ detail: "LOGIN_MFA_BAD_CODE" }))
        )
      })
    )

    it.effect("an mfa_token works once, on its own backend, for its lifetime, and dies after five wrong codes", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const invalid = { detail: "LOGIN_MFA_TOKEN_INVALID" }
        // Issued for the refresh backend: another backend refuses it, and it still works where it belongs.
        const token = yield* mfaToken(user.email)
        const elsewhere = yield* loginMfa("cookie", { mfa_token: token, code: codeAt(user.secret) })
        assert.deepStrictEqual([elsewhere.status, elsewhere.body], [400, invalid])
        assert.strictEqual((yield* loginMfa("jwt", { mfa_token: token, code: codeAt(user.secret) })).status, 200)
        const spent = yield* loginMfa("jwt", { mfa_token: token, code: codeAt(user.secret, 1) })
        assert.deepStrictEqual([spent.status, spent.body], [400, invalid])
        const unknown = yield* loginMfa("jwt", { mfa_token: randomBytes(32).toString("base64url"), code: "123456" })
        assert.deepStrictEqual([unknown.status, unknown.body], [400, invalid])
        // Five wrong codes kill it: the right one is too late.
        const dying = yield* mfaToken(user.email, "plain")
        for (let attempt = 0; attempt < 5; attempt++) {
          const reply = yield* loginMfa("plain", { mfa_token: dying, recovery_code: `wrong-${attempt}` })
          assert.strictEqual(reply.status, 400, JSON.stringify(reply.body))
        }
        const dead = yield* loginMfa("plain", { mfa_token: dying, recovery_code: user.recoveryCodes[0] })
        assert.deepStrictEqual([dead.status, dead.body], [400, invalid])
        // Wrong codes count on the account's throttle (8 free here, then waits), whatever the mfa_token.
        const statuses: Array<number> = []
        for (let attempt = 0; attempt < 4; attempt++) {
          const reply = yield* loginMfa("plain", { mfa_token: yield* mfaToken(user.email, "plain"), code: "000000" })
          statuses.push(reply.status)
          if (reply.status === 429) assert.isNotNull(reply.headers.get("retry-after"))
        }
        assert.deepStrictEqual(statuses, [400, 400, 400, 429])
        // It expires (3 s in this server).
        const expiring = yield* mfaToken(user.email, "cookie")
        yield* Effect.sleep("3500 millis")
        const expired = yield* loginMfa("cookie", { mfa_token: expiring, recovery_code: user.recoveryCodes[1] })
        assert.deepStrictEqual([expired.status, expired.body], [400, invalid])
      })
    )

    it.effect("recovery codes: each works once, one of six concurrent uses wins, and new ones kill the old", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const [first, second, third] = user.recoveryCodes
        const used = yield* loginMfa("jwt", { mfa_token: yield* mfaToken(user.email), recovery_code: first })
        assert.strictEqual(used.status, 200, JSON.stringify(used.body))
        assert.deepStrictEqual(payloadOf(used.body.access_token).amr, ["pwd", "otp", "mfa"])
        const again = yield* loginMfa("jwt", { mfa_token: yield* mfaToken(user.email), recovery_code: first })
        assert.deepStrictEqual([again.status, again.body], [400, { detail: "LOGIN_MFA_BAD_CODE" }])
        // Typed loosely: upper case, no dashes.
        const loose = second!.replaceAll("-", "").toUpperCase()
        assert.strictEqual(
          (yield* loginMfa("jwt", { mfa_token: yield* mfaToken(user.email), recovery_code: loose })).status,
          200
        )
        const tokens = yield* Effect.forEach(Array.from({ length: 6 }), () => mfaToken(user.email))
        const replies = yield* Effect.forEach(
          tokens,
          (token) => loginMfa("jwt", { mfa_token: token, recovery_code: third }),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(replies.map((reply) => reply.status).sort(), [200, 400, 400, 400, 400, 400])
        assert.strictEqual((yield* call("/users/me/mfa", { headers: user.headers })).body.recovery_codes_left, 7)
        // Wait out the back-off the five wrong uses may have started.
        yield* Effect.sleep("1100 millis")
        // Regeneration: a step-up (password and code), ten new codes, the old ones dead.
        const noCode = yield* call("/users/me/mfa/recovery-codes", {
          headers: user.headers,
          json: { current_password: password }
        })
        assert.deepStrictEqual([noCode.status, noCode.body], [400, { detail: "MFA_CODE_REQUIRED" }])
        const renewed = yield* call("/users/me/mfa/recovery-codes", {
          headers: user.headers,
          json: { current_password: password, code: codeAt(user.secret) }
        })
        assert.strictEqual(renewed.status, 200, JSON.stringify(renewed.body))
        assert.strictEqual(renewed.body.recovery_codes.length, 10)
        const old = yield* loginMfa("jwt", {
          mfa_token: yield* mfaToken(user.email),
          recovery_code: user.recoveryCodes[4]
        })
        assert.strictEqual(old.status, 400)
        const fresh = yield* loginMfa("jwt", {
          mfa_token: yield* mfaToken(user.email),
          recovery_code: renewed.body.recovery_codes[0]
        })
        assert.strictEqual(fresh.status, 200)
      })
    )

    it.effect("step-up: password AND code from a password-only session; none from a fresh two-factor session", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const patch = (headers: Record<string, string>, json: Record<string, unknown>) =>
          call("/users/me", { method: "PATCH", headers, json })
        // The enrolling session was made with the password alone.
        const noCode = yield* patch(user.headers, { password: "short pw 8", current_password: password })
        assert.deepStrictEqual([noCode.status, noCode.body], [400, { detail: "MFA_CODE_REQUIRED" }])
        const wrongCode = yield* patch(user.headers, {
          password: "short pw 8",
          current_password: password,
          code: "000000"
        })
        assert.deepStrictEqual([wrongCode.status, wrongCode.body], [400, { detail: "MFA_BAD_CODE" }])
        const noPassword = yield* patch(user.headers, { password: "short pw 8", code: codeAt(user.secret) })
        assert.deepStrictEqual([noPassword.status, noPassword.body], [400, { detail: "CURRENT_PASSWORD_REQUIRED" }])
        // A two-factor session older than the window is no exemption.
        const sessions = yield* Sessions.Sessions
        const epoch = Option.getOrThrow(yield* sessions.lookup(user.id)).sessionEpoch
        const now = Math.floor(Date.now() / 1000)
        const stale = bearer(
          signJwt(
            {
              sub: user.id,
              aud: ["effect-users:auth"],
              iat: now - 600,
              exp: now + 600,
              jti: randomBytes(16).toString("base64url"),
              sep: epoch,
              mth: "password",
              auth_time: now - 600,
              amr: ["pwd", "otp", "mfa"]
            },
            authSecret
          )
        )
        const staleReply = yield* patch(stale, { password: "short pw 8" })
        assert.deepStrictEqual([staleReply.status, staleReply.body], [400, { detail: "CURRENT_PASSWORD_REQUIRED" }])
        // Password and recovery code together pass; with a factor, 8 characters are enough under `nist`.
        const withRecovery = yield* patch(user.headers, {
          password: "short pw 8",
          current_password: password,
          recovery_code: user.recoveryCodes[0]
        })
        assert.strictEqual(withRecovery.status, 200, JSON.stringify(withRecovery.body))
      })
    )

    it.effect("a fresh two-factor session is exempt from the step-up; 15 characters without a factor (nist)", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const session = yield* twoStep(user.email, user.secret)
        assert.strictEqual(session.status, 200, JSON.stringify(session.body))
        const changed = yield* call("/users/me", {
          method: "PATCH",
          headers: bearer(session.body.access_token),
          json: { password: "eight ch" }
        })
        assert.strictEqual(changed.status, 200, JSON.stringify(changed.body))
        const plain = yield* registered
        const short = yield* call("/users/me", {
          method: "PATCH",
          headers: plain.headers,
          json: { password: "eight ch", current_password: password }
        })
        assert.strictEqual(short.status, 400)
        assert.strictEqual(short.body.detail.code, "UPDATE_USER_INVALID_PASSWORD")
        assert.include(short.body.detail.reason, "15")
      })
    )

    it.effect("disabling TOTP: a step-up; the login is one step again, other sessions end", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        const other = yield* twoStep(user.email, user.secret, 0, "plain")
        assert.strictEqual(other.status, 200)
        const refused = yield* call("/users/me/mfa/totp", {
          method: "DELETE",
          headers: user.headers,
          json: { current_password: password }
        })
        assert.deepStrictEqual([refused.status, refused.body], [400, { detail: "MFA_CODE_REQUIRED" }])
        const off = yield* call("/users/me/mfa/totp", {
          method: "DELETE",
          headers: user.headers,
          json: { current_password: password, code: codeAt(user.secret, 1) }
        })
        assert.strictEqual(off.status, 204, JSON.stringify(off.body))
        assert.deepStrictEqual((yield* call("/users/me/mfa", { headers: user.headers })).body, {
          totp: false,
          recovery_codes_left: 0
        })
        assert.strictEqual((yield* call("/users/me", { headers: bearer(other.body.access_token) })).status, 401)
        assert.strictEqual((yield* login(user.email)).status, 200)
        const again = yield* call("/users/me/mfa/totp", {
          method: "DELETE",
          headers: user.headers,
          json: { current_password: password }
        })
        assert.deepStrictEqual([again.status, again.body], [400, { detail: "MFA_NOT_ENABLED" }])
      })
    )

    it.effect("admin reset: a superuser removes every factor; the user's sessions end; one-step login again", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const user = yield* enrolled
        const bossEmail = freshEmail("boss")
        yield* users
          .create({ email: bossEmail, password: Redacted.make(password), isSuperuser: true })
          .pipe(Effect.orDie)
        const boss = bearer((yield* login(bossEmail)).body.access_token)
        const byUser = yield* call(`/users/${user.id}/mfa`, { method: "DELETE", headers: user.headers })
        assert.strictEqual(byUser.status, 403)
        const reset = yield* call(`/users/${user.id}/mfa`, { method: "DELETE", headers: boss })
        assert.strictEqual(reset.status, 204)
        assert.strictEqual((yield* call("/users/me", { headers: user.headers })).status, 401)
        const back = yield* login(user.email)
        assert.strictEqual(back.status, 200)
        assert.deepStrictEqual((yield* call("/users/me/mfa", { headers: bearer(back.body.access_token) })).body, {
          totp: false,
          recovery_codes_left: 0
        })
        const unknown = yield* call(`/users/${crypto.randomUUID()}/mfa`, { method: "DELETE", headers: boss })
        assert.strictEqual(unknown.status, 404)
      })
    )

    it.effect("OAuth: linking needs a fresh two-factor session; the provider login takes the second step", () =>
      Effect.gen(function* () {
        const { base } = yield* Server
        const user = yield* enrolled
        const sub = yield* providerAccount({ email: user.email, email_verified: true })
        const associate = (headers: Record<string, string>) =>
          Effect.gen(function* () {
            const browser = makeBrowser()
            const page = yield* browser.request(`${base}/auth/oidc/associate/authorize`, { headers })
            if (page.status !== 200) return { status: page.status, text: page.text }
            const callback = yield* browser.signIn(
              JSON.parse(page.text).authorization_url,
              sub,
              `${base}/auth/oidc/associate/`
            )
            const reply = yield* browser.request(callback, { headers })
            return { status: reply.status, text: reply.text }
          })
        // A session made with the password alone may not link an account of a user with a factor.
        const refused = yield* associate(user.headers)
        assert.deepStrictEqual(
          [refused.status, JSON.parse(refused.text)],
          [403, { detail: "REAUTHENTICATION_REQUIRED" }]
        )
        const session = yield* twoStep(user.email, user.secret)
        assert.strictEqual(session.status, 200)
        const linked = yield* associate(bearer(session.body.access_token))
        assert.strictEqual(linked.status, 200, linked.text)
        // The provider proves the first factor only.
        const first = yield* oauthLogin(sub)
        assert.strictEqual(first.status, 401, JSON.stringify(first.body))
        assert.strictEqual(first.body.detail.code, "LOGIN_MFA_REQUIRED")
        assert.notInclude(first.headers.get("set-cookie") ?? "", "session=")
        const second = yield* loginMfa("jwt", { mfa_token: first.body.detail.mfa_token, code: codeAt(user.secret, 1) })
        assert.strictEqual(second.status, 200, JSON.stringify(second.body))
        const claims = payloadOf(second.body.access_token)
        assert.deepStrictEqual([claims.mth, claims.amr], ["oauth:oidc", ["oauth", "otp", "mfa"]])
      })
    )

    it.effect(
      "a provider sign-up (no password of their own) enrols TOTP with its recent sign-in, and turns it off",
      () =>
        Effect.gen(function* () {
          const sub = yield* providerAccount({ email: freshEmail("oauthonly"), email_verified: true })
          const signedIn = yield* oauthLogin(sub)
          assert.strictEqual(signedIn.status, 200, JSON.stringify(signedIn.body))
          const headers = bearer(signedIn.body.access_token)
          // No current_password to give: the sign-in of minutes ago stands in for it.
          const started = yield* call("/users/me/mfa/totp", { headers, json: {} })
          assert.strictEqual(started.status, 200, JSON.stringify(started.body))
          const secret = started.body.secret as string
          const confirmed = yield* call("/users/me/mfa/totp/confirm", { headers, json: { code: codeAt(secret, -1) } })
          assert.strictEqual(confirmed.status, 200, JSON.stringify(confirmed.body))
          assert.lengthOf(confirmed.body.recovery_codes, 10)
          // A factor now exists: a proof of it is asked for, still no password.
          const renew = yield* call("/users/me/mfa/recovery-codes", { headers, json: {} })
          assert.deepStrictEqual([renew.status, renew.body], [400, { detail: "MFA_CODE_REQUIRED" }])
          const off = yield* call("/users/me/mfa/totp", { method: "DELETE", headers, json: { code: codeAt(secret) } })
          assert.strictEqual(off.status, 204, JSON.stringify(off.body))
          assert.deepStrictEqual((yield* call("/users/me/mfa", { headers })).body, {
            totp: false,
            recovery_codes_left: 0
          })
        })
    )

    it.effect("no route gives a session without the second factor", () =>
      Effect.gen(function* () {
        const user = yield* enrolled
        for (const backend of ["jwt", "plain", "cookie"]) {
          const reply = yield* login(user.email, backend)
          assert.strictEqual(reply.status, 401, backend)
          assert.isNull(reply.headers.get("set-cookie"), backend)
          assert.notProperty(reply.body, "access_token")
          // JSON logins too.
          const json = yield* call(`/auth/${backend}/login`, { json: { username: user.email, password } })
          assert.strictEqual(json.status, 401, backend)
        }
        // A refresh token of a family of another session (born before the factor) ended with the enrolment.
        // The family that enrolled continues (tested above); the mfa_token is no refresh token.
        const token = yield* mfaToken(user.email)
        const asRefresh = yield* call("/auth/jwt/refresh", { json: { refresh_token: token } })
        assert.strictEqual(asRefresh.status, 401)
        const sub = yield* providerAccount({ email: freshEmail("stranger"), email_verified: true })
        const stranger = yield* oauthLogin(sub)
        assert.strictEqual(stranger.status, 200, "a provider sign-up without a factor logs in at once")
      })
    )
  })

suite("SQLite", SqliteClient.layer({ filename: ":memory:" }))

describePg("PostgreSQL", () => {
  suite("PostgreSQL", freshDatabase().client)
})

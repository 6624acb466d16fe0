/**
 * The HTTP contract (contract.md, "Login backends" and "HTTP routes"), end to end over a real server, for
 * any SQL database: every route, every status code and error body, both login backends.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Option, Redacted } from "effect"
import { UserManager } from "effect-users"
import { defined, eventually } from "../utils/Eventually.js"
import { makeServer, request } from "../utils/HttpTest.js"
import { payloadOf, signJwt } from "../utils/Jwt.js"
import { freshEmail, type HookRecorder } from "../utils/TestUsers.js"

const password = "correct-horse-battery"
const unauthorized = { detail: "Unauthorized" }

/** The token a hook received for this e-mail; the routes may hand it over after their 202, so it is polled for. */
const tokenFor = (recorder: HookRecorder, hook: "onAfterRequestVerify" | "onAfterForgotPassword", email: string) =>
  eventually(
    defined(
      () => recorder.named(hook).find((call) => (call.args[0] as { email: string }).email === email)?.args[1] as string,
      `${hook} for ${email}`
    )
  )

export const httpSuite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const server = makeServer(client)
  const { hooks } = server

  const register = (email = freshEmail(), extra: Record<string, unknown> = {}) =>
    request("/auth/register", { json: { email, password, ...extra } })

  const bearer = (email: string, pass = password) =>
    Effect.map(
      request("/auth/jwt/login", { form: { username: email, password: pass } }),
      (reply) => reply.body.access_token as string
    )
  const auth = (token: string) => ({ authorization: `Bearer ${token}` })

  const cookieLogin = (email: string) =>
    Effect.map(request("/auth/cookie/login", { form: { username: email, password } }), (reply) => {
      const header = reply.headers.get("set-cookie") ?? ""
      return { reply, header, value: /^fastapiusersauth=([^;]*)/.exec(header)?.[1] ?? "" }
    })

  /** A registered user, with its ID and a bearer token. */
  const user = (flags: { isSuperuser?: boolean; isVerified?: boolean; isActive?: boolean } = {}) =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const email = freshEmail()
      const created = yield* users.create({ email, password: Redacted.make(password), ...flags }).pipe(Effect.orDie)
      const token = flags.isActive === false ? "" : yield* bearer(email)
      return { id: created.id, email, token }
    })

  layer(server.layer, { excludeTestServices: true })(name, (it) => {
    it.effect("POST /auth/register: 201 with the user in snake_case, never the hash; flags ignored", () =>
      Effect.gen(function* () {
        const recorder = hooks.recorder()
        const email = freshEmail()
        const reply = yield* register(email, { is_superuser: true, is_verified: true, is_active: false })
        assert.strictEqual(reply.status, 201)
        assert.deepStrictEqual(Object.keys(reply.body).sort(), [
          "email",
          "id",
          "is_active",
          "is_superuser",
          "is_verified"
        ])
        assert.deepInclude(reply.body, { email, is_active: true, is_superuser: false, is_verified: false })
        const calls = recorder.named("onAfterRegister")
        assert.lengthOf(calls, 1)
        assert.deepInclude(calls[0]!.args[0] as object, {
          id: reply.body.id,
          email,
          isActive: true,
          isSuperuser: false
        })
        assert.isTrue(Option.isSome(calls[0]!.args[1] as Option.Option<unknown>), "the hook sees the request")
      })
    )

    it.effect("POST /auth/register: 400 REGISTER_USER_ALREADY_EXISTS, whatever the case", () =>
      Effect.gen(function* () {
        const email = freshEmail("Arthur")
        yield* register(email)
        const reply = yield* register(email.toUpperCase())
        assert.strictEqual(reply.status, 400)
        assert.deepStrictEqual(reply.body, { detail: "REGISTER_USER_ALREADY_EXISTS" })
      })
    )

    it.effect("POST /auth/register: 400 REGISTER_INVALID_PASSWORD with a reason", () =>
      Effect.gen(function* () {
        const reply = yield* request("/auth/register", { json: { email: freshEmail(), password: "short" } })
        assert.strictEqual(reply.status, 400)
        assert.strictEqual(reply.body.detail.code, "REGISTER_INVALID_PASSWORD")
        assert.isString(reply.body.detail.reason)
      })
    )

    it.effect("malformed bodies answer 422 with a detail list, never 500", () =>
      Effect.gen(function* () {
        const cases = [
          request("/auth/register", { json: { email: "not-an-email", password } }),
          request("/auth/register", { json: { email: freshEmail() } }),
          request("/auth/register", { json: { email: freshEmail(), password: 42 } }),
          request("/auth/register", { json: [] }),
          request("/auth/register", { body: "{not json", headers: { "content-type": "application/json" } }),
          request("/auth/register", { body: "plain text", headers: { "content-type": "application/json" } }),
          request("/auth/jwt/login", { form: { username: "a@b.c" } }),
          request("/auth/forgot-password", { json: { email: "nope" } }),
          request("/auth/request-verify-token", { json: {} }),
          request("/auth/verify", { json: { token: 1 } }),
          request("/auth/reset-password", { json: { token: "x" } })
        ]
        for (const reply of yield* Effect.all(cases)) {
          assert.strictEqual(reply.status, 422, JSON.stringify(reply.body))
          assert.isArray(reply.body.detail)
          assert.isAbove(reply.body.detail.length, 0)
        }
      })
    )

    it.effect("POST /auth/jwt/login: 200 bearer token; /users/me with it", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        yield* register(email)
        const recorder = hooks.recorder()
        const login = yield* request("/auth/jwt/login", { form: { username: email, password } })
        assert.strictEqual(login.status, 200)
        assert.strictEqual(login.body.token_type, "bearer")
        assert.isString(login.body.access_token)
        const me = yield* request("/users/me", { headers: auth(login.body.access_token) })
        assert.strictEqual(me.status, 200)
        assert.strictEqual(me.body.email, email)
        const logins = recorder.named("onAfterLogin")
        assert.lengthOf(logins, 1)
        assert.strictEqual((logins[0]!.args[0] as { email: string }).email, email)
        assert.isTrue(Option.isSome(logins[0]!.args[2] as Option.Option<unknown>), "the hook sees the response")
      })
    )

    it.effect(
      "POST /auth/{backend}/login: 400 LOGIN_BAD_CREDENTIALS for a wrong password, unknown or inactive user",
      () =>
        Effect.gen(function* () {
          const email = freshEmail()
          yield* register(email)
          const inactive = yield* user({ isActive: false })
          for (const backend of ["jwt", "cookie"]) {
            for (const form of [
              { username: email, password: "wrong-password" },
              { username: freshEmail(), password },
              { username: inactive.email, password }
            ]) {
              const reply = yield* request(`/auth/${backend}/login`, { form })
              assert.strictEqual(reply.status, 400)
              assert.deepStrictEqual(reply.body, { detail: "LOGIN_BAD_CREDENTIALS" })
            }
          }
        })
    )

    it.effect("GET /users/me: 401 without a token, with a bad token, with a token signed by another key", () =>
      Effect.gen(function* () {
        const { token } = yield* user()
        const otherKey = signJwt(payloadOf(token), "another-key-another-key-another-key-another")
        for (const headers of [
          {},
          { authorization: "Bearer nonsense" },
          { authorization: `Bearer ${otherKey}` },
          { authorization: `Basic ${token}` },
          { cookie: "fastapiusersauth=nonsense" }
        ]) {
          const reply = yield* request("/users/me", { headers })
          assert.strictEqual(reply.status, 401)
          assert.deepStrictEqual(reply.body, { detail: "Unauthorized" })
        }
      })
    )

    it.effect("GET /users/me: 401 once the user is deactivated", () =>
      Effect.gen(function* () {
        const { id, token } = yield* user()
        const users = yield* UserManager.UserManager
        yield* users.update(yield* users.get(id).pipe(Effect.orDie), { isActive: false }).pipe(Effect.orDie)
        const reply = yield* request("/users/me", { headers: auth(token) })
        assert.deepStrictEqual([reply.status, reply.body], [401, unauthorized])
      })
    )

    it.effect("POST /auth/jwt/logout: 204 with a token, 401 without", () =>
      Effect.gen(function* () {
        const { token } = yield* user()
        const out = yield* request("/auth/jwt/logout", { method: "POST", headers: auth(token) })
        assert.deepStrictEqual([out.status, out.body], [204, undefined])
        const anonymous = yield* request("/auth/jwt/logout", { method: "POST" })
        assert.deepStrictEqual([anonymous.status, anonymous.body], [401, unauthorized])
      })
    )

    it.effect(
      "cookie backend: 204 + Set-Cookie; the cookie authenticates; logout clears it and revokes the token",
      () =>
        Effect.gen(function* () {
          const email = freshEmail()
          yield* register(email)
          const { header, reply, value } = yield* cookieLogin(email)
          assert.strictEqual(reply.status, 204)
          assert.match(header, /^fastapiusersauth=[A-Za-z0-9_-]{43};/)
          for (const attribute of ["Max-Age=3600", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"]) {
            assert.include(header, attribute)
          }
          const cookie = { cookie: `fastapiusersauth=${value}` }
          const me = yield* request("/users/me", { headers: cookie })
          assert.strictEqual(me.status, 200)
          assert.strictEqual(me.body.email, email)

          const out = yield* request("/auth/cookie/logout", { method: "POST", headers: cookie })
          assert.strictEqual(out.status, 204)
          const cleared = out.headers.get("set-cookie") ?? ""
          assert.match(cleared, /^fastapiusersauth=;/)
          assert.include(cleared, "Max-Age=0")
          const revoked = yield* request("/users/me", { headers: cookie })
          assert.deepStrictEqual([revoked.status, revoked.body], [401, unauthorized])
          const again = yield* request("/auth/cookie/logout", { method: "POST", headers: cookie })
          assert.deepStrictEqual([again.status, again.body], [401, unauthorized])
        })
    )

    it.effect("database strategy: the table holds a SHA-256 of the token, not the token", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        yield* register(email)
        const { value } = yield* cookieLogin(email)
        const sql = (yield* SqlClient.SqlClient).withoutTransforms()
        const rows = yield* sql<{ token: string }>`SELECT token FROM accesstoken`.pipe(Effect.orDie)
        assert.isFalse(rows.some((row) => row.token === value))
        const { createHash } = yield* Effect.promise(() => import("node:crypto"))
        const digest = createHash("sha256").update(value).digest("base64url")
        assert.isTrue(rows.some((row) => row.token === digest))
      })
    )

    it.effect("database strategy: a token older than its lifetime is refused", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        yield* register(email)
        const { value } = yield* cookieLogin(email)
        const { createHash } = yield* Effect.promise(() => import("node:crypto"))
        const digest = createHash("sha256").update(value).digest("base64url")
        const sql = (yield* SqlClient.SqlClient).withoutTransforms()
        const old = new Date(Date.now() - 2 * 3600_000)
        const stamp = yield* sql.onDialectOrElse({
          sqlite: () => Effect.succeed(old.toISOString().replace("T", " ").slice(0, 19) as unknown),
          orElse: () => Effect.succeed(old as unknown)
        })
        yield* sql`UPDATE accesstoken SET created_at = ${stamp as string} WHERE token = ${digest}`.pipe(Effect.orDie)
        const reply = yield* request("/users/me", { headers: { cookie: `fastapiusersauth=${value}` } })
        assert.deepStrictEqual([reply.status, reply.body], [401, unauthorized])
      })
    )

    it.effect("both backends at once: the first that yields a user wins", () =>
      Effect.gen(function* () {
        const first = yield* user()
        const email = freshEmail()
        yield* register(email)
        const { value } = yield* cookieLogin(email)
        const both = { ...auth(first.token), cookie: `fastapiusersauth=${value}` }
        const bearerWins = yield* request("/users/me", { headers: both })
        assert.deepStrictEqual([bearerWins.status, bearerWins.body.email], [200, first.email])
        const badBearer = { authorization: "Bearer nonsense", cookie: `fastapiusersauth=${value}` }
        const cookieWins = yield* request("/users/me", { headers: badBearer })
        assert.deepStrictEqual([cookieWins.status, cookieWins.body.email], [200, email])
      })
    )

    it.effect("forgot-password (always 202) then reset-password: 200 once, then RESET_PASSWORD_BAD_TOKEN", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        yield* register(email)
        const recorder = hooks.recorder()
        const unknown = yield* request("/auth/forgot-password", { json: { email: freshEmail() } })
        assert.strictEqual(unknown.status, 202)
        const known = yield* request("/auth/forgot-password", { json: { email } })
        assert.strictEqual(known.status, 202)
        assert.deepStrictEqual([unknown.body, known.body], [null, null])
        const token = yield* tokenFor(recorder, "onAfterForgotPassword", email)
        assert.lengthOf(recorder.named("onAfterForgotPassword"), 1)

        const weak = yield* request("/auth/reset-password", { json: { token, password: "short" } })
        assert.strictEqual(weak.status, 400)
        assert.strictEqual(weak.body.detail.code, "RESET_PASSWORD_INVALID_PASSWORD")
        assert.isString(weak.body.detail.reason)

        const reset = yield* request("/auth/reset-password", { json: { token, password: "a-brand-new-password" } })
        assert.deepStrictEqual([reset.status, reset.body], [200, null])
        const again = yield* request("/auth/reset-password", { json: { token, password: "another-new-password" } })
        assert.strictEqual(again.status, 400)
        assert.deepStrictEqual(again.body, { detail: "RESET_PASSWORD_BAD_TOKEN" })
        const bad = yield* request("/auth/reset-password", { json: { token: "garbage", password: "a-fine-password" } })
        assert.deepStrictEqual([bad.status, bad.body], [400, { detail: "RESET_PASSWORD_BAD_TOKEN" }])

        const old = yield* request("/auth/jwt/login", { form: { username: email, password } })
        assert.deepStrictEqual([old.status, old.body], [400, { detail: "LOGIN_BAD_CREDENTIALS" }])
        const login = yield* request("/auth/jwt/login", { form: { username: email, password: "a-brand-new-password" } })
        assert.deepStrictEqual([login.status, login.body.token_type], [200, "bearer"])
      })
    )

    it.effect(
      "forgot-password: an inactive user gets 202 and no token; reset for an inactive user is a bad token",
      () =>
        Effect.gen(function* () {
          const inactive = yield* user({ isActive: false })
          const recorder = hooks.recorder()
          const reply = yield* request("/auth/forgot-password", { json: { email: inactive.email } })
          assert.deepStrictEqual([reply.status, reply.body], [202, null])
          const active = yield* user()
          yield* request("/auth/forgot-password", { json: { email: active.email } })
          const token = yield* tokenFor(recorder, "onAfterForgotPassword", active.email)
          // The inactive user's request came first and got no token.
          assert.deepStrictEqual(
            recorder.named("onAfterForgotPassword").map((call) => (call.args[0] as { email: string }).email),
            [active.email]
          )
          const users = yield* UserManager.UserManager
          yield* users.update(yield* users.get(active.id).pipe(Effect.orDie), { isActive: false }).pipe(Effect.orDie)
          const reset = yield* request("/auth/reset-password", { json: { token, password: "a-brand-new-password" } })
          assert.deepStrictEqual([reset.status, reset.body], [400, { detail: "RESET_PASSWORD_BAD_TOKEN" }])
        })
    )

    it.effect("request-verify-token (always 202) then verify: 200, then VERIFY_USER_ALREADY_VERIFIED", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        yield* register(email)
        const recorder = hooks.recorder()
        const unknown = yield* request("/auth/request-verify-token", { json: { email: freshEmail() } })
        assert.deepStrictEqual([unknown.status, unknown.body], [202, null])
        const known = yield* request("/auth/request-verify-token", { json: { email } })
        assert.deepStrictEqual([known.status, known.body], [202, null])
        const token = yield* tokenFor(recorder, "onAfterRequestVerify", email)
        assert.lengthOf(recorder.named("onAfterRequestVerify"), 1)
        const verified = yield* request("/auth/verify", { json: { token } })
        assert.strictEqual(verified.status, 200)
        assert.deepInclude(verified.body, { email, is_verified: true })
        const again = yield* request("/auth/verify", { json: { token } })
        assert.deepStrictEqual([again.status, again.body], [400, { detail: "VERIFY_USER_ALREADY_VERIFIED" }])
        const bad = yield* request("/auth/verify", { json: { token: "garbage" } })
        assert.deepStrictEqual([bad.status, bad.body], [400, { detail: "VERIFY_USER_BAD_TOKEN" }])
        const already = yield* request("/auth/request-verify-token", { json: { email } })
        assert.deepStrictEqual([already.status, already.body], [202, null])
      })
    )

    it.effect(
      "PATCH /users/me: safe update; a new e-mail resets is_verified; taken e-mail and weak password fail",
      () =>
        Effect.gen(function* () {
          const me = yield* user({ isVerified: true })
          const other = yield* user()
          const newEmail = freshEmail("lancelot")
          const patched = yield* request("/users/me", {
            method: "PATCH",
            headers: auth(me.token),
            json: { email: newEmail, is_superuser: true, current_password: password }
          })
          assert.strictEqual(patched.status, 200)
          assert.deepInclude(patched.body, { email: newEmail, is_superuser: false, is_verified: false })

          const taken = yield* request("/users/me", {
            method: "PATCH",
            headers: auth(me.token),
            json: { email: other.email, current_password: password }
          })
          assert.deepStrictEqual([taken.status, taken.body], [400, { detail: "UPDATE_USER_EMAIL_ALREADY_EXISTS" }])
          const weak = yield* request("/users/me", {
            method: "PATCH",
            headers: auth(me.token),
            json: { password: "short", current_password: password }
          })
          assert.strictEqual(weak.status, 400)
          assert.strictEqual(weak.body.detail.code, "UPDATE_USER_INVALID_PASSWORD")
          assert.strictEqual(weak.body.detail.reason, "Password should be at least 8 characters")
          const invalid = yield* request("/users/me", {
            method: "PATCH",
            headers: auth(me.token),
            json: { email: "x" }
          })
          assert.strictEqual(invalid.status, 422)
          assert.isAbove(invalid.body.detail.length, 0)
          const anonymous = yield* request("/users/me", { method: "PATCH", json: {} })
          assert.deepStrictEqual([anonymous.status, anonymous.body], [401, unauthorized])

          const changed = yield* request("/users/me", {
            method: "PATCH",
            headers: auth(me.token),
            json: { password: "a-changed-password", current_password: password }
          })
          assert.deepStrictEqual([changed.status, changed.body.email], [200, newEmail])
          const login = yield* request("/auth/jwt/login", {
            form: { username: newEmail, password: "a-changed-password" }
          })
          assert.deepStrictEqual([login.status, login.body.token_type], [200, "bearer"])
        })
    )

    it.effect("/users/{id}: 401 without a user, 403 for a non-superuser", () =>
      Effect.gen(function* () {
        const plain = yield* user()
        for (const method of ["GET", "PATCH", "DELETE"]) {
          const json = method === "PATCH" ? {} : undefined
          const anonymous = yield* request(`/users/${plain.id}`, { method, ...(json ? { json } : {}) })
          assert.deepStrictEqual([anonymous.status, anonymous.body], [401, { detail: "Unauthorized" }])
          const forbidden = yield* request(`/users/${plain.id}`, {
            method,
            headers: auth(plain.token),
            ...(json ? { json } : {})
          })
          assert.deepStrictEqual([forbidden.status, forbidden.body], [403, { detail: "Forbidden" }])
        }
      })
    )

    it.effect("/users/{id} as a superuser: get, unsafe patch, delete; 404 for unknown and unparseable IDs", () =>
      Effect.gen(function* () {
        const admin = yield* user({ isSuperuser: true })
        const target = yield* user()
        const headers = auth(admin.token)
        const got = yield* request(`/users/${target.id}`, { headers })
        assert.deepStrictEqual([got.status, got.body.email], [200, target.email])
        for (const id of [crypto.randomUUID(), "not-a-uuid", "123"]) {
          const missing = yield* request(`/users/${id}`, { headers })
          assert.deepStrictEqual([missing.status, missing.body], [404, { detail: "Not Found" }])
          const patch = yield* request(`/users/${id}`, { method: "PATCH", headers, json: {} })
          assert.deepStrictEqual([patch.status, patch.body], [404, { detail: "Not Found" }])
          const deleted = yield* request(`/users/${id}`, { method: "DELETE", headers })
          assert.deepStrictEqual([deleted.status, deleted.body], [404, { detail: "Not Found" }])
        }
        const patched = yield* request(`/users/${target.id}`, {
          method: "PATCH",
          headers,
          json: { is_superuser: true, is_verified: true }
        })
        assert.strictEqual(patched.status, 200)
        assert.deepInclude(patched.body, { is_superuser: true, is_verified: true })
        const taken = yield* request(`/users/${target.id}`, { method: "PATCH", headers, json: { email: admin.email } })
        assert.deepStrictEqual([taken.status, taken.body], [400, { detail: "UPDATE_USER_EMAIL_ALREADY_EXISTS" }])
        const weak = yield* request(`/users/${target.id}`, { method: "PATCH", headers, json: { password: "short" } })
        assert.deepStrictEqual([weak.status, weak.body.detail.code], [400, "UPDATE_USER_INVALID_PASSWORD"])

        const deleted = yield* request(`/users/${target.id}`, { method: "DELETE", headers })
        assert.deepStrictEqual([deleted.status, deleted.body], [204, undefined])
        const gone = yield* request(`/users/${target.id}`, { headers })
        assert.deepStrictEqual([gone.status, gone.body], [404, { detail: "Not Found" }])
        const orphan = yield* request("/users/me", { headers: auth(target.token) })
        assert.deepStrictEqual([orphan.status, orphan.body], [401, unauthorized])
      })
    )

    it.effect("the app's own endpoints: required, verified-only and optional authentication", () =>
      Effect.gen(function* () {
        const plain = yield* user()
        const verified = yield* user({ isVerified: true })
        const reply = (path: string, headers: Record<string, string> = {}) =>
          Effect.map(request(path, { headers }), ({ body, status }) => [status, body])
        assert.deepStrictEqual(yield* reply("/greetings/hello"), [401, unauthorized])
        assert.deepStrictEqual(yield* reply("/greetings/hello", auth(plain.token)), [
          200,
          { message: `Hello, ${plain.email}` }
        ])
        assert.deepStrictEqual(yield* reply("/greetings/secret", auth(plain.token)), [403, { detail: "Forbidden" }])
        assert.deepStrictEqual(yield* reply("/greetings/secret", auth(verified.token)), [
          200,
          { message: `${verified.email} is verified` }
        ])
        assert.deepStrictEqual(yield* reply("/greetings/welcome"), [200, { message: "Welcome, stranger" }])
        assert.deepStrictEqual(yield* reply("/greetings/welcome", { authorization: "Bearer bad" }), [
          200,
          { message: "Welcome, stranger" }
        ])
        assert.deepStrictEqual(yield* reply("/greetings/welcome", auth(plain.token)), [
          200,
          { message: `Welcome back, ${plain.email}` }
        ])
      })
    )

    it.effect("OpenAPI: every route, both security schemes, error examples; Swagger UI at /docs", () =>
      Effect.gen(function* () {
        const openapi = yield* request("/openapi.json")
        assert.strictEqual(openapi.status, 200)
        const spec = openapi.body
        for (const path of [
          "/auth/register",
          "/auth/jwt/login",
          "/auth/jwt/logout",
          "/auth/cookie/login",
          "/auth/cookie/logout",
          "/auth/forgot-password",
          "/auth/reset-password",
          "/auth/request-verify-token",
          "/auth/verify",
          "/users/me",
          "/users/{id}"
        ]) {
          assert.property(spec.paths, path)
        }
        assert.deepInclude(spec.components.securitySchemes.jwt, { type: "http", scheme: "bearer" })
        assert.deepInclude(spec.components.securitySchemes.cookie, {
          type: "apiKey",
          in: "cookie",
          name: "fastapiusersauth"
        })
        const text = JSON.stringify(spec)
        for (const code of [
          "REGISTER_USER_ALREADY_EXISTS",
          "LOGIN_BAD_CREDENTIALS",
          "VERIFY_USER_BAD_TOKEN",
          "RESET_PASSWORD_BAD_TOKEN"
        ]) {
          assert.include(text, code)
        }
        assert.notInclude(text, "HttpApiDecodeError")
        assert.property(spec.paths["/auth/register"].post.responses, "422")
        assert.property(spec.paths["/users/me"].get.responses, "401")
        assert.property(spec.paths["/users/{id}"].get.responses, "403")
        const docs = yield* request("/docs")
        assert.strictEqual(docs.status, 200)
        assert.include(docs.body, "swagger-ui")
      })
    )
  })
}

/**
 * What the protected routes let through, over a real server: `requiresVerification` on every guarded
 * route (not only login), inactive superusers, the access token's expiry, and tokens that are real JWTs
 * but not access tokens of this server.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, type Layer, Redacted } from "effect"
import { UserManager } from "effect-users"
import { defined, eventually } from "../utils/Eventually.js"
import { authSecret, makeServer, request } from "../utils/HttpTest.js"
import { payloadOf, signJwt } from "../utils/Jwt.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"
const unauthorized = [401, { detail: "Unauthorized" }]
const forbidden = [403, { detail: "Forbidden" }]

const auth = (token: string) => ({ authorization: `Bearer ${token}` })
const statusAndBody = (reply: { status: number; body: unknown }) => [reply.status, reply.body]

const guardsSuite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const server = makeServer(client, { requiresVerification: true })

  /** A user created through the manager, logged in over the JWT backend while verified, then given `flags`. */
  const loggedIn = (flags: { isSuperuser?: boolean; isVerified?: boolean; isActive?: boolean } = {}) =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const email = freshEmail()
      const created = yield* users
        .create({ email, password: Redacted.make(password), isVerified: true, isSuperuser: flags.isSuperuser })
        .pipe(Effect.orDie)
      const login = yield* request("/auth/jwt/login", { form: { username: email, password } })
      assert.strictEqual(login.status, 200, JSON.stringify(login.body))
      const changed = yield* users
        .update(created, { isVerified: flags.isVerified ?? true, isActive: flags.isActive ?? true })
        .pipe(Effect.orDie)
      return { user: changed, token: login.body.access_token as string }
    })

  layer(server.layer, { excludeTestServices: true })(name, (it) => {
    it.effect(
      "requiresVerification: an unverified user's token gets 403 on /users/me and the app's guarded routes",
      () =>
        Effect.gen(function* () {
          const { token, user } = yield* loggedIn({ isVerified: false })
          const headers = auth(token)
          const routes = [
            request("/users/me", { headers }),
            request("/users/me", { method: "PATCH", headers, json: { email: freshEmail() } }),
            request("/greetings/hello", { headers }),
            request("/greetings/secret", { headers })
          ]
          for (const reply of yield* Effect.all(routes)) assert.deepStrictEqual(statusAndBody(reply), forbidden)
          const users = yield* UserManager.UserManager
          assert.strictEqual((yield* users.get(user.id).pipe(Effect.orDie)).email, user.email)

          const verified = yield* loggedIn()
          const me = yield* request("/users/me", { headers: auth(verified.token) })
          assert.deepStrictEqual([me.status, me.body.email, me.body.is_verified], [200, verified.user.email, true])
          const hello = yield* request("/greetings/hello", { headers: auth(verified.token) })
          assert.deepStrictEqual(statusAndBody(hello), [200, { message: `Hello, ${verified.user.email}` }])
        })
    )

    it.effect("requiresVerification: an unverified superuser gets 403 on /users/{id}", () =>
      Effect.gen(function* () {
        const admin = yield* loggedIn({ isSuperuser: true, isVerified: false })
        const target = yield* loggedIn()
        const reply = yield* request(`/users/${target.user.id}`, { headers: auth(admin.token) })
        assert.deepStrictEqual(statusAndBody(reply), forbidden)
      })
    )

    it.effect("an inactive superuser gets 401 on /users/{id}, whatever the method; nothing changes", () =>
      Effect.gen(function* () {
        const admin = yield* loggedIn({ isSuperuser: true, isActive: false })
        const target = yield* loggedIn()
        const headers = auth(admin.token)
        for (const init of [
          { headers },
          { method: "PATCH", headers, json: { is_superuser: true } },
          { method: "DELETE", headers }
        ]) {
          const reply = yield* request(`/users/${target.user.id}`, init)
          assert.deepStrictEqual(statusAndBody(reply), unauthorized, init.method ?? "GET")
        }
        const users = yield* UserManager.UserManager
        const stored = yield* users.get(target.user.id).pipe(Effect.orDie)
        assert.isFalse(stored.isSuperuser)
        const active = yield* loggedIn({ isSuperuser: true })
        const got = yield* request(`/users/${target.user.id}`, { headers: auth(active.token) })
        assert.deepStrictEqual([got.status, got.body.email], [200, target.user.email])
      })
    )

    it.effect("the access token expires after the app's 1 hour: exp is written so and an expired one is 401", () =>
      Effect.gen(function* () {
        const { token, user } = yield* loggedIn()
        const claims = payloadOf(token)
        const now = Math.floor(Date.now() / 1000)
        assert.deepStrictEqual([claims.sub, claims.aud], [String(user.id), ["effect-users:auth"]])
        assert.isAtLeast(claims.exp, now + 3600 - 5)
        assert.isAtMost(claims.exp, now + 3600 + 1)
        const resigned = signJwt({ ...claims, exp: now + 60 }, authSecret)
        const fresh = yield* request("/users/me", { headers: auth(resigned) })
        assert.deepStrictEqual([fresh.status, fresh.body.id], [200, String(user.id)])
        const expired = yield* request("/users/me", { headers: auth(signJwt({ ...claims, exp: now - 1 }, authSecret)) })
        assert.deepStrictEqual(statusAndBody(expired), unauthorized)
      })
    )

    it.effect(
      "verify and reset tokens, and access-token claims for another audience, are refused as access tokens",
      () =>
        Effect.gen(function* () {
          const { token, user } = yield* loggedIn({ isVerified: false })
          const hooks = server.hooks.recorder()
          yield* request("/auth/request-verify-token", { json: { email: user.email } })
          yield* request("/auth/forgot-password", { json: { email: user.email } })
          const tokenOf = (hook: "onAfterRequestVerify" | "onAfterForgotPassword") =>
            eventually(defined(() => hooks.named(hook).at(-1)?.args[1] as string | undefined, hook))
          const verifyToken = yield* tokenOf("onAfterRequestVerify")
          const resetToken = yield* tokenOf("onAfterForgotPassword")
          const claims = payloadOf(token)
          const otherAudience = signJwt({ ...claims, aud: "effect-users:verify" }, authSecret)
          for (const candidate of [verifyToken, resetToken, otherAudience]) {
            for (const path of ["/users/me", "/greetings/welcome"]) {
              const reply = yield* request(path, { headers: auth(candidate) })
              if (path === "/users/me") assert.deepStrictEqual(statusAndBody(reply), unauthorized)
              else assert.deepStrictEqual(statusAndBody(reply), [200, { message: "Welcome, stranger" }])
            }
          }
        })
    )

    it.effect("optional authentication that asks for an active user treats an inactive one as a stranger", () =>
      Effect.gen(function* () {
        const active = yield* loggedIn()
        const inactive = yield* loggedIn({ isActive: false })
        const welcome = (token: string) => request("/greetings/welcome", { headers: auth(token) })
        assert.deepStrictEqual(statusAndBody(yield* welcome(active.token)), [
          200,
          { message: `Welcome back, ${active.user.email}` }
        ])
        assert.deepStrictEqual(statusAndBody(yield* welcome(inactive.token)), [200, { message: "Welcome, stranger" }])
      })
    )

    it.effect("a backend's logout takes only that backend's token", () =>
      Effect.gen(function* () {
        const { token, user } = yield* loggedIn()
        const login = yield* request("/auth/cookie/login", { form: { username: user.email, password } })
        const cookie = /^fastapiusersauth=([^;]*)/.exec(login.headers.get("set-cookie") ?? "")?.[1] ?? ""
        assert.deepStrictEqual([login.status, cookie.length], [204, 43])
        const wrongCookie = yield* request("/auth/cookie/logout", { method: "POST", headers: auth(token) })
        assert.deepStrictEqual(statusAndBody(wrongCookie), unauthorized)
        const headers = { cookie: `fastapiusersauth=${cookie}` }
        const wrongBearer = yield* request("/auth/jwt/logout", { method: "POST", headers })
        assert.deepStrictEqual(statusAndBody(wrongBearer), unauthorized)
        const me = yield* request("/users/me", { headers })
        assert.deepStrictEqual([me.status, me.body.email], [200, user.email])
        const out = yield* request("/auth/cookie/logout", { method: "POST", headers })
        assert.deepStrictEqual(statusAndBody(out), [204, undefined])
      })
    )
  })
}

describe("HTTP guards on SQLite", () => {
  guardsSuite("routes", SqliteClient.layer({ filename: ":memory:" }))
})

describePg("HTTP guards on PostgreSQL", () => {
  const database = freshDatabase()
  guardsSuite("routes", database.client)
})

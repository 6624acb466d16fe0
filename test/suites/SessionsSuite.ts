/**
 * Sessions that end (contract.md, last section), end to end over a real server, for any storage: every trigger
 * (reset, password change, e-mail change, deactivation, deletion, logout, logout-all) on both strategies (a
 * bearer JWT and a cookie holding a database token), re-authentication, and the sessions a user can see.
 */
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import {
  AccessTokenStore,
  AuthStrategy,
  PasswordHasher,
  RefreshTokenStore,
  Throttle,
  UserManager,
  type UserRepository
} from "effect-users"
import { AuthBackend, UsersApi } from "effect-users/http"
import { request } from "../utils/HttpTest.js"
import { signJwt } from "../utils/Jwt.js"
import { freshEmail, makeFakeHasher, recordingHooks, testConfig } from "../utils/TestUsers.js"

export const sessionSecret = "sessions-secret-sessions-secret-sessions"
const password = "correct-horse-battery"

/** What the sessions suite runs over: users, access tokens, refresh-token families. */
export type SessionsStorage = Layer.Layer<
  UserRepository.UserRepository | AccessTokenStore.AccessTokenStore | RefreshTokenStore.RefreshTokenStore,
  unknown
>

/**
 * A server with a bearer JWT backend and a cookie database backend over the storage given, and bearer JWT and
 * database backends with refresh tokens (`jwt-refresh`, `db-refresh`).
 */
export const makeSessionsServer = (
  storage: SessionsStorage,
  options: { readonly requireCurrentPassword?: boolean } = {}
) => {
  const hooks = recordingHooks()
  const hasher = makeFakeHasher()
  const Users = UsersApi.make({
    backends: [
      AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret: Redacted.make(sessionSecret) })),
      AuthBackend.cookie("cookie", AuthStrategy.database(), { secure: false }),
      AuthBackend.bearer("jwt-refresh", AuthStrategy.jwt({ secret: Redacted.make(sessionSecret) }), { refresh: {} }),
      AuthBackend.bearer("db-refresh", AuthStrategy.database(), { refresh: {} })
    ],
    requireCurrentPassword: options.requireCurrentPassword
  })
  const Api = Users.addTo(HttpApi.make("sessions"))
  const layer = HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.api(Api)),
    Layer.provide(Users.layer(Api)),
    // Many logins from one address: the throttle has its own tests (HttpThrottle), these are about sessions.
    Layer.provide(Throttle.layerDisabled),
    Layer.provideMerge(
      UserManager.layer.pipe(Layer.provide([testConfig(), hooks.layer, PasswordHasher.layer(hasher.service)]))
    ),
    Layer.provideMerge(storage),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.orDie
  )
  return { layer, hooks, hasher }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
export const cookie = (value: string) => ({ cookie: `fastapiusersauth=${value}` })

export const sessionsSuite = (name: string, storage: SessionsStorage) => {
  const server = makeSessionsServer(storage)

  const jwtLogin = (email: string, pass = password) =>
    Effect.map(
      request("/auth/jwt/login", { form: { username: email, password: pass } }),
      (reply) => reply.body.access_token as string
    )
  const cookieLogin = (email: string, userAgent = "test-agent") =>
    Effect.map(
      request("/auth/cookie/login", {
        form: { username: email, password },
        headers: { "user-agent": userAgent }
      }),
      (reply) => /^fastapiusersauth=([^;]*)/.exec(reply.headers.get("set-cookie") ?? "")?.[1] ?? ""
    )
  /** A user with two JWTs and two cookies. */
  const someone = (flags: { readonly isSuperuser?: boolean } = {}) =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const email = freshEmail("session")
      const user = yield* Effect.orDie(users.create({ email, password: Redacted.make(password), ...flags }))
      const jwts = [yield* jwtLogin(email), yield* jwtLogin(email)] as const
      const cookies = [yield* cookieLogin(email), yield* cookieLogin(email)] as const
      return { user, email, jwts, cookies }
    })
  const status = (headers: Record<string, string>) => Effect.map(request("/users/me", { headers }), (r) => r.status)
  /** The /users/me status of each session: JWTs first, then cookies. */
  const statuses = (who: { readonly jwts: ReadonlyArray<string>; readonly cookies: ReadonlyArray<string> }) =>
    Effect.all([...who.jwts.map((t) => status(bearer(t))), ...who.cookies.map((c) => status(cookie(c)))])
  const patchMe = (headers: Record<string, string>, json: Record<string, unknown>) =>
    request("/users/me", { method: "PATCH", headers, json })
  const storedTokens = (userId: unknown) =>
    Effect.flatMap(AccessTokenStore.AccessTokenStore, (store) => store.listOf(String(userId)))

  layer(server.layer, { excludeTestServices: true })(name, (it) => {
    it.effect("every session works after login: JWTs and cookies", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* statuses(yield* someone()), [200, 200, 200, 200])
      })
    )

    it.effect("a password reset ends every JWT and cookie session of the user, and no one else's", () =>
      Effect.gen(function* () {
        const [victim, bystander] = [yield* someone(), yield* someone()]
        const users = yield* UserManager.UserManager
        const before = server.hooks.named("onAfterForgotPassword").length
        yield* Effect.orDie(users.forgotPassword(victim.user))
        const token = server.hooks.named("onAfterForgotPassword")[before]!.args[1] as string
        const reset = yield* request("/auth/reset-password", { json: { token, password: "a-brand-new-password" } })
        assert.strictEqual(reset.status, 200)
        assert.deepStrictEqual(yield* statuses(victim), [401, 401, 401, 401])
        assert.deepStrictEqual(yield* statuses(bystander), [200, 200, 200, 200])
        assert.strictEqual((yield* jwtLogin(victim.email, "a-brand-new-password")).length > 0, true)
      })
    )

    it.effect("a password change through PATCH /users/me ends every other session; the JWT that made it stays", () =>
      Effect.gen(function* () {
        const me = yield* someone()
        const changed = yield* patchMe(bearer(me.jwts[0]), { password: "another-password", current_password: password })
        assert.strictEqual(changed.status, 200)
        assert.deepStrictEqual(yield* statuses(me), [200, 401, 401, 401])
        // It stays for the next change too, and still ends with a logout.
        const again = yield* patchMe(bearer(me.jwts[0]), {
          password: "a-third-password",
          current_password: "another-password"
        })
        assert.strictEqual(again.status, 200)
        assert.strictEqual(yield* status(bearer(me.jwts[0])), 200)
        yield* request("/auth/jwt/logout", { method: "POST", headers: bearer(me.jwts[0]) })
        assert.strictEqual(yield* status(bearer(me.jwts[0])), 401)
      })
    )

    it.effect("an e-mail change through PATCH /users/me ends every other session; the cookie that made it stays", () =>
      Effect.gen(function* () {
        const me = yield* someone()
        const changed = yield* patchMe(cookie(me.cookies[1]), {
          email: freshEmail("moved"),
          current_password: password
        })
        assert.strictEqual(changed.status, 200)
        assert.deepStrictEqual(yield* statuses(me), [401, 401, 401, 200])
      })
    )

    it.effect("a superuser's password change and deactivation end ALL sessions; reactivating brings none back", () =>
      Effect.gen(function* () {
        const admin = yield* someone({ isSuperuser: true })
        const [changed, deactivated] = [yield* someone(), yield* someone()]
        const patch = (id: unknown, json: Record<string, unknown>) =>
          request(`/users/${id}`, { method: "PATCH", headers: bearer(admin.jwts[0]), json })
        assert.strictEqual((yield* patch(changed.user.id, { password: "set-by-the-admin" })).status, 200)
        assert.deepStrictEqual(yield* statuses(changed), [401, 401, 401, 401])
        assert.strictEqual((yield* patch(deactivated.user.id, { is_active: false })).status, 200)
        assert.strictEqual((yield* patch(deactivated.user.id, { is_active: true })).status, 200)
        assert.deepStrictEqual(yield* statuses(deactivated), [401, 401, 401, 401])
        assert.deepStrictEqual(yield* statuses(admin), [200, 200, 200, 200])
      })
    )

    it.effect("deleting a user ends their sessions and deletes their stored tokens", () =>
      Effect.gen(function* () {
        const admin = yield* someone({ isSuperuser: true })
        const doomed = yield* someone()
        assert.lengthOf(yield* storedTokens(doomed.user.id), 2)
        const deleted = yield* request(`/users/${doomed.user.id}`, { method: "DELETE", headers: bearer(admin.jwts[0]) })
        assert.strictEqual(deleted.status, 204)
        // Deleted with the user, not only once presented.
        assert.lengthOf(yield* storedTokens(doomed.user.id), 0)
        assert.deepStrictEqual(yield* statuses(doomed), [401, 401, 401, 401])
      })
    )

    it.effect("logout ends the token presented only, on JWT and on cookie", () =>
      Effect.gen(function* () {
        const me = yield* someone()
        assert.strictEqual(
          (yield* request("/auth/jwt/logout", { method: "POST", headers: bearer(me.jwts[0]) })).status,
          204
        )
        assert.strictEqual(
          (yield* request("/auth/cookie/logout", { method: "POST", headers: cookie(me.cookies[0]) })).status,
          204
        )
        assert.deepStrictEqual(yield* statuses(me), [401, 200, 401, 200])
        // A denied JWT stays denied (a second logout answers 401: it no longer authenticates).
        const again = yield* request("/auth/jwt/logout", { method: "POST", headers: bearer(me.jwts[0]) })
        assert.strictEqual(again.status, 401)
      })
    )

    it.effect("POST /auth/logout-all ends every session of the user, the current one included", () =>
      Effect.gen(function* () {
        const [me, bystander] = [yield* someone(), yield* someone()]
        const reply = yield* request("/auth/logout-all", { method: "POST", headers: cookie(me.cookies[0]) })
        assert.strictEqual(reply.status, 204)
        assert.match(reply.headers.get("set-cookie") ?? "", /^fastapiusersauth=;.*Max-Age=0/)
        assert.deepStrictEqual(yield* statuses(me), [401, 401, 401, 401])
        assert.lengthOf(yield* storedTokens(me.user.id), 0)
        assert.deepStrictEqual(yield* statuses(bystander), [200, 200, 200, 200])
        const anonymous = yield* request("/auth/logout-all", { method: "POST" })
        assert.strictEqual(anonymous.status, 401)
      })
    )

    it.effect("a JWT without jti (FastAPI Users') is denied by its logout, and ends with the user's epoch", () =>
      Effect.gen(function* () {
        const me = yield* someone()
        const legacy = (lifetime: number) =>
          signJwt(
            { sub: String(me.user.id), aud: ["effect-users:auth"], exp: Math.floor(Date.now() / 1000) + lifetime },
            sessionSecret
          )
        const [loggedOut, other] = [legacy(600), legacy(601)]
        assert.strictEqual(yield* status(bearer(loggedOut)), 200)
        const logout = yield* request("/auth/jwt/logout", { method: "POST", headers: bearer(loggedOut) })
        assert.strictEqual(logout.status, 204)
        assert.strictEqual(yield* status(bearer(loggedOut)), 401)
        // Denied by its own hash: another jti-less token of the user lives on, until the next epoch move.
        assert.strictEqual(yield* status(bearer(other)), 200)
        yield* request("/auth/logout-all", { method: "POST", headers: bearer(me.jwts[0]) })
        assert.strictEqual(yield* status(bearer(other)), 401)
      })
    )

    for (const backend of ["jwt-refresh", "db-refresh"]) {
      const login = (email: string) =>
        Effect.map(request(`/auth/${backend}/login`, { form: { username: email, password } }), (reply) => ({
          access: reply.body.access_token as string,
          refresh: reply.body.refresh_token as string
        }))
      const refresh = (token: string) =>
        Effect.map(request(`/auth/${backend}/refresh`, { json: { refresh_token: token } }), (reply) => ({
          status: reply.status,
          detail: reply.body?.detail as string | undefined,
          access: reply.body?.access_token as string,
          refresh: reply.body?.refresh_token as string
        }))
      const statusesOf = (tokens: ReadonlyArray<string>) => Effect.all(tokens.map((token) => status(bearer(token))))

      it.effect(`${backend}: a family's end ends its access tokens at once: logout of a sibling, reuse, delete`, () =>
        Effect.gen(function* () {
          const me = yield* someone()
          const bystander = yield* login(me.email)

          // Logout through the newest access token of a family ends the older one too.
          const first = yield* login(me.email)
          const second = yield* refresh(first.refresh)
          assert.deepStrictEqual(yield* statusesOf([first.access, second.access]), [200, 200])
          const logout = yield* request(`/auth/${backend}/logout`, { method: "POST", headers: bearer(second.access) })
          assert.strictEqual(logout.status, 204)
          assert.deepStrictEqual(yield* statusesOf([first.access, second.access]), [401, 401])
          assert.strictEqual((yield* refresh(second.refresh)).detail, "REFRESH_TOKEN_INVALID")

          // Reuse (a token older than the one just rotated) ends the family and every access token it issued.
          const a = yield* login(me.email)
          const b = yield* refresh(a.refresh)
          const c = yield* refresh(b.refresh)
          assert.deepStrictEqual(yield* statusesOf([a.access, b.access, c.access]), [200, 200, 200])
          const reuse = yield* refresh(a.refresh)
          assert.deepStrictEqual([reuse.status, reuse.detail], [401, "REFRESH_TOKEN_REUSED"])
          assert.deepStrictEqual(yield* statusesOf([a.access, b.access, c.access]), [401, 401, 401])

          // DELETE /users/me/sessions/{family} from another session ends the family's access tokens.
          const listedBefore = yield* Effect.flatMap(RefreshTokenStore.RefreshTokenStore, (store) =>
            store.listOf(String(me.user.id))
          )
          const d = yield* login(me.email)
          const e = yield* refresh(d.refresh)
          const families = yield* Effect.flatMap(RefreshTokenStore.RefreshTokenStore, (store) =>
            store.listOf(String(me.user.id))
          )
          const family = families.find((f) => !listedBefore.some((known) => known.id === f.id))!
          const ended = yield* request(`/users/me/sessions/${family.id}`, {
            method: "DELETE",
            headers: bearer(bystander.access)
          })
          assert.strictEqual(ended.status, 204)
          assert.deepStrictEqual(yield* statusesOf([d.access, e.access]), [401, 401])

          // Other sessions of the user live on.
          assert.deepStrictEqual(yield* statusesOf([bystander.access]), [200])
          assert.deepStrictEqual(yield* statuses(me), [200, 200, 200, 200])
          assert.strictEqual((yield* refresh(bystander.refresh)).status, 200)
        })
      )

      it.effect(
        `${backend}: a retry of the token just rotated gets the same pair's refresh token; the family lives`,
        () =>
          Effect.gen(function* () {
            const me = yield* someone()
            const first = yield* login(me.email)
            const [one, two] = yield* Effect.all([refresh(first.refresh), refresh(first.refresh)], {
              concurrency: "unbounded"
            })
            assert.deepStrictEqual([one.status, two.status], [200, 200])
            assert.strictEqual(one.refresh, two.refresh)
            const retry = yield* refresh(first.refresh)
            assert.strictEqual(retry.refresh, one.refresh)
            assert.deepStrictEqual(
              yield* statusesOf([first.access, one.access, two.access, retry.access]),
              [200, 200, 200, 200]
            )
            const next = yield* refresh(one.refresh)
            assert.strictEqual(next.status, 200)
            assert.strictEqual(yield* status(bearer(next.access)), 200)
          })
      )
    }

    /** A user's sessions on the two refresh backends: an access token and a refresh token each. */
    const refreshSessions = (email: string) =>
      Effect.forEach(["jwt-refresh", "db-refresh"], (backend) =>
        Effect.map(request(`/auth/${backend}/login`, { form: { username: email, password } }), (reply) => ({
          backend,
          access: reply.body.access_token as string,
          refresh: reply.body.refresh_token as string
        }))
      )
    /** Each refresh session's access status and refresh answer (200, or its 401 code). */
    const refreshStatuses = (pairs: ReadonlyArray<{ backend: string; access: string; refresh: string }>) =>
      Effect.forEach(pairs, ({ access, backend, refresh }) =>
        Effect.zipWith(
          status(bearer(access)),
          request(`/auth/${backend}/refresh`, { json: { refresh_token: refresh } }),
          (code, reply) => [code, reply.status === 200 ? 200 : reply.body.detail]
        )
      )
    const families = (userId: unknown) =>
      Effect.flatMap(RefreshTokenStore.RefreshTokenStore, (store) => store.listOf(String(userId)))
    /** Every session of the user has ended, and what the stateful strategies stored for them is gone, not only dead. */
    const allEnded = (
      who: Effect.Effect.Success<ReturnType<typeof someone>>,
      pairs: Effect.Effect.Success<ReturnType<typeof refreshSessions>>
    ) =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* statuses(who), [401, 401, 401, 401])
        assert.deepStrictEqual(yield* refreshStatuses(pairs), [
          [401, "REFRESH_TOKEN_INVALID"],
          [401, "REFRESH_TOKEN_INVALID"]
        ])
        assert.lengthOf(yield* storedTokens(who.user.id), 0)
        assert.lengthOf(yield* families(who.user.id), 0)
      })
    const admin = (path: string, headers: Record<string, string>, json?: unknown) =>
      request(path, { method: "POST", headers, ...(json === undefined ? {} : { json }) })

    it.effect("POST /users/{id}/logout-all ends every session of the target on every backend, not the admin's", () =>
      Effect.gen(function* () {
        const [boss, target, bystander] = [yield* someone({ isSuperuser: true }), yield* someone(), yield* someone()]
        const targetRefresh = yield* refreshSessions(target.email)
        const bossRefresh = yield* refreshSessions(boss.email)
        assert.lengthOf(yield* families(target.user.id), 2)
        const reply = yield* admin(`/users/${target.user.id}/logout-all`, bearer(boss.jwts[0]))
        assert.deepStrictEqual([reply.status, reply.body], [204, undefined])
        yield* allEnded(target, targetRefresh)
        assert.deepStrictEqual(yield* statuses(boss), [200, 200, 200, 200])
        assert.deepStrictEqual(yield* refreshStatuses(bossRefresh), [
          [200, 200],
          [200, 200]
        ])
        assert.deepStrictEqual(yield* statuses(bystander), [200, 200, 200, 200])
        // The target signs in again as usual.
        assert.isTrue((yield* jwtLogin(target.email)).length > 0)
      })
    )

    it.effect(
      "POST /users/{id}/logout-all: 401 anonymous, 403 for a user, 404 for an unknown ID, CSRF on cookies",
      () =>
        Effect.gen(function* () {
          const [boss, target] = [yield* someone({ isSuperuser: true }), yield* someone()]
          const path = `/users/${target.user.id}/logout-all`
          const statusAndBody = (reply: { status: number; body: unknown }) => [reply.status, reply.body]
          assert.deepStrictEqual(statusAndBody(yield* admin(path, {})), [401, { detail: "Unauthorized" }])
          assert.deepStrictEqual(statusAndBody(yield* admin(path, bearer(target.jwts[0]))), [
            403,
            { detail: "Forbidden" }
          ])
          const notFound = [404, { detail: "Not Found" }]
          for (const id of ["0b5d1f9a-7c3e-4c1e-9b0a-2f4f7f6a1d11", "not-an-id"]) {
            assert.deepStrictEqual(
              statusAndBody(yield* admin(`/users/${id}/logout-all`, bearer(boss.jwts[0]))),
              notFound
            )
          }
          const crossSite = { ...cookie(boss.cookies[0]), "sec-fetch-site": "cross-site" }
          assert.deepStrictEqual(statusAndBody(yield* admin(path, crossSite)), [403, { detail: "CSRF_REJECTED" }])
          // An empty body or JSON; anything else is refused before any work.
          const text = yield* request(path, {
            method: "POST",
            headers: { ...bearer(boss.jwts[0]), "content-type": "text/plain" },
            body: "x"
          })
          assert.deepStrictEqual(statusAndBody(text), [415, { detail: "UNSUPPORTED_MEDIA_TYPE" }])
          assert.deepStrictEqual(yield* statuses(target), [200, 200, 200, 200])
          assert.strictEqual((yield* admin(path, cookie(boss.cookies[0]), {})).status, 204)
          assert.deepStrictEqual(yield* statuses(target), [401, 401, 401, 401])
        })
    )

    it.effect(
      "POST /users/{id}/deactivate ends every session; the reason is for admins only; activate brings none back",
      () =>
        Effect.gen(function* () {
          const [boss, target] = [yield* someone({ isSuperuser: true }), yield* someone()]
          const targetRefresh = yield* refreshSessions(target.email)
          const reason = "chargeback-7c1e0f: card reported stolen"
          const deactivated = yield* admin(`/users/${target.user.id}/deactivate`, bearer(boss.jwts[0]), { reason })
          assert.deepStrictEqual([deactivated.status, deactivated.body.is_active], [200, false])
          assert.deepStrictEqual(Object.keys(deactivated.body).sort(), [
            "email",
            "id",
            "is_active",
            "is_superuser",
            "is_verified"
          ])
          yield* allEnded(target, targetRefresh)
          assert.deepStrictEqual(yield* statuses(boss), [200, 200, 200, 200])

          // What the user can reach says nothing of the reason: their login fails as for any inactive user.
          const seen = [
            yield* request("/auth/jwt/login", { form: { username: target.email, password } }),
            yield* request("/auth/cookie/login", { form: { username: target.email, password } }),
            yield* request("/auth/forgot-password", { json: { email: target.email } }),
            yield* request("/users/me", { headers: bearer(target.jwts[0]) })
          ]
          assert.deepStrictEqual(
            seen.map((reply) => reply.status),
            [400, 400, 202, 401]
          )
          assert.deepStrictEqual(seen[0]!.body, { detail: "LOGIN_BAD_CREDENTIALS" })
          for (const reply of seen) {
            assert.notInclude(JSON.stringify(reply.body ?? "") + JSON.stringify([...reply.headers]), "chargeback")
          }

          const detail = (headers: Record<string, string>) =>
            request(`/users/${target.user.id}/deactivation`, { headers })
          assert.deepStrictEqual([(yield* detail(bearer(boss.jwts[0]))).body], [{ reason, until: null }])
          assert.strictEqual((yield* detail(bearer(target.jwts[1]))).status, 401)
          const other = yield* someone()
          assert.strictEqual((yield* detail(bearer(other.jwts[0]))).status, 403)
          assert.strictEqual(
            (yield* admin(`/users/${target.user.id}/deactivate`, bearer(other.jwts[0]), { reason })).status,
            403
          )

          const activated = yield* admin(`/users/${target.user.id}/activate`, bearer(boss.jwts[0]))
          assert.deepStrictEqual([activated.status, activated.body.is_active], [200, true])
          const after = yield* detail(bearer(boss.jwts[0]))
          assert.deepStrictEqual([after.status, after.body], [200, null])
          assert.deepStrictEqual(yield* statuses(target), [401, 401, 401, 401])
          assert.isTrue((yield* jwtLogin(target.email)).length > 0)
        })
    )

    it.effect("PATCH /users/me: password or a new e-mail need current_password; wrong ones cost a hash", () =>
      Effect.gen(function* () {
        const me = yield* someone()
        const headers = bearer(me.jwts[0])
        const missing = yield* patchMe(headers, { password: "another-password" })
        assert.deepStrictEqual([missing.status, missing.body], [400, { detail: "CURRENT_PASSWORD_REQUIRED" }])
        const missingEmail = yield* patchMe(headers, { email: freshEmail() })
        assert.deepStrictEqual(missingEmail.body, { detail: "CURRENT_PASSWORD_REQUIRED" })
        const verifies = server.hasher.counts.verify
        const wrong = yield* patchMe(headers, { password: "another-password", current_password: "not-my-password" })
        assert.deepStrictEqual([wrong.status, wrong.body], [400, { detail: "CURRENT_PASSWORD_INVALID" }])
        assert.strictEqual(server.hasher.counts.verify, verifies + 1)
        // Nothing changed, nothing ended.
        assert.deepStrictEqual(yield* statuses(me), [200, 200, 200, 200])
        // The e-mail as it is (a front end sending the whole form) and a null password need nothing.
        const same = yield* patchMe(headers, { email: me.email, password: null })
        assert.strictEqual(same.status, 200)
        assert.deepStrictEqual(yield* statuses(me), [200, 200, 200, 200])
      })
    )

    it.effect("GET /users/me/sessions lists the live database sessions, never a token; DELETE ends one", () =>
      Effect.gen(function* () {
        const [me, other] = [yield* someone(), yield* someone()]
        const listed = yield* request("/users/me/sessions", { headers: cookie(me.cookies[1]) })
        assert.strictEqual(listed.status, 200)
        assert.lengthOf(listed.body, 2)
        assert.sameMembers(Object.keys(listed.body[0]), [
          "id",
          "created_at",
          "last_used_at",
          "backend",
          "user_agent",
          "method",
          "amr",
          "current"
        ])
        assert.deepStrictEqual(listed.body.map((s: { current: boolean }) => s.current).sort(), [false, true])
        assert.isTrue(listed.body.every((s: { backend: string; user_agent: string }) => s.backend === "cookie"))
        assert.isTrue(listed.body.every((s: { user_agent: string }) => s.user_agent === "test-agent"))
        assert.isTrue(listed.body.every((s: { method: string }) => s.method === "password"))
        const text = JSON.stringify(listed.body)
        for (const token of me.cookies) assert.notInclude(text, token)
        const ids = listed.body.map((s: { id: string }) => s.id) as Array<string>
        // From a JWT, the same sessions, none of them current.
        const fromJwt = yield* request("/users/me/sessions", { headers: bearer(me.jwts[0]) })
        assert.sameMembers(
          fromJwt.body.map((s: { id: string }) => s.id),
          ids
        )
        assert.isTrue(fromJwt.body.every((s: { current: boolean }) => !s.current))

        // Another user's session ID is not theirs: 404, and it lives on.
        const theirs = (yield* request("/users/me/sessions", { headers: cookie(other.cookies[0]) })).body[0].id
        const foreign = yield* request(`/users/me/sessions/${theirs}`, {
          method: "DELETE",
          headers: bearer(me.jwts[0])
        })
        assert.deepStrictEqual([foreign.status, foreign.body], [404, { detail: "SESSION_NOT_FOUND" }])
        assert.deepStrictEqual(yield* statuses(other), [200, 200, 200, 200])

        const first = listed.body.find((s: { current: boolean }) => !s.current).id
        const ended = yield* request(`/users/me/sessions/${first}`, { method: "DELETE", headers: bearer(me.jwts[0]) })
        assert.strictEqual(ended.status, 204)
        assert.deepStrictEqual(yield* statuses(me), [200, 200, 401, 200])
        const again = yield* request(`/users/me/sessions/${first}`, { method: "DELETE", headers: bearer(me.jwts[0]) })
        assert.strictEqual(again.status, 404)
        const after = yield* request("/users/me/sessions", { headers: cookie(me.cookies[1]) })
        assert.lengthOf(after.body, 1)
      })
    )
  })
}

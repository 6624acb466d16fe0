/**
 * A superuser's deactivation of a user over HTTP (SQLite; the session ends on every store are in `SessionsSuite`):
 * the body's rules (422 for a bad reason or date, 400 for an `until` not in the future, 404 for an unknown ID), a
 * ban that lifts itself at `until` on the real clock, and the routes through the typed client and in OpenAPI.
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, expectTypeOf, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { UserManager } from "effect-users"
import { makeServer, request } from "../utils/HttpTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const server = makeServer(SqliteClient.layer({ filename: ":memory:" }))
const password = "correct-horse-battery"

/** A user created through the manager, and a bearer token of theirs. */
const signedIn = (isSuperuser = false) =>
  Effect.gen(function* () {
    const users = yield* UserManager.UserManager
    const email = freshEmail(isSuperuser ? "boss" : "user")
    const user = yield* users.create({ email, password: Redacted.make(password), isSuperuser }).pipe(Effect.orDie)
    const login = yield* request("/auth/jwt/login", { form: { username: email, password } })
    return { user, email, headers: { authorization: `Bearer ${login.body.access_token as string}` } }
  })

const login = (email: string) => request("/auth/jwt/login", { form: { username: email, password } })
const statusAndBody = (reply: { status: number; body: unknown }) => [reply.status, reply.body]

layer(Layer.merge(server.layer, FetchHttpClient.layer), { excludeTestServices: true })("admin controls", (it) => {
  it.effect("a bad reason or until is 422 with where and why; an until not in the future 400; nothing changes", () =>
    Effect.gen(function* () {
      const boss = yield* signedIn(true)
      const target = yield* signedIn()
      const deactivate = (json: unknown) =>
        request(`/users/${target.user.id}/deactivate`, { method: "POST", headers: boss.headers, json })
      const invalid: Array<readonly [body: unknown, field: string]> = [
        [{}, "reason"],
        [{ reason: "" }, "reason"],
        [{ reason: "x".repeat(501) }, "reason"],
        [{ reason: 42 }, "reason"],
        [{ reason: "line one\nline two" }, "reason"],
        [{ reason: "bell\u0007" }, "reason"],
        [{ reason: "abuse \u202Eesuba" }, "reason"],
        [{ reason: "zero\u200Bwidth" }, "reason"],
        [{ reason: "ok", until: "tomorrow" }, "until"],
        [{ reason: "ok", until: "2999-01-01T00:00:00" }, "until"],
        [{ reason: "ok", until: "2999-01-01" }, "until"],
        [{ reason: "ok", until: 32503680000000 }, "until"]
      ]
      for (const [body, field] of invalid) {
        const reply = yield* deactivate(body)
        assert.strictEqual(reply.status, 422, JSON.stringify(body))
        assert.deepStrictEqual(reply.body.detail[0].loc, ["body", field], JSON.stringify(body))
      }
      assert.deepStrictEqual(statusAndBody(yield* deactivate({ reason: "ok", until: "2001-01-01T00:00:00Z" })), [
        400,
        { detail: "DEACTIVATE_USER_UNTIL_PAST" }
      ])
      assert.strictEqual((yield* request("/users/me", { headers: target.headers })).status, 200)
      // The longest reason, and one in any script with emoji, are fine.
      assert.strictEqual((yield* deactivate({ reason: "x".repeat(500) })).status, 200)
      assert.strictEqual((yield* deactivate({ reason: "Spam – 広告 🚫", until: null })).status, 200)

      const notFound = [404, { detail: "Not Found" }]
      for (const id of ["0b5d1f9a-7c3e-4c1e-9b0a-2f4f7f6a1d11", "not-an-id"]) {
        const path = `/users/${id}`
        const replies = [
          yield* request(`${path}/deactivate`, { method: "POST", headers: boss.headers, json: { reason: "r" } }),
          yield* request(`${path}/activate`, { method: "POST", headers: boss.headers }),
          yield* request(`${path}/deactivation`, { headers: boss.headers })
        ]
        for (const reply of replies) assert.deepStrictEqual(statusAndBody(reply), notFound)
      }
    })
  )

  it.effect("a ban with an until refuses the login while it lasts and lifts itself when until passes", () =>
    Effect.gen(function* () {
      const boss = yield* signedIn(true)
      const target = yield* signedIn()
      const until = new Date(Date.now() + 2000)
      const banned = yield* request(`/users/${target.user.id}/deactivate`, {
        method: "POST",
        headers: boss.headers,
        json: { reason: "cool-off", until: until.toISOString() }
      })
      assert.strictEqual(banned.status, 200)
      assert.deepStrictEqual(statusAndBody(yield* login(target.email)), [400, { detail: "LOGIN_BAD_CREDENTIALS" }])
      const detail = yield* request(`/users/${target.user.id}/deactivation`, { headers: boss.headers })
      assert.deepStrictEqual(detail.body, { reason: "cool-off", until: until.toISOString() })
      const inactive = yield* request("/users/?is_active=false", { headers: boss.headers })
      assert.include(
        inactive.body.items.map((user: { id: string }) => user.id),
        target.user.id
      )

      yield* Effect.sleep(Math.max(0, until.getTime() - Date.now()) + 50)
      assert.strictEqual((yield* login(target.email)).status, 200)
      const after = yield* request(`/users/${target.user.id}`, { headers: boss.headers })
      assert.isTrue(after.body.is_active)
      const lifted = yield* request(`/users/${target.user.id}/deactivation`, { headers: boss.headers })
      assert.deepStrictEqual(statusAndBody(lifted), [200, null])
    })
  )

  it.effect("the typed client: deactivate with a Date, read the deactivation, activate, log out everywhere", () =>
    Effect.gen(function* () {
      const boss = yield* signedIn(true)
      const target = yield* signedIn()
      const address = (yield* HttpServer.HttpServer).address as HttpServer.TcpAddress
      const client = yield* HttpApiClient.make(server.app.Api, {
        baseUrl: `http://127.0.0.1:${address.port}`,
        transformClient: HttpClient.mapRequest(HttpClientRequest.setHeaders(boss.headers))
      })
      const id = String(target.user.id)
      const until = new Date(Date.now() + 3_600_000)
      const user = yield* client.admin.deactivate({ path: { id }, payload: { reason: "review", until } })
      assert.isFalse(user.isActive)
      const deactivation = yield* client.admin.deactivation({ path: { id } })
      expectTypeOf(deactivation).toEqualTypeOf<{ readonly reason: string | null; readonly until: Date | null } | null>()
      assert.deepStrictEqual(deactivation, { reason: "review", until })
      assert.isTrue((yield* client.admin.activate({ path: { id } })).isActive)
      assert.isNull(yield* client.admin.deactivation({ path: { id } }))
      const fresh = yield* login(target.email)
      const token = { authorization: `Bearer ${fresh.body.access_token as string}` }
      yield* client.admin.logoutAll({ path: { id } })
      assert.strictEqual((yield* request("/users/me", { headers: token })).status, 401)
      assert.strictEqual((yield* request("/users/me", { headers: boss.headers })).status, 200)
    })
  )

  it.effect("OpenAPI lists the routes, the body's rules and the new code", () =>
    Effect.gen(function* () {
      const spec = JSON.stringify((yield* request("/openapi.json")).body)
      for (const path of [
        "/users/{id}/logout-all",
        "/users/{id}/deactivate",
        "/users/{id}/activate",
        "/users/{id}/deactivation",
        "DEACTIVATE_USER_UNTIL_PAST",
        "DeactivateBody",
        "DeactivationRead",
        "date-time"
      ]) {
        assert.include(spec, path)
      }
    })
  )
})

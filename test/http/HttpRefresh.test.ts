/**
 * Refresh tokens over HTTP on SQLite and PostgreSQL: login answers the pair, refresh rotates, a spent token
 * ends its family, of 6 concurrent refreshes with one token one wins, bad tokens are 401/422 (never a 500),
 * only backends with refresh on have the route, and no token reaches a log line.
 */
import { createHash } from "node:crypto"
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder, OpenApi } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Logger, Option, Redacted } from "effect"
import { AuthStrategy, PasswordHasher, RefreshTokenStore, Sessions, Throttle, UserManager } from "effect-users"
import { AuthBackend, UsersApi } from "effect-users/http"
import { Migrations, SqlAccessTokenStore, SqlRefreshTokenStore, SqlUserRepository } from "effect-users/sql"
import { lastToken, request } from "../utils/HttpTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail, makeFakeHasher, recordingHooks, testConfig } from "../utils/TestUsers.js"
import { recordingTracer } from "../utils/Tracing.js"

const secret = Redacted.make("refresh-test-secret-refresh-test-secret")
const Users = UsersApi.make({
  name: "refresh-test",
  backends: [
    AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret, lifetime: "5 minutes" }), {
      refresh: { lifetime: "30 days", idleLifetime: "7 days" }
    }),
    AuthBackend.bearer("plain", AuthStrategy.jwt({ secret, lifetime: "5 minutes" })),
    AuthBackend.bearer("strict", AuthStrategy.jwt({ secret, lifetime: "5 minutes" }), {
      refresh: { graceWindow: 0 }
    })
  ]
})
class Api extends Users.addTo(HttpApi.make("refresh-test")) {}

/** Every log line and span the server writes, to check that no token is in one. */
const logs: Array<string> = []
const { recorded, tracer } = recordingTracer()
const recordLogs = Logger.replace(
  Logger.defaultLogger,
  Logger.make((entry) => void logs.push(JSON.stringify(entry.message)))
)

const hooks = recordingHooks()

const server = (
  client: Layer.Layer<SqlClient.SqlClient, unknown>,
  // Many logins from one address: the throttle has its own tests (HttpThrottle), these are about sessions.
  throttle: Layer.Layer<Throttle.Throttle> = Throttle.layerDisabled
) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.api(Api)),
    Layer.provide(Users.layer(Api)),
    Layer.provide(throttle),
    Layer.provideMerge(Layer.merge(SqlRefreshTokenStore.layer(), SqlAccessTokenStore.layer())),
    Layer.provideMerge(
      UserManager.layer.pipe(
        Layer.provide([
          SqlUserRepository.layer(),
          testConfig(),
          hooks.layer,
          PasswordHasher.layer(makeFakeHasher().service)
        ])
      )
    ),
    Layer.provide(Migrations.layer()),
    Layer.provide(client),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(recordLogs),
    Layer.provide(Layer.setTracer(tracer)),
    Layer.orDie
  )

const password = "correct-horse-battery"
const signUp = Effect.gen(function* () {
  const email = freshEmail("refresh")
  yield* Effect.orDie(
    Effect.flatMap(UserManager.UserManager, (users) => users.create({ email, password: Redacted.make(password) }))
  )
  return email
})
const login = (email: string, backend = "jwt") =>
  request(`/auth/${backend}/login`, { form: { username: email, password } })
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8"))
const userOf = (email: string) =>
  Effect.orDie(Effect.flatMap(UserManager.UserManager, (users) => users.getByEmail(email)))
const refresh = (token: unknown, backend = "jwt") =>
  request(`/auth/${backend}/refresh`, { json: { refresh_token: token } })
const me = (accessToken: string) => request("/users/me", { headers: { authorization: `Bearer ${accessToken}` } })

const suite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  layer(server(client), { excludeTestServices: true })(name, (it) => {
    it.effect("login answers access_token, token_type and a 43-character refresh_token, not cached", () =>
      Effect.gen(function* () {
        const reply = yield* login(yield* signUp)
        assert.strictEqual(reply.status, 200)
        assert.deepStrictEqual(Object.keys(reply.body).sort(), ["access_token", "refresh_token", "token_type"])
        assert.strictEqual(reply.body.token_type, "bearer")
        assert.match(reply.body.refresh_token, /^[A-Za-z0-9_-]{43}$/)
        assert.strictEqual(reply.headers.get("cache-control"), "no-store")
        assert.strictEqual((yield* me(reply.body.access_token)).status, 200)
      })
    )

    it.effect("refresh swaps the token for a new pair that works; the old token is spent", () =>
      Effect.gen(function* () {
        const first = (yield* login(yield* signUp)).body
        const swapped = yield* refresh(first.refresh_token)
        assert.strictEqual(swapped.status, 200)
        assert.strictEqual(swapped.headers.get("cache-control"), "no-store")
        assert.strictEqual(swapped.body.token_type, "bearer")
        assert.notStrictEqual(swapped.body.refresh_token, first.refresh_token)
        assert.strictEqual((yield* me(swapped.body.access_token)).status, 200)
        const again = yield* refresh(swapped.body.refresh_token)
        assert.strictEqual(again.status, 200)
      })
    )

    it.effect(
      "a spent refresh token ends the family: 401 REFRESH_TOKEN_REUSED; its refresh and access tokens die",
      () =>
        Effect.gen(function* () {
          const email = yield* signUp
          const first = (yield* login(email)).body
          const other = (yield* login(email)).body
          const second = (yield* refresh(first.refresh_token)).body
          const third = (yield* refresh(second.refresh_token)).body
          for (const token of [first, second, third]) assert.strictEqual((yield* me(token.access_token)).status, 200)
          // Older than the token just rotated: reuse, grace window or not.
          const reuse = yield* refresh(first.refresh_token)
          assert.strictEqual(reuse.status, 401)
          assert.deepStrictEqual(reuse.body, { detail: "REFRESH_TOKEN_REUSED" })
          const dead = yield* refresh(third.refresh_token)
          assert.strictEqual(dead.status, 401)
          assert.deepStrictEqual(dead.body, { detail: "REFRESH_TOKEN_INVALID" })
          // Every access token the family issued ends at once.
          for (const token of [first, second, third]) assert.strictEqual((yield* me(token.access_token)).status, 401)
          // Another login of the same user is another family: it lives on.
          assert.strictEqual((yield* me(other.access_token)).status, 200)
          assert.strictEqual((yield* refresh(other.refresh_token)).status, 200)
        })
    )

    it.effect(
      "without a grace window the token just rotated is reuse at once; with it, a retry gets the same one",
      () =>
        Effect.gen(function* () {
          const email = yield* signUp
          const strict = (yield* login(email, "strict")).body
          const rotated = (yield* refresh(strict.refresh_token, "strict")).body
          assert.deepStrictEqual((yield* refresh(strict.refresh_token, "strict")).body, {
            detail: "REFRESH_TOKEN_REUSED"
          })
          assert.strictEqual((yield* me(rotated.access_token)).status, 401)

          const lenient = (yield* login(email)).body
          const successor = (yield* refresh(lenient.refresh_token)).body
          const retried = yield* refresh(lenient.refresh_token)
          assert.strictEqual(retried.status, 200)
          assert.strictEqual(retried.body.refresh_token, successor.refresh_token)
          assert.strictEqual(claimsOf(retried.body.access_token).sid, claimsOf(successor.access_token).sid)
          assert.strictEqual((yield* me(retried.body.access_token)).status, 200)
          assert.strictEqual((yield* refresh(successor.refresh_token)).status, 200)
        })
    )

    it.effect("of 6 concurrent refreshes with one token, all get the same successor within the grace window", () =>
      Effect.gen(function* () {
        const first = (yield* login(yield* signUp)).body
        const replies = yield* Effect.all(
          Array.from({ length: 6 }, () => refresh(first.refresh_token)),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(
          replies.map((reply) => reply.status),
          [200, 200, 200, 200, 200, 200]
        )
        assert.strictEqual(new Set(replies.map((reply) => reply.body.refresh_token)).size, 1)
        for (const reply of replies) assert.strictEqual((yield* me(reply.body.access_token)).status, 200)
        assert.strictEqual((yield* refresh(replies[0]!.body.refresh_token)).status, 200)
      })
    )

    it.effect(
      "without a grace window, of 6 concurrent refreshes with one token one answers 200, and the family ends",
      () =>
        Effect.gen(function* () {
          const first = (yield* login(yield* signUp, "strict")).body
          const replies = yield* Effect.all(
            Array.from({ length: 6 }, () => refresh(first.refresh_token, "strict")),
            { concurrency: "unbounded" }
          )
          const winners = replies.filter((reply) => reply.status === 200)
          assert.strictEqual(winners.length, 1)
          for (const reply of replies) assert.include([200, 401], reply.status)
          assert.isTrue(replies.some((reply) => reply.body?.detail === "REFRESH_TOKEN_REUSED"))
          // A loser presented a spent token: reuse ends the family, the winner's new pair included.
          assert.strictEqual((yield* refresh(winners[0]!.body.refresh_token, "strict")).status, 401)
          assert.strictEqual((yield* me(winners[0]!.body.access_token)).status, 401)
        })
    )

    it.effect("unknown and malformed tokens are 401 REFRESH_TOKEN_INVALID; oversized or mistyped ones 422", () =>
      Effect.gen(function* () {
        for (const token of ["", "nope", "A".repeat(43), "../../etc/passwd", "é".repeat(43), "a".repeat(1024)]) {
          const reply = yield* refresh(token)
          assert.strictEqual(reply.status, 401, token)
          assert.deepStrictEqual(reply.body, { detail: "REFRESH_TOKEN_INVALID" })
        }
        const long = "b".repeat(1025)
        const oversized = yield* refresh(long)
        assert.strictEqual(oversized.status, 422)
        assert.notInclude(JSON.stringify(oversized.body), long)
        for (const json of [{ refresh_token: 42 }, { refresh_token: null }, {}, []]) {
          assert.strictEqual((yield* request("/auth/jwt/refresh", { json })).status, 422)
        }
        assert.strictEqual(
          (yield* request("/auth/jwt/refresh", { body: "{", headers: { "content-type": "application/json" } })).status,
          422
        )
        assert.strictEqual((yield* request("/auth/jwt/refresh", { form: { refresh_token: "x" } })).status, 415)
      })
    )

    it.effect("access tokens name their family (sid) and carry the login's session epoch", () =>
      Effect.gen(function* () {
        const first = (yield* login(yield* signUp)).body
        const second = (yield* refresh(first.refresh_token)).body
        const [a, b] = [claimsOf(first.access_token), claimsOf(second.access_token)]
        assert.match(a.sid, /^[A-Za-z0-9_-]{22}$/)
        assert.strictEqual(b.sid, a.sid)
        assert.strictEqual(a.sep, 0)
        assert.notStrictEqual(a.jti, b.jti)
      })
    )

    it.effect("logout with a refresh backend ends the family; the user's other logins live on", () =>
      Effect.gen(function* () {
        const email = yield* signUp
        const [first, other] = [(yield* login(email)).body, (yield* login(email)).body]
        const logout = yield* request("/auth/jwt/logout", {
          method: "POST",
          headers: { authorization: `Bearer ${first.access_token}` }
        })
        assert.strictEqual(logout.status, 204)
        assert.deepStrictEqual((yield* refresh(first.refresh_token)).body, { detail: "REFRESH_TOKEN_INVALID" })
        assert.strictEqual((yield* me(first.access_token)).status, 401)
        assert.strictEqual((yield* refresh(other.refresh_token)).status, 200)
      })
    )

    it.effect("a password reset ends every refresh family of the user (the session epoch moved)", () =>
      Effect.gen(function* () {
        const email = yield* signUp
        const [first, second] = [(yield* login(email)).body, (yield* login(email)).body]
        const rotated = (yield* refresh(second.refresh_token)).body
        const users = yield* UserManager.UserManager
        yield* Effect.orDie(users.forgotPassword(yield* userOf(email)))
        const token = lastToken(hooks, "onAfterForgotPassword")
        const reset = yield* request("/auth/reset-password", { json: { token, password: "a-new-password-123" } })
        assert.strictEqual(reset.status, 200)
        for (const dead of [first.refresh_token, rotated.refresh_token]) {
          assert.deepStrictEqual((yield* refresh(dead)).body, { detail: "REFRESH_TOKEN_INVALID" })
        }
        assert.strictEqual((yield* me(rotated.access_token)).status, 401)
      })
    )

    it.effect("log out everywhere, a deactivation and a deletion end the refresh families", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const sessions = yield* Sessions.Sessions
        const everywhere = yield* signUp
        const a = (yield* login(everywhere)).body
        yield* sessions.endAll(yield* userOf(everywhere))
        assert.strictEqual((yield* refresh(a.refresh_token)).status, 401)

        const deactivated = yield* signUp
        const b = (yield* login(deactivated)).body
        yield* Effect.orDie(users.update(yield* userOf(deactivated), { isActive: false }))
        yield* Effect.orDie(users.update(yield* userOf(deactivated), { isActive: true }))
        assert.strictEqual((yield* refresh(b.refresh_token)).status, 401)

        const deleted = yield* signUp
        const c = (yield* login(deleted)).body
        yield* Effect.orDie(users.delete(yield* userOf(deleted)))
        assert.strictEqual((yield* refresh(c.refresh_token)).status, 401)
      })
    )

    it.effect("families are sessions: listed with the current one marked, ended by their owner only", () =>
      Effect.gen(function* () {
        const [alice, bob] = [yield* signUp, yield* signUp]
        const agent = { "user-agent": "RefreshTest/1.0" }
        const first = (yield* request("/auth/jwt/login", { form: { username: alice, password }, headers: agent })).body
        const second = (yield* login(alice)).body
        const bobs = (yield* login(bob)).body
        const auth = (token: string) => ({ authorization: `Bearer ${token}` })
        const listed = yield* request("/users/me/sessions", { headers: auth(first.access_token) })
        assert.strictEqual(listed.status, 200)
        const sid = claimsOf(first.access_token).sid
        assert.deepStrictEqual(
          listed.body.map((session: { id: string; current: boolean }) => [session.id, session.current]).sort(),
          [
            [sid, true],
            [claimsOf(second.access_token).sid, false]
          ].sort()
        )
        const mine = listed.body.find((session: { id: string }) => session.id === sid)
        assert.strictEqual(mine.backend, "jwt")
        assert.strictEqual(mine.user_agent, "RefreshTest/1.0")
        assert.notInclude(JSON.stringify(listed.body), first.refresh_token)
        // Bob cannot end Alice's family, even knowing its ID.
        const foreign = yield* request(`/users/me/sessions/${sid}`, {
          method: "DELETE",
          headers: auth(bobs.access_token)
        })
        assert.strictEqual(foreign.status, 404)
        assert.strictEqual((yield* refresh(first.refresh_token)).status, 200)
        const ended = yield* request(`/users/me/sessions/${claimsOf(second.access_token).sid}`, {
          method: "DELETE",
          headers: auth(first.access_token)
        })
        assert.strictEqual(ended.status, 204)
        assert.deepStrictEqual((yield* refresh(second.refresh_token)).body, { detail: "REFRESH_TOKEN_INVALID" })
      })
    )

    it.effect("a password change through a refresh session keeps its family; the user's other families end", () =>
      Effect.gen(function* () {
        const email = yield* signUp
        const [mine, other] = [(yield* login(email)).body, (yield* login(email)).body]
        const changed = yield* request("/users/me", {
          method: "PATCH",
          json: { password: "another-password-456", current_password: password },
          headers: { authorization: `Bearer ${mine.access_token}` }
        })
        assert.strictEqual(changed.status, 200)
        const next = yield* refresh(mine.refresh_token)
        assert.strictEqual(next.status, 200)
        assert.strictEqual((yield* me(next.body.access_token)).status, 200)
        assert.deepStrictEqual((yield* refresh(other.refresh_token)).body, { detail: "REFRESH_TOKEN_INVALID" })
      })
    )

    it.effect("log out everywhere ends every refresh family at once", () =>
      Effect.gen(function* () {
        const email = yield* signUp
        const [a, b] = [(yield* login(email)).body, (yield* login(email)).body]
        const reply = yield* request("/auth/logout-all", {
          method: "POST",
          headers: { authorization: `Bearer ${a.access_token}` }
        })
        assert.strictEqual(reply.status, 204)
        const store = yield* RefreshTokenStore.RefreshTokenStore
        assert.deepStrictEqual(yield* store.listOf(String((yield* userOf(email)).id)), [])
        for (const token of [a.refresh_token, b.refresh_token]) assert.strictEqual((yield* refresh(token)).status, 401)
      })
    )

    it.effect("a backend without refresh answers FastAPI Users' login body and has no refresh route", () =>
      Effect.gen(function* () {
        const reply = yield* login(yield* signUp, "plain")
        assert.deepStrictEqual(Object.keys(reply.body).sort(), ["access_token", "token_type"])
        assert.strictEqual((yield* request("/auth/plain/refresh", { json: { refresh_token: "x" } })).status, 404)
      })
    )

    it.effect("no refresh or access token reaches a log line or a span", () =>
      Effect.gen(function* () {
        const first = (yield* login(yield* signUp)).body
        const second = (yield* refresh(first.refresh_token)).body
        const kept = yield* Effect.flatMap(RefreshTokenStore.RefreshTokenStore, (store) =>
          store.find(createHash("sha256").update(first.refresh_token).digest("base64url"))
        )
        const sealed = Option.getOrThrow(Option.getOrThrow(kept).successor)
        yield* refresh(first.refresh_token)
        yield* refresh(second.refresh_token)
        yield* refresh(first.refresh_token)
        assert.isAbove(recorded.length, 10)
        const seen = JSON.stringify([logs, recorded], (_key, value) =>
          typeof value === "bigint" ? String(value) : value
        )
        for (const token of [
          first.refresh_token,
          first.access_token,
          second.refresh_token,
          second.access_token,
          sealed
        ]) {
          assert.notInclude(seen, token)
        }
      })
    )
  })

describe("refresh tokens over HTTP", () => {
  it("the OpenAPI document has the refresh route of the refresh backend only, its 401 codes, the pair at login", () => {
    const spec = OpenApi.fromApi(Api)
    const refreshRoute = JSON.stringify(spec.paths["/auth/jwt/refresh"])
    for (const code of ["REFRESH_TOKEN_INVALID", "REFRESH_TOKEN_REUSED", "ValidationError", "UNSUPPORTED_MEDIA_TYPE"]) {
      assert.include(refreshRoute, code)
    }
    assert.include(JSON.stringify(spec.paths["/auth/jwt/login"]), "BearerRefreshResponse")
    assert.include(JSON.stringify(spec.components.schemas.BearerRefreshResponse), "refresh_token")
    assert.notInclude(JSON.stringify(spec.paths["/auth/plain/login"]), "BearerRefreshResponse")
    assert.isUndefined(spec.paths["/auth/plain/refresh"])
    const tags = spec.tags.map((tag) => tag.name)
    assert.deepStrictEqual(tags, [...new Set(tags)])
    assert.include(tags, "auth:jwt")
  })

  suite("SQLite", SqliteClient.layer({ filename: ":memory:" }))
})

layer(
  server(
    SqliteClient.layer({ filename: ":memory:" }),
    Throttle.layerMemory({ clients: { refresh: { limit: 2, window: "1 minute" } }, accounts: false })
  ),
  { excludeTestServices: true }
)("refresh throttling", (it) => {
  it.effect("the refresh route is limited per client: the third request in the window answers 429", () =>
    Effect.gen(function* () {
      const statuses: Array<number> = []
      for (let i = 0; i < 3; i++) statuses.push((yield* refresh("x".repeat(43))).status)
      assert.deepStrictEqual(statuses, [401, 401, 429])
    })
  )
})

describePg("refresh tokens over HTTP on PostgreSQL", () => {
  suite("PostgreSQL", freshDatabase().client)
})

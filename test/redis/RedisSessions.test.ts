/**
 * The sessions suite (revocation on every trigger, listing, logout-all...) with the tokens in Redis; and the
 * session features over HTTP with the cookie backend's tokens in Redis (the example app, SQLite users): the
 * sessions list shows each login with its user agent, one can be ended, JWT logout denies that JWT through a
 * Redis record, and logging out everywhere ends every session and leaves none of the user's keys behind.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { RefreshTokenStore, UserRepository } from "effect-users"
import { RedisAccessTokenStore } from "effect-users/redis"
import { sessionsSuite } from "../suites/SessionsSuite.js"
import { type Reply, request } from "../utils/HttpTest.js"
import { makeOpsServer } from "../utils/OpsServer.js"
import { client, describeRedis, freshPrefix, keysUnder } from "../utils/RedisTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"

const cookieOf = (reply: Reply) => ({ cookie: (reply.headers.get("set-cookie") ?? "").split(";")[0]! })

describeRedis("the sessions suite on the Redis store", () => {
  const prefix = freshPrefix("sessions-suite")
  sessionsSuite(
    "Sessions on Redis",
    Layer.mergeAll(
      UserRepository.layerMemory,
      RefreshTokenStore.layerMemory,
      RedisAccessTokenStore.layer({ prefix }).pipe(Layer.provide(client))
    )
  )
})

describeRedis("sessions on the Redis store, over HTTP", () => {
  const prefix = freshPrefix("sessions")
  const tokens = RedisAccessTokenStore.layer({ prefix }).pipe(Layer.provide(client))
  const server = makeOpsServer(SqliteClient.layer({ filename: ":memory:" }), { tokenStore: tokens })

  layer(server.layer, { excludeTestServices: true })("HTTP", (it) => {
    it.effect("list, end one, JWT logout, log out everywhere: all through Redis", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        const registered = yield* request("/auth/register", { json: { email, password } })
        assert.strictEqual(registered.status, 201)
        const userId = registered.body.id as string
        const login = (agent: string) =>
          request("/auth/cookie/login", { form: { username: email, password }, headers: { "user-agent": agent } })
        const [first, second] = [cookieOf(yield* login("Agent/1")), cookieOf(yield* login("Agent/2"))]

        const listed = yield* request("/users/me/sessions", { headers: first })
        assert.strictEqual(listed.status, 200)
        const sessions = listed.body as unknown as ReadonlyArray<Record<string, unknown>>
        assert.sameMembers(
          sessions.map((session) => session.user_agent),
          ["Agent/1", "Agent/2"]
        )
        for (const session of sessions) {
          assert.strictEqual(session.backend, "cookie")
          assert.strictEqual(session.current, session.user_agent === "Agent/1")
        }
        const other = sessions.find((session) => session.user_agent === "Agent/2")!
        const ended = yield* request(`/users/me/sessions/${other.id}`, { method: "DELETE", headers: first })
        assert.strictEqual(ended.status, 204)
        assert.strictEqual((yield* request("/users/me", { headers: second })).status, 401)
        assert.strictEqual((yield* request("/users/me", { headers: first })).status, 200)

        const jwtLogin = (yield* request("/auth/jwt/login", { form: { username: email, password } })).body
        const bearer = { authorization: `Bearer ${jwtLogin.access_token}` }
        assert.strictEqual((yield* request("/users/me", { headers: bearer })).status, 200)
        assert.strictEqual((yield* request("/auth/jwt/logout", { method: "POST", headers: bearer })).status, 204)
        assert.strictEqual((yield* request("/users/me", { headers: bearer })).status, 401)
        const denied = (yield* Effect.promise(() => keysUnder(`${prefix}jti:`))).length
        assert.strictEqual(denied, 1, "the JWT's denial is a Redis record")

        const another = (yield* request("/auth/jwt/login", { form: { username: email, password } })).body
        const otherBearer = { authorization: `Bearer ${another.access_token}` }
        assert.strictEqual((yield* request("/auth/logout-all", { method: "POST", headers: first })).status, 204)
        assert.strictEqual((yield* request("/users/me", { headers: first })).status, 401)
        assert.strictEqual((yield* request("/users/me", { headers: otherBearer })).status, 401)
        const left = yield* Effect.promise(() => keysUnder(`${prefix}`))
        assert.isFalse(
          left.some((key) => key === `${prefix}user:${userId}` || key.startsWith(`${prefix}token:`)),
          left.join(", ")
        )
      })
    )
  })
})

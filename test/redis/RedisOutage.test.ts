/**
 * A Redis outage is a 503 like a database outage (issue 10, item 5): against a Redis server of the test's own,
 * the cookie backend's routes (its tokens live in Redis) answer 503 `SERVICE_UNAVAILABLE` with `Retry-After`
 * at once (no queued commands, no hang) while Redis is stopped or stalled, log the cause without the token,
 * and serve again once it is back, without restarting the app.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer, vi } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Logger, Redacted } from "effect"
import { Throttle } from "effect-users"
import { Redis, RedisAccessTokenStore, RedisThrottle } from "effect-users/redis"
import { Redis as IORedis } from "ioredis"
import { type Reply, request } from "../utils/HttpTest.js"
import { makeOpsServer, pollUntil } from "../utils/OpsServer.js"
import { canRunServer, RedisServer, serverLayer } from "../utils/RedisTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"

const assertUnavailable = (reply: Reply, what: string) => {
  assert.strictEqual(reply.status, 503, `${what}: ${reply.status} ${JSON.stringify(reply.body)}`)
  assert.deepStrictEqual(reply.body, { detail: "SERVICE_UNAVAILABLE" }, what)
  assert.strictEqual(reply.headers.get("retry-after"), "5", what)
}

// biome-ignore lint/suspicious/noExplicitAny: a test helper over an untyped JSON reply
const timed = (effect: Effect.Effect<Reply, never, any>) =>
  Effect.map(Effect.timed(effect), ([duration, reply]) => ({ reply, ms: Duration.toMillis(duration) }))

const cookieOf = (reply: Reply) => {
  const value = /^fastapiusersauth=([^;]*)/.exec(reply.headers.get("set-cookie") ?? "")?.[1] ?? ""
  return { value, headers: { cookie: `fastapiusersauth=${value}` } }
}

describe.skipIf(!canRunServer)("outage: Redis stopped and restarted under a running server", () => {
  const tokens = Layer.unwrapEffect(
    Effect.map(RedisServer, (server) =>
      RedisAccessTokenStore.layer({ prefix: "outage:" }).pipe(
        Layer.provide(Redis.layer({ url: Redacted.make(server.url), commandTimeout: "2 seconds" }))
      )
    )
  )
  const server = makeOpsServer(SqliteClient.layer({ filename: ":memory:" }), { tokenStore: tokens })

  layer(Layer.provideMerge(server.layer, serverLayer), { excludeTestServices: true, timeout: 60_000 })(
    "cookie (Redis) sessions",
    (it) => {
      it.effect(
        "503 with Retry-After at once while Redis is down, logged once each without the token; back by itself",
        () =>
          Effect.gen(function* () {
            const redis = yield* RedisServer
            const email = freshEmail()
            assert.strictEqual((yield* request("/auth/register", { json: { email, password } })).status, 201)
            const login = yield* request("/auth/cookie/login", { form: { username: email, password } })
            assert.strictEqual(login.status, 204)
            const cookie = cookieOf(login)
            assert.strictEqual((yield* request("/users/me", { headers: cookie.headers })).status, 200)

            yield* redis.stop
            const logsBefore = server.logs.length
            const down = {
              "/users/me (cookie)": request("/users/me", { headers: cookie.headers }),
              "the app's own route (cookie)": request("/greetings/hello", { headers: cookie.headers }),
              "cookie login": request("/auth/cookie/login", { form: { username: email, password } }),
              "cookie logout": request("/auth/cookie/logout", { method: "POST", headers: cookie.headers })
            }
            for (const [what, send] of Object.entries(down)) {
              const { ms, reply } = yield* timed(send)
              assertUnavailable(reply, what)
              // Well under the command timeout: nothing waits in a queue for a reconnection.
              assert.isBelow(ms, 1000, `${what} answered in ${ms} ms`)
            }
            const answered = server.logs
              .slice(logsBefore)
              .filter((entry) => entry.message.startsWith("Service unavailable, answered 503"))
            assert.strictEqual(answered.length, Object.keys(down).length)
            for (const entry of answered) assert.include(entry.message, "storage unavailable: RedisError")
            assert.notInclude(server.logText(), cookie.value)
            assert.notInclude(server.logText(), password)

            yield* redis.start
            // The client reconnects by itself; this test's Redis keeps nothing, so the old session is gone (401).
            const back = yield* pollUntil(
              request("/users/me", { headers: cookie.headers }),
              (reply) => reply.status !== 503,
              20_000
            )
            assert.strictEqual(back.status, 401)
            const again = yield* request("/auth/cookie/login", { form: { username: email, password } })
            assert.strictEqual(again.status, 204)
            assert.strictEqual((yield* request("/users/me", { headers: cookieOf(again).headers })).status, 200)
            assert.isTrue(server.logs.some((entry) => entry.message === "Redis connection restored"))
          })
      )

      it.effect("a stalled Redis (CLIENT PAUSE) answers 503 within the command timeout, not when Redis wakes", () =>
        Effect.gen(function* () {
          const email = freshEmail()
          assert.strictEqual((yield* request("/auth/register", { json: { email, password } })).status, 201)
          const login = yield* request("/auth/cookie/login", { form: { username: email, password } })
          const cookie = cookieOf(login)
          const { url } = yield* RedisServer
          const admin = yield* Effect.acquireRelease(
            Effect.sync(() => new IORedis(url)),
            (client) => Effect.sync(() => client.disconnect())
          )
          // Every client's commands wait for 5 s: the command timeout of 2 s must answer well before.
          yield* Effect.promise(() => admin.call("CLIENT", "PAUSE", "5000", "ALL"))
          const { ms, reply } = yield* timed(request("/users/me", { headers: cookie.headers }))
          assertUnavailable(reply, "/users/me while Redis is paused")
          assert.isAtLeast(ms, 1500, `answered in ${ms} ms: before the command timeout?`)
          assert.isBelow(ms, 4500, `answered in ${ms} ms`)
          const back = yield* pollUntil(
            request("/users/me", { headers: cookie.headers }),
            (reply) => reply.status !== 503,
            20_000
          )
          assert.strictEqual(back.status, 200)
        }).pipe(Effect.scoped)
      )
    }
  )
})

describe.skipIf(!canRunServer)("outage: Redis stopped under the Redis throttle", () => {
  const prefix = `outage-throttle-${crypto.randomUUID()}:`
  const throttle = Layer.unwrapEffect(
    Effect.map(RedisServer, (server) =>
      RedisThrottle.layer({ prefix }).pipe(Layer.provideMerge(Redis.layer({ url: Redacted.make(server.url) })))
    )
  )
  const logs: Array<string> = []
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ message }) => {
      logs.push(String(message))
    })
  )

  layer(Layer.provideMerge(Layer.provide(throttle, logger), serverLayer), {
    excludeTestServices: true,
    timeout: 60_000
  })("throttle", (it) => {
    it.effect("its connections print no unhandled ioredis errors; the outage is logged once, its end once", () =>
      Effect.gen(function* () {
        const redis = yield* RedisServer
        const limits = yield* Throttle.Throttle
        const printed: Array<string> = []
        const spy = vi.spyOn(console, "error").mockImplementation((...args: Array<unknown>) => {
          printed.push(args.map(String).join(" "))
        })
        yield* Effect.gen(function* () {
          // Both kinds of count are in use, so every connection the throttle needs is open.
          yield* limits.route("login", "127.0.0.1")
          yield* limits.account("a@camelot.bt", "127.0.0.1", "login")

          yield* redis.stop
          // A few seconds of reconnection attempts (at most 1 s apart), with requests meeting the outage.
          for (let i = 0; i < 6; i++) {
            const exit = yield* Effect.exit(limits.route("login", "127.0.0.1"))
            assert.isTrue(Exit.isFailure(exit), "a throttle decision needs its store")
            yield* Effect.sleep("500 millis")
          }
          yield* redis.start
          yield* pollUntil(
            Effect.sync(() => logs.some((line) => line === "Redis connection restored")),
            (restored) => restored,
            10_000
          )
          yield* pollUntil(Effect.exit(limits.route("login", "127.0.0.2")), Exit.isSuccess, 10_000)
        }).pipe(Effect.ensuring(Effect.sync(() => spy.mockRestore())))

        assert.deepStrictEqual(
          printed.filter((line) => line.includes("ioredis")),
          [],
          "no [ioredis] Unhandled error event"
        )
        assert.strictEqual(logs.filter((line) => line.startsWith("Redis connection lost")).length, 1)
        assert.strictEqual(logs.filter((line) => line === "Redis connection restored").length, 1)
      })
    )
  })
})

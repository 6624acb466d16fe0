import { execFileSync } from "node:child_process"
import { RateLimiter } from "@effect/experimental"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import { type Duration, Effect, Layer, Redacted } from "effect"
import { Redis, RedisThrottle } from "effect-users/redis"
import { suite } from "./ThrottleSuite.js"
import { makeServer, request } from "./utils/HttpTest.js"

const url = Redacted.make(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
const prefix = `effect-users-test:${process.pid}:${Date.now().toString(36)}:`
const client = Redis.layer({ url })

suite(
  "RedisThrottle stores",
  Layer.mergeAll(RedisThrottle.layerAccountStore({ prefix }), RedisThrottle.layerRateLimiterStore({ prefix })).pipe(
    Layer.provide(client)
  )
)

describe("@effect/experimental 0.61.1's Redis fixed window", () => {
  it.live("fails on its own for 3 per 10 s (why Throttle.storedLimit rounds the window)", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make
      const consume = (window: Duration.DurationInput) =>
        limiter.consume({ key: `${prefix}raw:${String(window)}`, limit: 3, window, onExceeded: "fail" })
      const fractional = yield* Effect.flip(consume("10 seconds"))
      assert.strictEqual(fractional.reason, "StoreError")
      const rounded = yield* consume("10002 millis")
      assert.strictEqual(rounded.remaining, 2)
    }).pipe(Effect.provide(RedisThrottle.layerRateLimiterStore({ prefix }).pipe(Layer.provide(client))))
  )
})

describe("RedisThrottle while Redis is down", () => {
  const port = 20_000 + (process.pid % 5000)
  const own = Redacted.make(`redis://127.0.0.1:${port}`)
  execFileSync("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no", "--daemonize", "yes"])
  const stop = () => {
    try {
      execFileSync("redis-cli", ["-p", String(port), "shutdown", "nosave"])
    } catch {}
  }
  afterAll(stop)

  const server = makeServer(SqliteClient.layer({ filename: ":memory:" }), {
    throttle: RedisThrottle.layer({ prefix }).pipe(Layer.provide(Redis.layer({ url: own })), Layer.orDie)
  })
  layer(server.layer, { excludeTestServices: true })("a server whose throttle store is down", (it) => {
    it.effect("throttled routes answer 503 with Retry-After, not 500 and not a hang; /users/me is untouched", () =>
      Effect.gen(function* () {
        assert.strictEqual((yield* request("/auth/forgot-password", { json: { email: "a@camelot.bt" } })).status, 202)
        stop()
        const started = Date.now()
        for (const reply of [
          yield* request("/auth/jwt/login", { form: { username: "a@camelot.bt", password: "whatever" } }),
          yield* request("/auth/forgot-password", { json: { email: "a@camelot.bt" } })
        ]) {
          assert.strictEqual(reply.status, 503)
          assert.deepStrictEqual(reply.body, { detail: "SERVICE_UNAVAILABLE" })
          assert.isAtLeast(Number(reply.headers.get("retry-after")), 1)
        }
        assert.isBelow(Date.now() - started, 10_000)
        assert.strictEqual((yield* request("/users/me")).status, 401)
      })
    )
  })
})

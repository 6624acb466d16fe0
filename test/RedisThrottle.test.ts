import { RateLimiter } from "@effect/experimental"
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Layer, Redacted } from "effect"
import { Redis, RedisThrottle } from "effect-users/redis"
import { suite } from "./ThrottleSuite.js"

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

/**
 * The shared Redis client: it connects when its layer is built and fails that build with a `RedisError` (fast,
 * without leaking the URL) when Redis cannot be reached or the URL does not parse; its commands run through `use`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Redacted } from "effect"
import { Redis } from "effect-users/redis"
import { freePort } from "../utils/LocalServer.js"
import { client, describeRedis } from "../utils/RedisTest.js"

const build = (url: string) =>
  Effect.exit(
    Effect.scoped(Effect.flatMap(Redis.Redis, (redis) => redis.use("ping", (c) => c.ping()))).pipe(
      Effect.provide(Redis.layer({ url: Redacted.make(url) }))
    )
  )

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

describe("Redis.layer", () => {
  it.live("fails its build with a RedisError, within the connect timeout, when nothing answers", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(freePort)
      const started = Date.now()
      const failure = failureOf(yield* build(`redis://:hunter2@127.0.0.1:${port}`))
      assert.instanceOf(failure, Redis.RedisError)
      assert.strictEqual((failure as Redis.RedisError).message, "Redis: cannot connect")
      assert.isBelow(Date.now() - started, 3000)
      assert.notInclude(JSON.stringify(failure), "hunter2")
    })
  )

  it.live("fails with a RedisError that does not quote a URL that does not parse", () =>
    Effect.gen(function* () {
      const failure = failureOf(yield* build("redis://:hunter2@[not a host"))
      assert.instanceOf(failure, Redis.RedisError)
      assert.strictEqual((failure as Redis.RedisError).message, "Redis: the URL does not parse")
      assert.notInclude(JSON.stringify(failure), "hunter2")
    })
  )
})

describeRedis("Redis.use", () => {
  it.live("runs commands; a failed command dies with a RedisError naming the operation", () =>
    Effect.gen(function* () {
      const redis = yield* Redis.Redis
      assert.strictEqual(yield* redis.use("ping", (c) => c.ping()), "PONG")
      const exit = yield* Effect.exit(redis.use("bad command", (c) => c.call("NO-SUCH-COMMAND")))
      assert.isTrue(Exit.isFailure(exit))
      const defect = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined
      assert.instanceOf(defect, Redis.RedisError)
      assert.strictEqual((defect as Redis.RedisError).message, "Redis: bad command failed")
    }).pipe(Effect.provide(client), Effect.scoped)
  )
})

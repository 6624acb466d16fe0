/**
 * The Redis adapter owns its outages (issue 18, item 4): `RedisUnavailable` reads a `RedisError`'s causes for
 * ioredis's fail-fast errors, Redis's replies of a server that cannot serve now and Node's socket errors, and
 * `Redis.use` dies with `ServiceUnavailable` on those (reason naming the fault, `Retry-After` 5), with the
 * `RedisError` itself on anything else. Commands with no server are sent for real, to a server the test stops.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted } from "effect"
import { UserError } from "effect-users"
import { Redis, RedisUnavailable } from "effect-users/redis"
import { canRunServer, client, describeRedis, freshPrefix, RedisServer, serverLayer } from "../utils/RedisTest.js"

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code })
const redisError = (cause: unknown) => new Redis.RedisError({ message: "Redis: read failed", cause })

const defectOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

describe("RedisUnavailable.isUnavailable", () => {
  // Moved from test/http/Failures.test.ts: the edge no longer reads driver errors, the Redis adapter does.
  it("ioredis's fail-fast errors and Redis's busy replies are outages", () => {
    const outages = [
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      new Error("Connection is closed."),
      new Error("Command timed out"),
      Object.assign(new Error("Reached the max retries per request limit (which is 0). Refer to ..."), {
        name: "MaxRetriesPerRequestError"
      }),
      withCode("connect ECONNREFUSED 127.0.0.1:6379", "ECONNREFUSED"),
      new Error("LOADING Redis is loading the dataset in memory"),
      new Error("READONLY You can't write against a read only replica."),
      new Error("CLUSTERDOWN The cluster is down"),
      new Error("OOM command not allowed when used memory > 'maxmemory'.")
    ]
    for (const error of outages) assert.isTrue(RedisUnavailable.isUnavailable(redisError(error)), error.message)
  })

  it("a reply that is a bug of ours (a wrong type, a broken script) is not; nor is the same message untagged", () => {
    const wrongType = new Error("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert.isFalse(RedisUnavailable.isUnavailable(redisError(wrongType)))
    assert.isFalse(RedisUnavailable.isUnavailable(redisError(new Error("ERR Error running script (call to f_0)"))))
    assert.isFalse(RedisUnavailable.isUnavailable(new Error("Connection is closed.")))
  })
})

describeRedis("Redis.use on a running server", () => {
  const prefix = freshPrefix("unavailable")

  it.live("a bug of ours (WRONGTYPE) dies with the RedisError itself", () =>
    Effect.gen(function* () {
      const redis = yield* Redis.Redis
      yield* redis.use("set", (c) => c.set(`${prefix}string`, "x"))
      const defect = defectOf(yield* Effect.exit(redis.use("hget", (c) => c.hget(`${prefix}string`, "field"))))
      assert.instanceOf(defect, Redis.RedisError)
      assert.match(String((defect as Redis.RedisError).cause), /WRONGTYPE/)
    }).pipe(Effect.provide(client), Effect.scoped)
  )
})

describe.skipIf(!canRunServer)("Redis.use with the server stopped", () => {
  const redis = Layer.unwrapEffect(Effect.map(RedisServer, (server) => Redis.layer({ url: Redacted.make(server.url) })))

  layer(Layer.provideMerge(redis, serverLayer), { excludeTestServices: true, timeout: 30_000 })("outage", (it) => {
    it.effect("commands die at once with ServiceUnavailable naming the fault (Retry-After 5), not the key", () =>
      Effect.gen(function* () {
        const server = yield* RedisServer
        const client = yield* Redis.Redis
        assert.strictEqual(yield* client.use("ping", (c) => c.ping()), "PONG")
        yield* server.stop
        for (const key of ["secret-key-1", "secret-key-2"]) {
          const started = Date.now()
          const defect = defectOf(yield* Effect.exit(client.use("get", (c) => c.get(key))))
          assert.instanceOf(defect, UserError.ServiceUnavailable)
          const { reason, retryAfter } = defect as UserError.ServiceUnavailable
          assert.match(reason, /^storage unavailable: RedisError: Redis: get failed <- /)
          assert.strictEqual(retryAfter, 5)
          assert.notInclude(reason, key)
          assert.isBelow(Date.now() - started, 1000)
        }
        yield* server.start
      })
    )
  })
})

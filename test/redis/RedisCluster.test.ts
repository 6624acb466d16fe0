/**
 * The Redis stores on a Redis Cluster of the test's own (3 masters, 3 replicas; issue 24): the access token store
 * (sessions and the JWT deny-list), the sessions suite (refresh-token families ended through it) and the throttle
 * pass their conformance suites; each user's keys share one slot and 1,000 users' keys spread over all three
 * masters; a revocation that no replica acknowledged answers 503; `Redis.layerCluster` fails its build cleanly.
 */
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted } from "effect"
import { AccessTokenStore, RefreshTokenStore, UserError, UserRepository } from "effect-users"
import { Redis, RedisAccessTokenStore, RedisThrottle } from "effect-users/redis"
import { Redis as IORedis } from "ioredis"
import { accessTokenStoreSuite } from "../suites/AccessTokenStoreSuite.js"
import { sessionsSuite } from "../suites/SessionsSuite.js"
import { suite as throttleSuite } from "../suites/ThrottleSuite.js"
import { freePort } from "../utils/LocalServer.js"
import { canRunCluster, startRedisCluster } from "../utils/RedisCluster.js"

const cluster = canRunCluster ? await startRedisCluster() : undefined
afterAll(() => cluster?.destroy())

const nodes = cluster?.nodes.map((node) => node.address) ?? []
const client = Redis.layerCluster({ nodes })
const run = `effect-users-test:${crypto.randomUUID()}:`
const digest = () => crypto.randomUUID().replaceAll("-", "")

const defectOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

describe.skipIf(cluster === undefined)("on a Redis Cluster", () => {
  accessTokenStoreSuite(
    "AccessTokenStore conformance",
    Layer.merge(
      RedisAccessTokenStore.layer({ prefix: `${run}tokens:` }).pipe(Layer.provide(client)),
      UserRepository.layerMemory
    )
  )

  sessionsSuite(
    "Sessions",
    Layer.mergeAll(
      UserRepository.layerMemory,
      RefreshTokenStore.layerMemory,
      RedisAccessTokenStore.layer({ prefix: `${run}sessions:` }).pipe(Layer.provide(client))
    )
  )

  throttleSuite(
    "Throttle stores",
    Layer.mergeAll(
      RedisThrottle.layerAccountStore({ prefix: `${run}throttle:` }),
      RedisThrottle.layerRateLimiterStore({ prefix: `${run}throttle:` })
    ).pipe(Layer.provide(client))
  )

  const prefix = `${run}keys:`
  layer(RedisAccessTokenStore.layer({ prefix }).pipe(Layer.provideMerge(client)), {
    excludeTestServices: true,
    timeout: 120_000
  })("keys", (it) => {
    it.effect("a user's tokens and index share the user's slot; purge and revocation work across slots", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const redis = (yield* Redis.Redis).client
        const owner = crypto.randomUUID()
        const tokens = [digest(), digest(), digest()]
        for (const token of tokens) yield* store.write(token, { userId: owner, createdAt: new Date("2001-01-01") })
        const keys = RedisAccessTokenStore.shardedKeys(prefix)
        const slot = (key: string) => Effect.promise(() => redis.call("CLUSTER", "KEYSLOT", key) as Promise<number>)
        const userSlot = yield* slot(keys.tokens(owner))
        for (const token of tokens) assert.strictEqual(yield* slot(keys.token(owner, token)), userSlot)
        assert.include(keys.tokens(owner), `{u:${owner}}`)
        assert.lengthOf(yield* store.listOf(owner), 3)
        // The three tokens' purge entries sit in (probably) different buckets, on different masters.
        assert.strictEqual(yield* store.purgeExpired(new Date("2001-01-02")), 3)
        for (const token of tokens) assert.isTrue(Option.isNone(yield* store.read(token)))
        assert.strictEqual(yield* Effect.promise(() => redis.exists(keys.tokens(owner))), 0)
        for (const token of tokens) assert.strictEqual(yield* Effect.promise(() => redis.exists(keys.owner(token))), 0)
      })
    )

    it.effect("1,000 users' keys spread over all three masters, each holding 20-50% of them", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const spread = `${prefix}spread:`
        const users = Array.from({ length: 1000 }, () => crypto.randomUUID())
        const sharded = yield* RedisAccessTokenStore.make({ prefix: spread })
        yield* Effect.forEach(users, (userId) => sharded.write(digest(), { userId, createdAt: new Date() }), {
          concurrency: 50
        })
        assert.isDefined(store)
        const masters = cluster!.topology()
        assert.lengthOf(masters, 3)
        const counts: Array<number> = []
        for (const master of masters) {
          const node = new IORedis(master.port, "127.0.0.1")
          yield* Effect.addFinalizer(() => Effect.sync(() => node.disconnect()))
          let [cursor, found] = ["0", 0]
          do {
            const [next, keys] = yield* Effect.promise(() =>
              node.scan(cursor, "MATCH", `${spread}{u:*}:token:*`, "COUNT", 1000)
            )
            found += keys.length
            cursor = next
          } while (cursor !== "0")
          counts.push(found)
        }
        assert.strictEqual(
          counts.reduce((a, b) => a + b, 0),
          1000
        )
        for (const count of counts) {
          assert.isAtLeast(count, 200, counts.join(", "))
          assert.isAtMost(count, 500, counts.join(", "))
        }
      }).pipe(Effect.scoped)
    )

    it.effect("a revocation no replica acknowledges in time dies with ServiceUnavailable (503), not silently", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const redis = (yield* Redis.Redis).client
        const keys = RedisAccessTokenStore.shardedKeys(prefix)
        const [owner, token] = [crypto.randomUUID(), digest()]
        yield* store.write(token, { userId: owner, createdAt: new Date() })
        // The replica of the master serving the user's slot stops acknowledging for 1.5 s.
        const slot = (yield* Effect.promise(() => redis.call("CLUSTER", "KEYSLOT", keys.tokens(owner)))) as number
        const shards = (yield* Effect.promise(() => redis.call("CLUSTER", "SHARDS"))) as Array<Array<unknown>>
        const shard = shards.find((entry) => {
          const ranges = entry[1] as Array<number>
          for (let i = 0; i + 1 < ranges.length; i += 2) if (ranges[i]! <= slot && slot <= ranges[i + 1]!) return true
          return false
        })!
        const replicaPort = (shard[3] as Array<Array<unknown>>)
          .map((node) => {
            const fields = new Map<string, unknown>()
            for (let i = 0; i + 1 < node.length; i += 2) fields.set(String(node[i]), node[i + 1])
            return fields
          })
          .find((node) => node.get("role") === "replica")!
          .get("port") as number
        const replica = new IORedis(replicaPort, "127.0.0.1")
        yield* Effect.addFinalizer(() => Effect.sync(() => replica.disconnect()))
        const sleeping = replica.call("DEBUG", "SLEEP", "1.5")
        yield* Effect.sleep("100 millis")
        const defect = defectOf(yield* Effect.exit(store.deleteAllOf(owner)))
        assert.instanceOf(defect, UserError.ServiceUnavailable)
        assert.match((defect as UserError.ServiceUnavailable).reason, /NOREPLICAS/)
        yield* Effect.promise(() => sleeping)
        // Applied on the master all the same, and replicated once the replica is back: the token stays refused.
        assert.isTrue(Option.isNone(yield* store.read(token)))
        const token2 = digest()
        yield* store.write(token2, { userId: owner, createdAt: new Date() })
        assert.strictEqual(yield* store.deleteAllOf(owner), 1)
      }).pipe(Effect.scoped)
    )

    it.effect("the single layout refuses a cluster, the sharded one a prefix with braces", () =>
      Effect.gen(function* () {
        const single = yield* Effect.exit(RedisAccessTokenStore.make({ layout: "single" }))
        assert.isTrue(Exit.isFailure(single))
        const braces = yield* Effect.exit(RedisAccessTokenStore.make({ prefix: "app:{x}:" }))
        assert.isTrue(Exit.isFailure(braces))
      })
    )
  })

  layer(RedisThrottle.layerRateLimiterStore({ prefix: `${run}buckets:` }).pipe(Layer.provide(client)))(
    "throttle",
    (it) => {
      it.effect("a token bucket's two keys share a slot on a cluster (no CROSSSLOT)", () =>
        Effect.gen(function* () {
          const { RateLimiter } = yield* Effect.promise(() => import("@effect/experimental"))
          const limiter = yield* RateLimiter.make
          const take = () =>
            limiter.consume({
              key: "bucket",
              algorithm: "token-bucket",
              limit: 2,
              window: "1 minute",
              onExceeded: "fail"
            })
          assert.strictEqual((yield* take()).remaining, 1)
          assert.strictEqual((yield* take()).remaining, 0)
          assert.strictEqual((yield* Effect.flip(take())).reason, "Exceeded")
        })
      )
    }
  )
})

describe("Redis.layerCluster", () => {
  it.live("fails its build with a RedisError when no node answers, or a node is not host:port", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(freePort)
      const build = (options: Redis.ClusterOptions) =>
        Effect.exit(
          Effect.scoped(Effect.flatMap(Redis.Redis, (redis) => redis.use("ping", (c) => c.ping()))).pipe(
            Effect.provide(Redis.layerCluster(options))
          )
        )
      const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
        Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      const started = Date.now()
      const down = failureOf(
        yield* build({ nodes: [`127.0.0.1:${port}`], password: Redacted.make("hunter2"), connectTimeout: "500 millis" })
      )
      assert.instanceOf(down, Redis.RedisError)
      assert.isBelow(Date.now() - started, 5000)
      assert.notInclude(JSON.stringify(down), "hunter2")
      const invalid = failureOf(yield* build({ nodes: ["127.0.0.1:not-a-port"] }))
      assert.instanceOf(invalid, Redis.RedisError)
      assert.strictEqual((invalid as Redis.RedisError).message, "Redis: a cluster node is not host:port")
    })
  )
})

/**
 * The Redis store passes the AccessTokenStore conformance suite against the real Redis of REDIS_URL, under a
 * random key prefix; and its keys are what docs/storage.md says: hashed tokens with a TTL, a per-user index that
 * stays consistent under concurrent writes and revocations and loses its expired members, no keyspace scans.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Config, ConfigProvider, Context, Effect, Layer, Option, Redacted } from "effect"
import { AccessTokenStore, UserRepository } from "effect-users"
import { Redis, RedisAccessTokenStore } from "effect-users/redis"
import { Redis as IORedis } from "ioredis"
import { accessTokenStoreSuite } from "../suites/AccessTokenStoreSuite.js"
import { canRunServer, client, describeRedis, freshPrefix, RedisServer, serverLayer } from "../utils/RedisTest.js"

const digest = () => crypto.randomUUID().replaceAll("-", "")
const userId = () => crypto.randomUUID()

describeRedis("RedisAccessTokenStore", () => {
  const prefix = freshPrefix("tokens")
  accessTokenStoreSuite(
    "conformance",
    Layer.merge(RedisAccessTokenStore.layer({ prefix }).pipe(Layer.provide(client)), UserRepository.layerMemory)
  )

  // The sharded layout (the default on a Redis Cluster, see RedisCluster.test.ts) chosen on one server.
  accessTokenStoreSuite(
    "conformance, sharded layout on one server",
    Layer.merge(
      RedisAccessTokenStore.layer({ prefix: `${prefix}sharded:`, layout: "sharded" }).pipe(Layer.provide(client)),
      UserRepository.layerMemory
    )
  )

  const storeWith = (options: RedisAccessTokenStore.Options) =>
    RedisAccessTokenStore.layer({ prefix, ...options }).pipe(Layer.provideMerge(client))

  layer(storeWith({ lifetime: "1 hour" }), { excludeTestServices: true })("keys", (it) => {
    it.effect("a token is a hash under its digest expiring after the lifetime, indexed in its user's sorted set", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const redis = (yield* Redis.Redis).client
        const [token, owner] = [digest(), userId()]
        yield* store.write(token, { userId: owner, createdAt: new Date() })
        const key = `${prefix}token:${token}`
        assert.strictEqual(yield* Effect.promise(() => redis.type(key)), "hash")
        const ttl = yield* Effect.promise(() => redis.pttl(key))
        assert.isAbove(ttl, 3_500_000)
        assert.isAtMost(ttl, 3_600_000)
        const index = `${prefix}user:${owner}`
        assert.deepStrictEqual(yield* Effect.promise(() => redis.zrange(index, 0, -1)), [token])
        assert.isAbove(yield* Effect.promise(() => redis.pttl(index)), 3_500_000)
        yield* store.delete(token)
        assert.strictEqual(yield* Effect.promise(() => redis.exists(key, index)), 0)
      })
    )

    it.effect(
      "deleteAllOf racing 100 writes of that user: every token left is indexed, so none outlives revocation",
      () =>
        Effect.gen(function* () {
          const store = yield* AccessTokenStore.AccessTokenStore
          const owner = userId()
          const tokens = Array.from({ length: 100 }, digest)
          const writes = Effect.forEach(
            tokens,
            (token) => store.write(token, { userId: owner, createdAt: new Date() }),
            {
              concurrency: "unbounded"
            }
          )
          const revocations = Effect.forEach([1, 2, 3], () => store.deleteAllOf(owner), { concurrency: "unbounded" })
          yield* Effect.all([writes, revocations], { concurrency: "unbounded" })
          yield* store.deleteAllOf(owner)
          for (const token of tokens) assert.isTrue(Option.isNone(yield* store.read(token)), token)
        })
    )

    it.effect("purgeExpired works through more than one batch", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const owner = userId()
        const tokens = Array.from({ length: 1200 }, digest)
        yield* Effect.forEach(
          tokens,
          (token) => store.write(token, { userId: owner, createdAt: new Date("1999-01-01T00:00:00Z") }),
          { concurrency: 50 }
        )
        assert.strictEqual(yield* store.purgeExpired(new Date("1999-01-01T00:00:01Z")), 1200)
        for (const token of tokens.slice(0, 20)) assert.isTrue(Option.isNone(yield* store.read(token)))
        const redis = (yield* Redis.Redis).client
        assert.strictEqual(yield* Effect.promise(() => redis.exists(`${prefix}user:${owner}`)), 0)
      })
    )
  })

  layer(storeWith({ lifetime: "300 millis" }), { excludeTestServices: true })("expiry", (it) => {
    it.effect(
      "an expired token reads nothing and leaves its user's index and the purge indexes on the next write",
      () =>
        Effect.gen(function* () {
          const store = yield* AccessTokenStore.AccessTokenStore
          const redis = (yield* Redis.Redis).client
          // A store of longer-lived tokens on the same keys keeps the user's index alive past the short token.
          const lasting = yield* RedisAccessTokenStore.make({ prefix, lifetime: "1 hour" })
          const owner = userId()
          const [old, long, fresh] = [digest(), digest(), digest()]
          yield* lasting.write(long, { userId: owner, createdAt: new Date() })
          yield* store.write(old, { userId: owner, createdAt: new Date() })
          yield* Effect.sleep("900 millis")
          assert.isTrue(Option.isNone(yield* store.read(old)))
          yield* lasting.write(fresh, { userId: owner, createdAt: new Date() })
          assert.sameMembers(yield* Effect.promise(() => redis.zrange(`${prefix}user:${owner}`, 0, -1)), [long, fresh])
          assert.sameMembers(
            (yield* lasting.listOf(owner)).map(([key]) => key),
            [long, fresh]
          )
          for (const index of ["issued", "used", "expiry"]) {
            assert.isNull(yield* Effect.promise(() => redis.zscore(`${prefix}${index}`, old)), index)
            assert.isNotNull(yield* Effect.promise(() => redis.zscore(`${prefix}${index}`, fresh)), index)
          }
        })
    )
  })

  layer(
    RedisAccessTokenStore.layerConfig({ prefix: Config.string("TOKENS_PREFIX") }).pipe(
      Layer.provideMerge(client),
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["TOKENS_PREFIX", `${prefix}config:`]]))))
    ),
    { excludeTestServices: true }
  )("layerConfig", (it) => {
    it.effect("reads its options through Config: the keys go under the configured prefix", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const redis = (yield* Redis.Redis).client
        const token = digest()
        yield* store.write(token, { userId: userId(), createdAt: new Date() })
        assert.strictEqual(yield* Effect.promise(() => redis.type(`${prefix}config:token:${token}`)), "hash")
      })
    )

    it.effect("an empty configuration keeps every default", () =>
      Effect.gen(function* () {
        const built = yield* Layer.build(RedisAccessTokenStore.layerConfig({}).pipe(Layer.provide(client)))
        assert.isDefined(Context.get(built, AccessTokenStore.AccessTokenStore))
      }).pipe(Effect.scoped)
    )
  })
})

describe.skipIf(!canRunServer)("RedisAccessTokenStore on a server of its own", () => {
  const store = Layer.unwrapEffect(
    Effect.map(RedisServer, (server) =>
      RedisAccessTokenStore.layer().pipe(Layer.provideMerge(Redis.layer({ url: Redacted.make(server.url) })))
    )
  )
  layer(store.pipe(Layer.provideMerge(serverLayer)), { excludeTestServices: true })("commands", (it) => {
    it.effect("no operation scans the keyspace (KEYS, SCAN): revocation and purge go through the indexes", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const admin = new IORedis((yield* RedisServer).url)
        yield* Effect.addFinalizer(() => Effect.sync(() => admin.disconnect()))
        yield* Effect.promise(() => admin.config("RESETSTAT"))
        const [owner, token] = [userId(), digest()]
        yield* store.write(token, { userId: owner, createdAt: new Date("2001-01-01T00:00:00Z") })
        yield* store.write(digest(), { userId: owner, createdAt: new Date() })
        yield* store.read(token)
        yield* store.delete(digest())
        yield* store.purgeExpired(new Date("2001-01-01T00:00:01Z"))
        assert.strictEqual(yield* store.deleteAllOf(owner), 1)
        const stats = yield* Effect.promise(() => admin.info("commandstats"))
        assert.include(stats, "cmdstat_evalsha")
        assert.notMatch(stats, /cmdstat_(keys|scan)\b/)
      }).pipe(Effect.scoped)
    )
  })
})

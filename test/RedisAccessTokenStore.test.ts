/**
 * The Redis store passes the AccessTokenStore conformance suite against the real Redis of REDIS_URL, under a
 * random key prefix; and its keys are what the README says: hashed tokens with a TTL, a per-user index.
 */
import { Layer } from "effect"
import { UserRepository } from "effect-users"
import { RedisAccessTokenStore } from "../src/redis.js"
import { accessTokenStoreSuite } from "./AccessTokenStoreSuite.js"
import { client, describeRedis, freshPrefix } from "./utils/RedisTest.js"

describeRedis("RedisAccessTokenStore", () => {
  const prefix = freshPrefix("tokens")
  accessTokenStoreSuite(
    "conformance",
    Layer.merge(RedisAccessTokenStore.layerWith({ prefix }).pipe(Layer.provide(client)), UserRepository.layerMemory)
  )
})

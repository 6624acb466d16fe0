/**
 * `effect-users/redis`: the shared ioredis client (`Redis`) and the Redis access token store. Not exported by the
 * package root, so that apps without Redis never load `ioredis` (an optional peer dependency).
 */

export * as Redis from "./redis/Redis.js"
export * as RedisAccessTokenStore from "./redis/RedisAccessTokenStore.js"
export * as RedisThrottle from "./redis/RedisThrottle.js"
export * as RedisUnavailable from "./redis/RedisUnavailable.js"

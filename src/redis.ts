/**
 * `effect-users/redis`: the shared ioredis client (`Redis`) and the Redis access token store. Not exported by the
 * package root, so that apps without Redis never load `ioredis` (an optional peer dependency).
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Redis from "./redis/Redis.js"
/** @since 0.1.0 */
export * as RedisAccessTokenStore from "./redis/RedisAccessTokenStore.js"
/** @since 0.1.0 */
export * as RedisThrottle from "./redis/RedisThrottle.js"
/** @since 0.2.0 */
export * as RedisUnavailable from "./redis/RedisUnavailable.js"

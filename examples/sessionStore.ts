/**
 * Where `npm start` keeps the cookie backend's sessions (and the JWT deny-list) and the throttle's counts: in
 * Redis when REDIS_URL is set (session keys under REDIS_KEY_PREFIX, default `effect-users:`; throttle keys under
 * USERS_THROTTLE_PREFIX), sharing one connection; else the sessions in the database and the counts in memory.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { type AccessTokenStore, Throttle } from "effect-users"
import type { Redis } from "effect-users/redis"
import { SqlAccessTokenStore } from "effect-users/sql"
import { sessionLifetime } from "./app.js"

const redisUrl = Effect.map(
  Config.option(Config.redacted("REDIS_URL")),
  Option.filter((url) => Redacted.value(url) !== "")
)

// Loaded only when used: a server without Redis does not carry ioredis.
const loadRedis = Effect.promise(() => import("effect-users/redis"))

// One value, so the sessions and the throttle share the connection (a layer is built once per value).
const RedisClient: Layer.Layer<Redis.Redis, unknown> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const url = yield* Effect.flatMap(
      redisUrl,
      Effect.orDieWith(() => "REDIS_URL is not set")
    )
    const { Redis } = yield* loadRedis
    return Redis.layer({ url })
  })
)

/** The token store chosen by REDIS_URL: Redis, or the SQL client's `accesstoken` table. */
export const SessionStore = Layer.unwrapEffect(
  Effect.gen(function* (): Effect.fn.Return<
    Layer.Layer<AccessTokenStore.AccessTokenStore, unknown, SqlClient.SqlClient>,
    ConfigError.ConfigError
  > {
    if (Option.isNone(yield* redisUrl)) return SqlAccessTokenStore.layer()
    const prefix = yield* Config.string("REDIS_KEY_PREFIX").pipe(Config.withDefault("effect-users:"))
    const { RedisAccessTokenStore } = yield* loadRedis
    yield* Effect.log(`Sessions: Redis (REDIS_URL), keys under ${prefix}`)
    return RedisAccessTokenStore.layer({ prefix, lifetime: sessionLifetime }).pipe(Layer.provide(RedisClient))
  })
)

/**
 * With USERS_RATE_LIMITS=off, no per-client or per-address limits (the per-account back-off stays): for a proxy
 * that limits in front of the server, or a benchmark whose load all comes from one client.
 */
const noClientLimits: Record<Throttle.Route, false> = {
  login: false,
  register: false,
  forgotPassword: false,
  requestVerifyToken: false,
  verify: false,
  resetPassword: false,
  refresh: false,
  magicLink: false,
  emailCode: false,
  magicLinkLogin: false
}
const rateLimits = Effect.map(
  Config.literal("on", "off")("USERS_RATE_LIMITS").pipe(Config.withDefault("on")),
  (setting): Throttle.Options =>
    setting === "on"
      ? {}
      : {
          clients: noClientLimits,
          addresses: { forgotPassword: false, requestVerifyToken: false, magicLink: false, emailCode: false }
        }
)

/** The throttle's store chosen by REDIS_URL: Redis (every process on that server shares the counts), or memory. */
export const ThrottleStore = Layer.unwrapEffect(
  Effect.gen(function* (): Effect.fn.Return<Layer.Layer<Throttle.Throttle, unknown>, ConfigError.ConfigError> {
    const options = yield* rateLimits
    if (Option.isNone(yield* redisUrl)) return Throttle.layerMemory(options)
    const { RedisThrottle } = yield* loadRedis
    return RedisThrottle.layer({ ...options, prefix: process.env.USERS_THROTTLE_PREFIX || undefined }).pipe(
      Layer.provide(RedisClient)
    )
  })
)

/**
 * Where `npm start` keeps the cookie backend's sessions (and the JWT deny-list) and the throttle's counts: in a
 * Redis Cluster when REDIS_CLUSTER_NODES is set (`host:port,...`, password in REDIS_PASSWORD if any), else in Redis
 * when REDIS_URL is set (session keys under REDIS_KEY_PREFIX, default `effect-users:`; throttle keys under
 * USERS_THROTTLE_PREFIX), sharing one client; else the sessions in the database and the counts in memory.
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

const clusterNodes = Effect.map(
  Config.option(Config.string("REDIS_CLUSTER_NODES")),
  Option.filter((nodes) => nodes.trim() !== "")
)

type RedisTarget =
  | { readonly _tag: "Cluster"; readonly nodes: ReadonlyArray<string> }
  | { readonly _tag: "Single"; readonly url: Redacted.Redacted<string> }

/** Which Redis, if any: a cluster (REDIS_CLUSTER_NODES) before a single server (REDIS_URL). */
const redisTarget = Effect.gen(function* (): Effect.fn.Return<Option.Option<RedisTarget>, ConfigError.ConfigError> {
  const nodes = yield* clusterNodes
  if (Option.isSome(nodes)) return Option.some({ _tag: "Cluster", nodes: nodes.value.split(",") })
  const url = yield* redisUrl
  return Option.map(url, (url): RedisTarget => ({ _tag: "Single", url }))
})

// Loaded only when used: a server without Redis does not carry ioredis.
const loadRedis = Effect.promise(() => import("effect-users/redis"))

// One value, so the sessions and the throttle share the connection (a layer is built once per value).
const RedisClient: Layer.Layer<Redis.Redis, unknown> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const target = yield* Effect.flatMap(
      redisTarget,
      Effect.orDieWith(() => "neither REDIS_CLUSTER_NODES nor REDIS_URL is set")
    )
    const { Redis } = yield* loadRedis
    if (target._tag === "Single") return Redis.layer({ url: target.url })
    const password = yield* Config.option(Config.redacted("REDIS_PASSWORD"))
    return Redis.layerCluster({ nodes: target.nodes, password: Option.getOrUndefined(password) })
  })
)

/** The token store chosen by REDIS_CLUSTER_NODES or REDIS_URL: Redis, or the SQL client's `accesstoken` table. */
export const SessionStore = Layer.unwrapEffect(
  Effect.gen(function* (): Effect.fn.Return<
    Layer.Layer<AccessTokenStore.AccessTokenStore, unknown, SqlClient.SqlClient>,
    ConfigError.ConfigError
  > {
    const target = yield* redisTarget
    if (Option.isNone(target)) return SqlAccessTokenStore.layer()
    const prefix = yield* Config.string("REDIS_KEY_PREFIX").pipe(Config.withDefault("effect-users:"))
    const { RedisAccessTokenStore } = yield* loadRedis
    const where = target.value._tag === "Cluster" ? "Redis Cluster (REDIS_CLUSTER_NODES)" : "Redis (REDIS_URL)"
    yield* Effect.log(`Sessions: ${where}, keys under ${prefix}`)
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

/** The throttle's store chosen like the sessions': Redis (every process on it shares the counts), or memory. */
export const ThrottleStore = Layer.unwrapEffect(
  Effect.gen(function* (): Effect.fn.Return<Layer.Layer<Throttle.Throttle, unknown>, ConfigError.ConfigError> {
    const options = yield* rateLimits
    if (Option.isNone(yield* redisTarget)) return Throttle.layerMemory(options)
    const { RedisThrottle } = yield* loadRedis
    return RedisThrottle.layer({ ...options, prefix: process.env.USERS_THROTTLE_PREFIX || undefined }).pipe(
      Layer.provide(RedisClient)
    )
  })
)

/**
 * The throttle's counts in Redis, shared by every server process of the app: the per-account attempts on the
 * app's `Redis` client (one Lua script per attempt, so that concurrent guesses on several instances cannot
 * slip past the back-off), and the per-client limits on `@effect/experimental`'s `RateLimiter/Redis` store.
 */
import type * as RateLimiter from "@effect/experimental/RateLimiter"
import * as RateLimiterRedis from "@effect/experimental/RateLimiter/Redis"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Redis as IORedis } from "ioredis"
import * as Throttle from "../Throttle.js"
import { Redis, type RedisService } from "./Redis.js"

/** Where the counts live. */
export interface Options {
  /** Starts every key; default "effect-users:throttle:". Give each app (and each test) its own. */
  readonly prefix?: string | undefined
}

/** The default key prefix. */
export const defaultPrefix = "effect-users:throttle:"

interface WithAttempt extends IORedis {
  effectUsersThrottleAttempt(key: string, ...args: ReadonlyArray<string>): Promise<[number, number]>
}

// One step of `AccountStore.attempt`, atomic: refuse at `maxAttempts` (until the count expires) or while the
// account waits; else count the attempt, set when the next one may come (`Throttle.delayAfter`) and the expiry.
const attemptScript = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local maxDelay = tonumber(ARGV[4])
local maxAttempts = tonumber(ARGV[5])
local window = tonumber(ARGV[6])
local state = redis.call("HMGET", key, "n", "t")
local n = tonumber(state[1]) or 0
local notBefore = tonumber(state[2]) or 0
if n >= maxAttempts then return {0, redis.call("PTTL", key)} end
if now < notBefore then return {0, notBefore - now} end
n = n + 1
local delay = 0
if n >= free then delay = math.min(base * 2 ^ (n - free), maxDelay) end
redis.call("HSET", key, "n", n, "t", math.floor(now + delay))
redis.call("PEXPIRE", key, window)
return {1, n}
`

/** The per-account store on the app's client. */
export const makeAccountStore = (
  redis: RedisService,
  prefix: string = defaultPrefix
): Context.Tag.Service<Throttle.AccountStore> => {
  const client = redis.client as WithAttempt
  if (typeof client.effectUsersThrottleAttempt !== "function") {
    client.defineCommand("effectUsersThrottleAttempt", { numberOfKeys: 1, lua: attemptScript })
  }
  return Throttle.AccountStore.of({
    send: (key, now, limits) =>
      Effect.sync(() => {
        // Sent now; the returned effect waits for the reply (a rejection is handled there, not left unhandled).
        const reply = client.effectUsersThrottleAttempt(
          `${prefix}${key}`,
          String(Math.floor(now)),
          String(limits.freeAttempts),
          String(Math.round(limits.baseDelayMillis)),
          String(Math.round(limits.maxDelayMillis)),
          String(limits.maxAttempts),
          String(Math.max(1, Math.round(limits.windowMillis)))
        )
        reply.catch(() => {})
        return Effect.map(
          redis.use("throttle attempt", () => reply),
          ([allowed, value]): Throttle.AttemptResult =>
            allowed === 1 ? { _tag: "Allowed", attempts: value } : { _tag: "Refused", retryAfterMillis: value }
        )
      }),
    reset: (key) => Effect.asVoid(redis.use("throttle reset", (c) => c.del(`${prefix}${key}`)))
  })
}

/** `Throttle.AccountStore` on the app's `Redis` client. */
export const layerAccountStore = (options: Options = {}): Layer.Layer<Throttle.AccountStore, never, Redis> =>
  Layer.effect(
    Throttle.AccountStore,
    Effect.map(Redis, (redis) => makeAccountStore(redis, options.prefix))
  )

/**
 * `@effect/experimental`'s Redis `RateLimiterStore`, on a second connection to the app's server (the store makes
 * its own client). Its commands wait for that connection (at most the command timeout) instead of failing
 * while it is first being made.
 */
export const layerRateLimiterStore = (options: Options = {}): Layer.Layer<RateLimiter.RateLimiterStore, never, Redis> =>
  Layer.unwrapEffect(
    Effect.map(Redis, (redis) =>
      RateLimiterRedis.layerStore({
        ...redis.options,
        enableOfflineQueue: true,
        prefix: `${options.prefix ?? defaultPrefix}rl:`
      })
    )
  )

/** The throttle with its counts in Redis, shared by every process using the same server and prefix. */
export const layer = (options: Throttle.Options & Options = {}): Layer.Layer<Throttle.Throttle, never, Redis> =>
  Throttle.layer(options).pipe(Layer.provide([layerRateLimiterStore(options), layerAccountStore(options)]))

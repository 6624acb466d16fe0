/**
 * The throttle's counts in Redis, shared by every server process of the app: the per-account attempts on the
 * app's `Redis` client (one Lua script per attempt, and one per attempt given back, so that concurrent guesses
 * on several instances cannot slip past the back-off), and the per-client limits on `@effect/experimental`'s
 * `RateLimiter/Redis` store.
 */
import { randomBytes } from "node:crypto"
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
  effectUsersThrottleAttempt(key: string, ...args: ReadonlyArray<string>): Promise<[number, number, string?]>
  effectUsersThrottleRelease(key: string, generation: string, id: string): Promise<number>
}

// One step of `AccountStore.send`, atomic: refuse at `maxAttempts` (until the count expires) or while the
// account waits; else count the attempt, set when the next one may come (`Throttle.delayAfter`) and the expiry.
// `g` names the count (the attempt that started it), `r` the last attempt counted and `p` the wait before it,
// for `release`.
const attemptScript = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local maxDelay = tonumber(ARGV[4])
local maxAttempts = tonumber(ARGV[5])
local window = tonumber(ARGV[6])
local id = ARGV[7]
local state = redis.call("HMGET", key, "n", "t", "g")
local n = tonumber(state[1]) or 0
local notBefore = tonumber(state[2]) or 0
local generation = state[3] or id
if n >= maxAttempts then return {0, redis.call("PTTL", key)} end
if now < notBefore then return {0, notBefore - now} end
n = n + 1
local delay = 0
if n >= free then delay = math.min(base * 2 ^ (n - free), maxDelay) end
redis.call("HSET", key, "n", n, "t", math.floor(now + delay), "g", generation, "r", id, "p", notBefore)
redis.call("PEXPIRE", key, window)
return {1, n, generation}
`

// `AccountStore.release`, atomic: nothing unless the attempt's count is the one stored; the last attempt of a
// count removes it; else one less, and the wait before the attempt when no other attempt came since.
const releaseScript = `
local key = KEYS[1]
local state = redis.call("HMGET", key, "n", "g", "r", "p")
local n = tonumber(state[1])
if n == nil or n < 1 or state[2] ~= ARGV[1] then return 0 end
if n == 1 then
  redis.call("DEL", key)
elseif state[3] == ARGV[2] then
  redis.call("HSET", key, "n", n - 1, "t", state[4], "r", "")
else
  redis.call("HSET", key, "n", n - 1)
end
return 1
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
  if (typeof client.effectUsersThrottleRelease !== "function") {
    client.defineCommand("effectUsersThrottleRelease", { numberOfKeys: 1, lua: releaseScript })
  }
  // Attempt IDs unique across the processes sharing the server: this store's random part and a counter.
  const instance = randomBytes(9).toString("base64url")
  let serial = 0
  return Throttle.AccountStore.of({
    send: (key, now, limits) =>
      Effect.sync(() => {
        const id = `${instance}.${(serial++).toString(36)}`
        // Sent now; the returned effect waits for the reply (a rejection is handled there, not left unhandled).
        const reply = client.effectUsersThrottleAttempt(
          `${prefix}${key}`,
          String(Math.floor(now)),
          String(limits.freeAttempts),
          String(Math.round(limits.baseDelayMillis)),
          String(Math.round(limits.maxDelayMillis)),
          String(limits.maxAttempts),
          String(Math.max(1, Math.round(limits.windowMillis))),
          id
        )
        reply.catch(() => {})
        return Effect.map(
          redis.use("throttle attempt", () => reply),
          ([allowed, value, generation]): Throttle.AttemptResult =>
            allowed === 1
              ? { _tag: "Allowed", attempts: value, reservation: { generation: generation ?? id, id } }
              : { _tag: "Refused", retryAfterMillis: value }
        )
      }),
    release: (key, { generation, id }) =>
      Effect.asVoid(
        redis.use("throttle release", () => client.effectUsersThrottleRelease(`${prefix}${key}`, generation, id))
      ),
    reset: (key) =>
      Effect.sync(() => {
        const reply = client.del(`${prefix}${key}`)
        reply.catch(() => {})
        return Effect.asVoid(redis.use("throttle reset", () => reply))
      })
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

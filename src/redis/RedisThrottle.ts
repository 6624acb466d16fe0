/**
 * The throttle's counts in Redis, shared by every server process of the app: the per-account and per-device attempts
 * on the app's `Redis` client (one Lua script per attempt, and one per attempt given back, so that concurrent guesses
 * on several instances cannot slip past the back-off), and the per-client limits as `@effect/experimental`'s
 * `RateLimiter` store on the same client (one Lua script per decision).
 */
import { randomBytes } from "node:crypto"
import * as RateLimiter from "@effect/experimental/RateLimiter"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Redis as IORedis } from "ioredis"
import * as Throttle from "../Throttle.js"
import { Redis, type RedisService } from "./Redis.js"

/**
 * Where the counts live.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Starts every key; default "effect-users:throttle:". Give each app (and each test) its own. */
  readonly prefix?: string | undefined
}

/**
 * The default key prefix.
 *
 * @since 0.1.0
 */
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

/** Defines a one-key Lua script as a command of the client, once: the stores of one app share its client. */
const defineScript = (client: IORedis, name: string, lua: string) => {
  if (typeof Reflect.get(client, name) !== "function") client.defineCommand(name, { numberOfKeys: 1, lua })
}

/**
 * The per-account store on the app's client.
 *
 * @since 0.1.0
 */
export const makeAccountStore = (
  redis: RedisService,
  prefix: string = defaultPrefix
): Context.Tag.Service<Throttle.AccountStore> => {
  const client = redis.client as WithAttempt
  defineScript(client, "effectUsersThrottleAttempt", attemptScript)
  defineScript(client, "effectUsersThrottleRelease", releaseScript)
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

/**
 * `Throttle.AccountStore` on the app's `Redis` client.
 *
 * @since 0.1.0
 */
export const layerAccountStore = (options: Options = {}): Layer.Layer<Throttle.AccountStore, never, Redis> =>
  Layer.effect(
    Throttle.AccountStore,
    Effect.map(Redis, (redis) => makeAccountStore(redis, options.prefix))
  )

// `RateLimiter`'s fixed window, counted as its stores count it: each accepted request extends the window's expiry
// by `step` per token; one past `limit` (when given) is refused and changes nothing. Whole milliseconds for PX.
const fixedWindowScript = `
local key = KEYS[1]
local tokens = tonumber(ARGV[1])
local step = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local count = tonumber(redis.call("GET", key)) or 0
local ttl = redis.call("PTTL", key)
if ttl < 0 then
  count = 0
  ttl = 0
end
local next = count + tokens
if limit and next > limit then return {next, ttl} end
ttl = math.max(1, math.ceil(ttl + step * tokens))
redis.call("SET", key, next, "PX", ttl)
return {next, ttl}
`

// A token bucket of `limit` tokens, one more every `step` ms (Redis's clock, shared by every instance): takes
// `tokens` and answers what is left; below zero only with `overflow`, else nothing is taken. The keys expire
// once the bucket would be full again.
const tokenBucketScript = `
local key = KEYS[1]
local refillKey = key .. ":refill"
local tokens = tonumber(ARGV[1])
local step = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local overflow = ARGV[4] == "1"
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local available = tonumber(redis.call("GET", key))
local refilled = tonumber(redis.call("GET", refillKey))
if not available or not refilled then
  available = limit
  refilled = now
else
  local added = math.floor((now - refilled) / step)
  if added > 0 then
    available = math.min(limit, available + added)
    refilled = refilled + added * step
  end
end
local remaining = available - tokens
if overflow or remaining >= 0 then available = remaining end
local ttl = math.max(1, math.ceil(step * (limit - available + 1)))
redis.call("SET", key, available, "PX", ttl)
redis.call("SET", refillKey, refilled, "PX", ttl)
return remaining
`

interface WithRateLimits extends IORedis {
  effectUsersFixedWindow(key: string, ...args: ReadonlyArray<string>): Promise<[number, number]>
  effectUsersTokenBucket(key: string, ...args: ReadonlyArray<string>): Promise<number>
}

/**
 * `@effect/experimental`'s `RateLimiterStore` (fixed window and token bucket) on the app's client: no connection
 * of its own, so it fails fast like every other command and its connection errors reach the client's listener.
 * A failed command is a `RateLimitStoreError`, which the throttle answers with 503.
 *
 * @since 0.1.0
 */
export const makeRateLimiterStore = (
  redis: RedisService,
  prefix: string = defaultPrefix
): Context.Tag.Service<RateLimiter.RateLimiterStore> => {
  const client = redis.client as WithRateLimits
  defineScript(client, "effectUsersFixedWindow", fixedWindowScript)
  defineScript(client, "effectUsersTokenBucket", tokenBucketScript)
  const run = <A>(name: string, f: () => Promise<A>) =>
    Effect.tryPromise({
      try: f,
      catch: (cause) => new RateLimiter.RateLimitStoreError({ message: `Redis: ${name} failed`, cause })
    })
  return RateLimiter.RateLimiterStore.of({
    fixedWindow: (options) =>
      run("fixed window", () =>
        client.effectUsersFixedWindow(
          `${prefix}${options.key}`,
          String(options.tokens),
          String(Duration.toMillis(options.refillRate)),
          options.limit === undefined ? "" : String(options.limit)
        )
      ).pipe(Effect.map(([count, ttl]) => [count, ttl] as const)),
    tokenBucket: (options) =>
      run("token bucket", () =>
        client.effectUsersTokenBucket(
          // On a cluster the bucket's two keys (`key`, `key:refill`) must share a slot: the key is its own hash tag.
          redis.cluster ? `{${prefix}${options.key}}` : `${prefix}${options.key}`,
          String(options.tokens),
          String(Math.max(1, Duration.toMillis(options.refillRate))),
          String(options.limit),
          options.allowOverflow ? "1" : "0"
        )
      )
  })
}

/**
 * `RateLimiter`'s store on the app's `Redis` client, keys under `{prefix}rl:`.
 *
 * @since 0.1.0
 */
export const layerRateLimiterStore = (options: Options = {}): Layer.Layer<RateLimiter.RateLimiterStore, never, Redis> =>
  Layer.effect(
    RateLimiter.RateLimiterStore,
    Effect.map(Redis, (redis) => makeRateLimiterStore(redis, `${options.prefix ?? defaultPrefix}rl:`))
  )

/**
 * The throttle with its counts in Redis, shared by every process using the same server and prefix.
 *
 * @since 0.1.0
 */
export const layer = (options: Throttle.Options & Options = {}): Layer.Layer<Throttle.Throttle, never, Redis> =>
  Throttle.layer(options).pipe(Layer.provide([layerRateLimiterStore(options), layerAccountStore(options)]))

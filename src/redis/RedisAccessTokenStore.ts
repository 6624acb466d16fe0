/**
 * `AccessTokenStore` on Redis, through the shared `Redis` client. Keys, under a prefix (default `effect-users:`):
 *
 * - `{prefix}token:{digest}`: a hash of the token (user ID, issue time), expiring `lifetime` after it was written;
 * - `{prefix}user:{userId}`: a sorted set of the user's digests scored by their expiry, so revoking or listing a
 *   user's sessions touches that user's keys only; expired members are dropped whenever it is written or read,
 *   and the set itself expires with the user's last token;
 * - `{prefix}issued`: every digest scored by its issue time, for `purgeExpired` (no `KEYS` or `SCAN`); each
 *   write also drops a few members whose token has expired, so it does not grow without a purge.
 *
 * Every operation that changes more than one key is one Lua script: atomic, and ordered with the others.
 * Time is Redis's own (`TIME`), the clock its expiries run on. Commands that fail die with a `RedisError`.
 */
import { createHash } from "node:crypto"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Redis as IORedis } from "ioredis"
import { AccessTokenStore, type AccessTokenStoreService, type StoredToken } from "../AccessTokenStore.js"
import { Redis } from "./Redis.js"

/** Options of the Redis store. */
export interface Options {
  /** Put before every key, so that several apps (or tests) share one Redis; default `effect-users:`. */
  readonly prefix?: string | undefined
  /** How long a token is kept after it was written: the strategy's token lifetime; default 1 hour. */
  readonly lifetime?: Duration.DurationInput | undefined
}

/** A Lua script run by its SHA-1, sent in full only when Redis does not know it yet (`NOSCRIPT`). */
const script = (lua: string) => {
  const sha = createHash("sha1").update(lua).digest("hex")
  return (keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) =>
    (client: IORedis): Promise<unknown> =>
      client
        .evalsha(sha, keys.length, ...keys, ...args)
        .catch((error: unknown) =>
          error instanceof Error && error.message.startsWith("NOSCRIPT")
            ? client.eval(lua, keys.length, ...keys, ...args)
            : Promise.reject(error)
        )
}

// Shared by the scripts: the current time in milliseconds on Redis's clock.
const now = `local t = redis.call("TIME") local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

// KEYS: token, user index, issued. ARGV: digest, userId, createdAt (ms), lifetime (ms), key prefix.
const writeScript = script(`${now}
local digest, lifetime, prefix = ARGV[1], tonumber(ARGV[4]), ARGV[5]
redis.call("HSET", KEYS[1], "user", ARGV[2], "created", ARGV[3])
redis.call("PEXPIRE", KEYS[1], lifetime)
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", now)
redis.call("ZADD", KEYS[2], now + lifetime, digest)
redis.call("PEXPIRE", KEYS[2], lifetime)
for _, stale in ipairs(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now - lifetime, "LIMIT", 0, 8)) do
  if redis.call("EXISTS", prefix .. "token:" .. stale) == 0 then redis.call("ZREM", KEYS[3], stale) end
end
redis.call("ZADD", KEYS[3], ARGV[3], digest)
`)

// KEYS: token, issued. ARGV: digest, key prefix. Returns 1 if the token was stored.
const deleteScript = script(`
local user = redis.call("HGET", KEYS[1], "user")
redis.call("ZREM", KEYS[2], ARGV[1])
if not user then return 0 end
redis.call("DEL", KEYS[1])
redis.call("ZREM", ARGV[2] .. "user:" .. user, ARGV[1])
return 1
`)

// KEYS: user index, issued. ARGV: key prefix. Returns how many stored tokens were deleted.
const deleteAllScript = script(`
local deleted = 0
for _, digest in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
  deleted = deleted + redis.call("DEL", ARGV[1] .. "token:" .. digest)
  redis.call("ZREM", KEYS[2], digest)
end
redis.call("DEL", KEYS[1])
return deleted
`)

// KEYS: issued. ARGV: cut-off (ms, exclusive), batch size, key prefix. Returns { deleted, seen }.
const purgeScript = script(`
local deleted = 0
local batch = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", "(" .. ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
for _, digest in ipairs(batch) do
  local key = ARGV[3] .. "token:" .. digest
  local user = redis.call("HGET", key, "user")
  if user then
    redis.call("DEL", key)
    redis.call("ZREM", ARGV[3] .. "user:" .. user, digest)
    deleted = deleted + 1
  end
  redis.call("ZREM", KEYS[1], digest)
end
return { deleted, #batch }
`)

const purgeBatchSize = 1000

/** Builds the store over the `Redis` client in context. */
export const make = (options: Options = {}): Effect.Effect<AccessTokenStoreService, never, Redis> =>
  Effect.map(Redis, (redis) => {
    const prefix = options.prefix ?? "effect-users:"
    const lifetime = Math.max(1, Math.round(Duration.toMillis(options.lifetime ?? "1 hour")))
    const keys = {
      token: (digest: string) => `${prefix}token:${digest}`,
      user: (userId: string) => `${prefix}user:${userId}`,
      issued: `${prefix}issued`
    }
    const parse = (fields: Record<string, string>): Option.Option<StoredToken> =>
      fields.user === undefined
        ? Option.none()
        : Option.some({ userId: fields.user, createdAt: new Date(Number(fields.created)) })
    const purge = (cutoff: number, deleted = 0): Effect.Effect<number> =>
      redis.use("purgeExpired", purgeScript([keys.issued], [cutoff, purgeBatchSize, prefix])).pipe(
        Effect.flatMap((reply) => {
          const [count, seen] = reply as [number, number]
          return seen < purgeBatchSize ? Effect.succeed(deleted + count) : purge(cutoff, deleted + count)
        })
      )
    return AccessTokenStore.of({
      write: (digest, token) =>
        redis
          .use(
            "write",
            writeScript(
              [keys.token(digest), keys.user(token.userId), keys.issued],
              [digest, token.userId, token.createdAt.getTime(), lifetime, prefix]
            )
          )
          .pipe(Effect.asVoid, Effect.withSpan("RedisAccessTokenStore.write")),
      read: (digest) =>
        redis
          .use("read", (client) => client.hgetall(keys.token(digest)))
          .pipe(Effect.map(parse), Effect.withSpan("RedisAccessTokenStore.read")),
      delete: (digest) =>
        redis
          .use("delete", deleteScript([keys.token(digest), keys.issued], [digest, prefix]))
          .pipe(Effect.asVoid, Effect.withSpan("RedisAccessTokenStore.delete")),
      deleteAllOf: (userId) =>
        redis.use("deleteAllOf", deleteAllScript([keys.user(userId), keys.issued], [prefix])).pipe(
          Effect.map((deleted) => Number(deleted)),
          Effect.withSpan("RedisAccessTokenStore.deleteAllOf")
        ),
      purgeExpired: (issuedBefore) =>
        purge(issuedBefore.getTime()).pipe(Effect.withSpan("RedisAccessTokenStore.purgeExpired"))
    })
  })

/** The store with the default prefix and a one-hour lifetime. */
export const layer: Layer.Layer<AccessTokenStore, never, Redis> = Layer.effect(AccessTokenStore, make())

/** The store with its options. */
export const layerWith = (options: Options): Layer.Layer<AccessTokenStore, never, Redis> =>
  Layer.effect(AccessTokenStore, make(options))

/** The store with options from configuration. */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<AccessTokenStore, ConfigError.ConfigError, Redis> =>
  Layer.effect(AccessTokenStore, Effect.flatMap(Config.unwrap(config), make))

/**
 * `AccessTokenStore` on Redis, through the shared `Redis` client. Keys, under a prefix (default `effect-users:`):
 *
 * - `{prefix}token:{digest}`: a hash of the token (user ID, issue and last-use times, session epoch, backend, user
 *   agent, login method, refresh-token family), expiring `lifetime` after it was written;
 * - `{prefix}user:{userId}`: a sorted set of the user's digests scored by their expiry, so revoking or listing a
 *   user's sessions touches that user's keys only; expired members are dropped whenever it is written or read,
 *   and the set itself expires with the user's last token;
 * - `{prefix}issued` and `{prefix}used`: every digest scored by its issue and its last-use time, for
 *   `purgeExpired` (no `KEYS` or `SCAN`); `{prefix}expiry` scores them by their key's expiry, so each write also
 *   drops the entries of a few expired tokens: the indexes do not grow without a purge;
 * - `{prefix}jti:{jti}`: a JWT's denied or kept record, expiring a minute after the JWT (or after its write, if
 *   later); `{prefix}jtis` orders them by the JWT's expiry for `purgeExpired`, `{prefix}jtiexpiry` by the
 *   record's, for the same clean-up as the tokens'.
 *
 * Every operation that changes more than one key is one Lua script: atomic, and ordered with the others.
 * Time is Redis's own (`TIME`), the clock its expiries run on. Commands that fail die with a `RedisError`, or with
 * `ServiceUnavailable` while Redis cannot serve (`Redis.use`).
 */
import { createHash } from "node:crypto"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Redis as IORedis } from "ioredis"
import {
  AccessTokenStore,
  type AccessTokenStoreService,
  type JtiMark,
  type StoredToken,
  storedToken
} from "../AccessTokenStore.js"
import { unwrap } from "../internal/config.js"
import { Redis } from "./Redis.js"

/**
 * Options of the Redis store.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Put before every key, so that several apps (or tests) share one Redis; default `effect-users:`. */
  readonly prefix?: string | undefined
  /** How long a token is kept after it was written: the strategy's token lifetime; default 1 hour. */
  readonly lifetime?: Duration.DurationInput | undefined
}

/** A Lua script run by its SHA-1, sent in full only when Redis does not know it yet (`NOSCRIPT`). */
const script = (body: string) => {
  const lua = `${prelude}\n${body}`
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

// Shared by the scripts; ARGV[1] is always the key prefix. `now` is Redis's clock in milliseconds. `drop` deletes
// a token and its index entries (1 if it was stored); `sweep` drops a few index entries of expired tokens.
const prelude = `
local prefix = ARGV[1]
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function drop(digest)
  local key = prefix .. "token:" .. digest
  local user = redis.call("HGET", key, "user")
  for _, index in ipairs({ "issued", "used", "expiry" }) do redis.call("ZREM", prefix .. index, digest) end
  if not user then return 0 end
  redis.call("DEL", key)
  redis.call("ZREM", prefix .. "user:" .. user, digest)
  return 1
end
local function sweep()
  for _, digest in ipairs(redis.call("ZRANGEBYSCORE", prefix .. "expiry", "-inf", now, "LIMIT", 0, 8)) do
    for _, index in ipairs({ "issued", "used", "expiry" }) do redis.call("ZREM", prefix .. index, digest) end
  end
end`

// KEYS: token, user index, issued, used, expiry. ARGV: prefix, digest, lifetime, createdAt, lastUsedAt, fields...
const writeScript = script(`
local digest, lifetime = ARGV[2], tonumber(ARGV[3])
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], unpack(ARGV, 6))
redis.call("PEXPIRE", KEYS[1], lifetime)
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", now)
redis.call("ZADD", KEYS[2], now + lifetime, digest)
-- The index lives as long as its longest-lived token (stores of other lifetimes may share it).
redis.call("PEXPIREAT", KEYS[2], redis.call("ZRANGE", KEYS[2], -1, -1, "WITHSCORES")[2])
sweep()
redis.call("ZADD", KEYS[3], ARGV[4], digest)
redis.call("ZADD", KEYS[4], ARGV[5], digest)
redis.call("ZADD", KEYS[5], now + lifetime, digest)
`)

// ARGV: prefix, digest.
const deleteScript = script(`return drop(ARGV[2])`)

// KEYS: user index. ARGV: prefix. Returns how many stored tokens were deleted.
const deleteAllScript = script(`
local deleted = 0
for _, digest in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do deleted = deleted + drop(digest) end
redis.call("DEL", KEYS[1])
return deleted
`)

// KEYS: user index. ARGV: prefix, family. Returns how many of the user's tokens of that family were deleted.
const deleteFamilyScript = script(`
local deleted = 0
for _, digest in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
  if redis.call("HGET", prefix .. "token:" .. digest, "family") == ARGV[2] then deleted = deleted + drop(digest) end
end
return deleted
`)

// ARGV: prefix, batch size, issued cut-off, idle cut-off, jti cut-off (ms, exclusive; "" for none).
// Returns { deleted, the largest batch seen }: a full batch means there may be more.
const purgeScript = script(`
local batch, deleted, seen = tonumber(ARGV[2]), 0, 0
local function oldest(index, cutoff)
  if cutoff == "" then return {} end
  local members = redis.call("ZRANGEBYSCORE", prefix .. index, "-inf", "(" .. cutoff, "LIMIT", 0, batch)
  if #members > seen then seen = #members end
  return members
end
for _, digest in ipairs(oldest("issued", ARGV[3])) do deleted = deleted + drop(digest) end
for _, digest in ipairs(oldest("used", ARGV[4])) do deleted = deleted + drop(digest) end
for _, jti in ipairs(oldest("jtis", ARGV[5])) do
  deleted = deleted + redis.call("DEL", prefix .. "jti:" .. jti)
  redis.call("ZREM", prefix .. "jtis", jti)
  redis.call("ZREM", prefix .. "jtiexpiry", jti)
end
return { deleted, seen }
`)

// KEYS: user index. ARGV: prefix. Returns { digest, { field, value, ... }, ... } of the live tokens.
const listScript = script(`
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
local found = {}
for _, digest in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
  local fields = redis.call("HGETALL", prefix .. "token:" .. digest)
  if #fields == 0 then
    redis.call("ZREM", KEYS[1], digest)
  else
    found[#found + 1] = digest
    found[#found + 1] = fields
  end
end
return found
`)

// KEYS: token, used. ARGV: prefix, digest, at (ms). Returns 1 if the token is stored.
const touchScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
redis.call("HSET", KEYS[1], "used", ARGV[3])
redis.call("ZADD", KEYS[2], ARGV[3], ARGV[2])
return 1
`)

// KEYS: token. ARGV: prefix, epoch. Returns 1 if the token is stored.
const setEpochScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
redis.call("HSET", KEYS[1], "epoch", ARGV[2])
return 1
`)

// KEYS: jti record, jtis, jti expiry. ARGV: prefix, jti, mark, epoch, expiresAt (ms), grace (ms). A denial is
// never undone. The record outlives the later of its JWT's expiry and now by the grace: found until purged.
const markJtiScript = script(`
local expires = math.max(tonumber(ARGV[5]), tonumber(redis.call("HGET", KEYS[1], "expires") or "0"))
if redis.call("HGET", KEYS[1], "mark") ~= "denied" then
  redis.call("HSET", KEYS[1], "mark", ARGV[3], "epoch", ARGV[4])
end
redis.call("HSET", KEYS[1], "expires", expires)
local gone = math.max(expires, now) + tonumber(ARGV[6])
redis.call("PEXPIREAT", KEYS[1], gone)
for _, jti in ipairs(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now, "LIMIT", 0, 8)) do
  redis.call("ZREM", KEYS[2], jti)
  redis.call("ZREM", KEYS[3], jti)
end
redis.call("ZADD", KEYS[2], expires, ARGV[2])
redis.call("ZADD", KEYS[3], gone, ARGV[2])
`)

const defaultBatchSize = 1000

// A jti record outlives its token's expiry by this much, so that clocks a little apart never drop a denial early
// (and a purge finds a record written for an already expired token).
const jtiGrace = 60_000

const fromFields = (fields: Record<string, string>): Option.Option<StoredToken> =>
  fields.user === undefined
    ? Option.none()
    : Option.some({
        userId: fields.user,
        createdAt: new Date(Number(fields.created)),
        epoch: Number(fields.epoch ?? 0),
        lastUsedAt: new Date(Number(fields.used ?? fields.created)),
        backend: fields.backend,
        userAgent: fields.agent,
        method: fields.method,
        family: fields.family,
        amr: fields.amr === undefined ? undefined : fields.amr.split(" ").filter((value) => value !== "")
      })

const pairs = (flat: ReadonlyArray<string>): Record<string, string> => {
  const record: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]!] = flat[i + 1]!
  return record
}

/**
 * Builds the store over the `Redis` client in context.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<AccessTokenStoreService, never, Redis> =>
  Effect.map(Redis, (redis) => {
    const prefix = options.prefix ?? "effect-users:"
    const lifetime = Math.max(1, Math.round(Duration.toMillis(options.lifetime ?? "1 hour")))
    const keys = {
      token: (digest: string) => `${prefix}token:${digest}`,
      user: (userId: string) => `${prefix}user:${userId}`,
      jti: (jti: string) => `${prefix}jti:${jti}`,
      issued: `${prefix}issued`,
      used: `${prefix}used`,
      expiry: `${prefix}expiry`,
      jtis: `${prefix}jtis`,
      jtiExpiry: `${prefix}jtiexpiry`
    }
    const asBoolean = (reply: unknown) => Number(reply) === 1
    const purge = (cutoffs: ReadonlyArray<string | number>, batch: number, deleted = 0): Effect.Effect<number> =>
      redis.use("purgeExpired", purgeScript([], [prefix, batch, ...cutoffs])).pipe(
        Effect.flatMap((reply) => {
          const [count, seen] = reply as [number, number]
          return seen < batch ? Effect.succeed(deleted + count) : purge(cutoffs, batch, deleted + count)
        })
      )
    return AccessTokenStore.of({
      write: (digest, token) => {
        const stored = storedToken(token)
        const fields = [
          ...["user", stored.userId, "created", stored.createdAt.getTime()],
          ...["epoch", stored.epoch, "used", stored.lastUsedAt.getTime()],
          ...(stored.backend === undefined ? [] : ["backend", stored.backend]),
          ...(stored.userAgent === undefined ? [] : ["agent", stored.userAgent]),
          ...(stored.method === undefined ? [] : ["method", stored.method]),
          ...(stored.family === undefined ? [] : ["family", stored.family]),
          ...(stored.amr === undefined ? [] : ["amr", stored.amr.join(" ")])
        ]
        return redis
          .use(
            "write",
            writeScript(
              [keys.token(digest), keys.user(stored.userId), keys.issued, keys.used, keys.expiry],
              [prefix, digest, lifetime, stored.createdAt.getTime(), stored.lastUsedAt.getTime(), ...fields]
            )
          )
          .pipe(Effect.asVoid, Effect.withSpan("RedisAccessTokenStore.write"))
      },
      read: (digest) =>
        redis
          .use("read", (client) => client.hgetall(keys.token(digest)))
          .pipe(Effect.map(fromFields), Effect.withSpan("RedisAccessTokenStore.read")),
      delete: (digest) =>
        redis
          .use("delete", deleteScript([], [prefix, digest]))
          .pipe(Effect.asVoid, Effect.withSpan("RedisAccessTokenStore.delete")),
      deleteAllOf: (userId) =>
        redis.use("deleteAllOf", deleteAllScript([keys.user(userId)], [prefix])).pipe(
          Effect.map((deleted) => Number(deleted)),
          Effect.withSpan("RedisAccessTokenStore.deleteAllOf")
        ),
      deleteFamily: (userId, family) =>
        redis.use("deleteFamily", deleteFamilyScript([keys.user(userId)], [prefix, family])).pipe(
          Effect.map((deleted) => Number(deleted)),
          Effect.withSpan("RedisAccessTokenStore.deleteFamily")
        ),
      purgeExpired: (issuedBefore, purgeOptions = {}) =>
        purge(
          [
            issuedBefore.getTime(),
            purgeOptions.idleBefore?.getTime() ?? "",
            purgeOptions.jtiExpiredBefore?.getTime() ?? ""
          ],
          Math.max(1, Math.floor(purgeOptions.batchSize ?? defaultBatchSize))
        ).pipe(Effect.withSpan("RedisAccessTokenStore.purgeExpired")),
      listOf: (userId) =>
        redis.use("listOf", listScript([keys.user(userId)], [prefix])).pipe(
          Effect.map((reply) => {
            const flat = reply as ReadonlyArray<string | ReadonlyArray<string>>
            const found: Array<readonly [string, StoredToken]> = []
            for (let i = 0; i + 1 < flat.length; i += 2) {
              const token = fromFields(pairs(flat[i + 1] as ReadonlyArray<string>))
              if (Option.isSome(token)) found.push([flat[i] as string, token.value])
            }
            return found
          }),
          Effect.withSpan("RedisAccessTokenStore.listOf")
        ),
      touch: (digest, at) =>
        redis
          .use("touch", touchScript([keys.token(digest), keys.used], [prefix, digest, at.getTime()]))
          .pipe(Effect.map(asBoolean), Effect.withSpan("RedisAccessTokenStore.touch")),
      setEpoch: (digest, epoch) =>
        redis
          .use("setEpoch", setEpochScript([keys.token(digest)], [prefix, epoch]))
          .pipe(Effect.map(asBoolean), Effect.withSpan("RedisAccessTokenStore.setEpoch")),
      markJti: (jti, mark, expiresAt) =>
        redis
          .use(
            "markJti",
            markJtiScript(
              [keys.jti(jti), keys.jtis, keys.jtiExpiry],
              [
                prefix,
                jti,
                mark._tag === "Denied" ? "denied" : "kept",
                mark._tag === "Kept" ? mark.epoch : 0,
                expiresAt.getTime(),
                jtiGrace
              ]
            )
          )
          .pipe(Effect.asVoid, Effect.withSpan("RedisAccessTokenStore.markJti")),
      readJti: (jti) =>
        redis
          .use("readJti", (client) => client.hmget(keys.jti(jti), "mark", "epoch"))
          .pipe(
            Effect.map(([mark, epoch]): Option.Option<JtiMark> => {
              if (mark === "denied") return Option.some({ _tag: "Denied" })
              if (mark === "kept") return Option.some({ _tag: "Kept", epoch: Number(epoch) })
              return Option.none()
            }),
            Effect.withSpan("RedisAccessTokenStore.readJti")
          )
    })
  })

/**
 * The store with its options; by default the `effect-users:` prefix and a one-hour lifetime.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<AccessTokenStore, never, Redis> =>
  Layer.effect(AccessTokenStore, make(options))

/**
 * The store with options from configuration.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<AccessTokenStore, ConfigError.ConfigError, Redis> =>
  Layer.effect(AccessTokenStore, Effect.flatMap(unwrap(config), make))

/**
 * `AccessTokenStore` on Redis, through the shared `Redis` client, in one of two key layouts. On a Redis Cluster the
 * store uses the sharded layout (see `docs/redis.md`): every key of a user's sessions carries the user's hash tag
 * `{u:<id>}`, a digest finds its user through `{prefix}owner:{digest}`, and the purge indexes and the JWT records are
 * spread over 256 hash-tagged buckets `{p:<n>}`, so that no script touches more than one slot. On one server (or
 * behind Sentinel) it keeps the layout below unless told otherwise. Keys, under a prefix (default `effect-users:`):
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
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import {
  AccessTokenStore,
  type AccessTokenStoreService,
  type JtiMark,
  type StoredToken,
  storedToken
} from "../AccessTokenStore.js"
import { unwrap } from "../internal/config.js"
import { type Client, Redis } from "./Redis.js"

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
  /**
   * The key layout: `"sharded"` (each user's keys in one slot, required on a Redis Cluster) or `"single"` (the
   * layout of 0.2, with global indexes); default `"sharded"` on a cluster client, `"single"` otherwise.
   *
   * @since 0.3.0
   */
  readonly layout?: "single" | "sharded" | undefined
  /**
   * How many replicas must acknowledge a revocation (logout, logging out everywhere, a family ended, a JWT denied)
   * before it counts (`WAIT`): Redis replicates asynchronously, so a failover can otherwise promote a replica that
   * never saw it. Default 1 on a cluster client, 0 otherwise (set it behind Sentinel). Fewer within
   * `replicationTimeout`: the revocation dies with `ServiceUnavailable` (503), applied on the master but not
   * known to survive a failover.
   *
   * @since 0.3.0
   */
  readonly replicas?: number | undefined
  /** How long a revocation waits for its replicas; default 500 ms. @since 0.3.0 */
  readonly replicationTimeout?: Duration.DurationInput | undefined
}

type Args = ReadonlyArray<string | number>

/** A Lua script, run by its SHA-1 and sent in full only when Redis does not know it yet (`NOSCRIPT`). */
interface Script {
  (keys: ReadonlyArray<string>, args: Args): (client: Client) => Promise<unknown>
  readonly lua: string
}

const luaScript = (lua: string): Script => {
  const sha = createHash("sha1").update(lua).digest("hex")
  const run = (keys: ReadonlyArray<string>, args: Args) => (client: Client) =>
    client
      .evalsha(sha, keys.length, ...keys, ...args)
      .catch((error: unknown) =>
        error instanceof Error && error.message.startsWith("NOSCRIPT")
          ? client.eval(lua, keys.length, ...keys, ...args)
          : Promise.reject(error)
      )
  return Object.assign(run, { lua })
}

const script = (body: string) => luaScript(`${prelude}\n${body}`)

/**
 * Runs `script` and then `WAIT replicas timeout` on the same connection (a pipeline: on a cluster, the node of the
 * script's keys); rejects with a `NOREPLICAS` error (an outage: 503) when fewer replicas acknowledged in time.
 */
const runReplicated =
  (script: Script, keys: ReadonlyArray<string>, args: Args, replicas: number, timeout: number) =>
  async (client: Client): Promise<unknown> => {
    if (replicas <= 0) return script(keys, args)(client)
    const replies = await client
      .pipeline()
      .eval(script.lua, keys.length, ...keys, ...args)
      .call("WAIT", replicas, timeout)
      .exec()
    const [[scriptError, result], [waitError, acknowledged]] = replies as [
      [Error | null, unknown],
      [Error | null, unknown]
    ]
    if (scriptError !== null) throw scriptError
    if (waitError !== null) throw waitError
    if (Number(acknowledged) < replicas) {
      throw new Error(`NOREPLICAS ${String(acknowledged)} of ${replicas} replicas acknowledged the revocation in time`)
    }
    return result
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

const makeSingle = (redis: Context.Tag.Service<Redis>, settings: Settings): AccessTokenStoreService => {
  const { prefix, lifetime, replicas, replicationTimeout } = settings
  const revoke = (operation: string, script: Script, keys: ReadonlyArray<string>, args: Args) =>
    redis.use(operation, runReplicated(script, keys, args, replicas, replicationTimeout))
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
      revoke("delete", deleteScript, [], [prefix, digest]).pipe(
        Effect.asVoid,
        Effect.withSpan("RedisAccessTokenStore.delete")
      ),
    deleteAllOf: (userId) =>
      revoke("deleteAllOf", deleteAllScript, [keys.user(userId)], [prefix]).pipe(
        Effect.map((deleted) => Number(deleted)),
        Effect.withSpan("RedisAccessTokenStore.deleteAllOf")
      ),
    deleteFamily: (userId, family) =>
      revoke("deleteFamily", deleteFamilyScript, [keys.user(userId)], [prefix, family]).pipe(
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
      revoke(
        "markJti",
        markJtiScript,
        [keys.jti(jti), keys.jtis, keys.jtiExpiry],
        [
          prefix,
          jti,
          mark._tag === "Denied" ? "denied" : "kept",
          mark._tag === "Kept" ? mark.epoch : 0,
          expiresAt.getTime(),
          jtiGrace
        ]
      ).pipe(Effect.asVoid, Effect.withSpan("RedisAccessTokenStore.markJti")),
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
}

// The sharded layout's scripts: each touches the keys of one slot only (a user's `{u:<id>}`, or a bucket's `{p:<n>}`).
const shardedPrelude = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

const sharded = (body: string) => luaScript(`${shardedPrelude}\n${body}`)

// KEYS: token, user index. ARGV: digest, lifetime, fields...
const userWriteScript = sharded(`
local digest, lifetime = ARGV[1], tonumber(ARGV[2])
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], unpack(ARGV, 3))
redis.call("PEXPIRE", KEYS[1], lifetime)
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", now)
redis.call("ZADD", KEYS[2], now + lifetime, digest)
redis.call("PEXPIREAT", KEYS[2], redis.call("ZRANGE", KEYS[2], -1, -1, "WITHSCORES")[2])
`)

// KEYS: a bucket's issued, used, expiry. ARGV: member, createdAt, lastUsedAt, lifetime. Also drops a few entries of
// expired tokens, so that the buckets do not grow without a purge.
const bucketWriteScript = sharded(`
for _, member in ipairs(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now, "LIMIT", 0, 8)) do
  for i = 1, 3 do redis.call("ZREM", KEYS[i], member) end
end
redis.call("ZADD", KEYS[1], ARGV[2], ARGV[1])
redis.call("ZADD", KEYS[2], ARGV[3], ARGV[1])
redis.call("ZADD", KEYS[3], now + tonumber(ARGV[4]), ARGV[1])
`)

// KEYS: token, user index. ARGV: digest. Returns 1 if the token was stored.
const userDropScript = sharded(`
local deleted = redis.call("DEL", KEYS[1])
redis.call("ZREM", KEYS[2], ARGV[1])
return deleted
`)

// KEYS: user index. ARGV: the user's token key prefix, family ("" for all). Returns the digests deleted.
const userDeleteScript = sharded(`
local deleted = {}
for _, digest in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
  local key = ARGV[1] .. digest
  if ARGV[2] == "" or redis.call("HGET", key, "family") == ARGV[2] then
    if redis.call("DEL", key) == 1 then deleted[#deleted + 1] = digest end
    redis.call("ZREM", KEYS[1], digest)
  end
end
return deleted
`)

// KEYS: user index. ARGV: the user's token key prefix. Returns { digest, { field, value, ... }, ... }.
const userListScript = sharded(`
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
local found = {}
for _, digest in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
  local fields = redis.call("HGETALL", ARGV[1] .. digest)
  if #fields == 0 then
    redis.call("ZREM", KEYS[1], digest)
  else
    found[#found + 1] = digest
    found[#found + 1] = fields
  end
end
return found
`)

// KEYS: token. ARGV: field, value. Returns 1 if the token is stored.
const userSetScript = sharded(`
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// KEYS: a bucket's issued, used, jtis, jti expiry. ARGV: batch size, issued cut-off, idle cut-off, jti cut-off (ms,
// exclusive; "" for none), the bucket's jti key prefix. Deletes the bucket's old jti records itself; returns
// { records deleted, the largest batch seen, the token entries to drop }.
const bucketPurgeScript = sharded(`
local batch, seen = tonumber(ARGV[1]), 0
local function oldest(key, cutoff)
  if cutoff == "" then return {} end
  local members = redis.call("ZRANGEBYSCORE", key, "-inf", "(" .. cutoff, "LIMIT", 0, batch)
  if #members > seen then seen = #members end
  return members
end
local tokens = oldest(KEYS[1], ARGV[2])
for _, member in ipairs(oldest(KEYS[2], ARGV[3])) do tokens[#tokens + 1] = member end
local records = 0
for _, jti in ipairs(oldest(KEYS[3], ARGV[4])) do
  records = records + redis.call("DEL", ARGV[5] .. jti)
  redis.call("ZREM", KEYS[3], jti)
  redis.call("ZREM", KEYS[4], jti)
end
return { records, seen, tokens }
`)

/** How many hash-tagged buckets hold the sharded layout's purge indexes and JWT records (fixed: keys name them). */
const buckets = 256

const bucketOf = (id: string) => createHash("sha1").update(id).digest().readUInt8(0) % buckets

const fieldsOf = (stored: StoredToken) => [
  ...["user", stored.userId, "created", stored.createdAt.getTime()],
  ...["epoch", stored.epoch, "used", stored.lastUsedAt.getTime()],
  ...(stored.backend === undefined ? [] : ["backend", stored.backend]),
  ...(stored.userAgent === undefined ? [] : ["agent", stored.userAgent]),
  ...(stored.method === undefined ? [] : ["method", stored.method]),
  ...(stored.family === undefined ? [] : ["family", stored.family]),
  ...(stored.amr === undefined ? [] : ["amr", stored.amr.join(" ")])
]

const listed = (reply: unknown) => {
  const flat = reply as ReadonlyArray<string | ReadonlyArray<string>>
  const found: Array<readonly [string, StoredToken]> = []
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const token = fromFields(pairs(flat[i + 1] as ReadonlyArray<string>))
    if (Option.isSome(token)) found.push([flat[i] as string, token.value])
  }
  return found
}

const jtiMarkOf = ([mark, epoch]: ReadonlyArray<string | null>): Option.Option<JtiMark> => {
  if (mark === "denied") return Option.some({ _tag: "Denied" })
  if (mark === "kept") return Option.some({ _tag: "Kept", epoch: Number(epoch) })
  return Option.none()
}

/**
 * The keys of the sharded layout (`shardedKeys`).
 *
 * @since 0.3.0
 */
export interface ShardedKeys {
  /** The prefix of every key of a user's (their hash tag). */
  readonly user: (userId: string) => string
  /** A stored token's hash. */
  readonly token: (userId: string, digest: string) => string
  /** The user's index of their tokens. */
  readonly tokens: (userId: string) => string
  /** Whose a token digest is (a cookie names its digest only). */
  readonly owner: (digest: string) => string
  /** The prefix of a purge bucket's keys (its hash tag). */
  readonly bucket: (n: number) => string
  /** The bucket a token's purge entries are in. */
  readonly tokenBucket: (digest: string) => string
  /** A JWT's deny-list record. */
  readonly jti: (jti: string) => string
  /** The bucket a JWT record is in. */
  readonly jtiBucket: (jti: string) => string
}

/**
 * The keys of the sharded layout under `prefix`: a user's token hashes and index share the user's hash tag; a
 * digest's owner is a key of its own; each bucket's purge indexes and JWT records share the bucket's tag.
 *
 * @since 0.3.0
 */
export const shardedKeys = (prefix: string): ShardedKeys => {
  const user = (userId: string) => `${prefix}{u:${userId}}:`
  const bucket = (n: number) => `${prefix}{p:${n}}:`
  return {
    user,
    token: (userId: string, digest: string) => `${user(userId)}token:${digest}`,
    tokens: (userId: string) => `${user(userId)}tokens`,
    owner: (digest: string) => `${prefix}owner:${digest}`,
    bucket,
    tokenBucket: (digest: string) => bucket(bucketOf(digest)),
    jti: (jti: string) => `${bucket(bucketOf(jti))}jti:${jti}`,
    jtiBucket: (jti: string) => bucket(bucketOf(jti))
  }
}

const makeSharded = (redis: Context.Tag.Service<Redis>, settings: Settings): AccessTokenStoreService => {
  const { prefix, lifetime, replicas, replicationTimeout } = settings
  const keys = shardedKeys(prefix)
  const revoke = (operation: string, script: Script, scriptKeys: ReadonlyArray<string>, args: Args) =>
    redis.use(operation, runReplicated(script, scriptKeys, args, replicas, replicationTimeout))
  const ownerOf = (operation: string, digest: string) =>
    redis.use(operation, (client) => client.get(keys.owner(digest)))
  // Best effort: a digest's owner key only leads to the user's keys, and expires with the token.
  const forgetOwners = (digests: ReadonlyArray<string>) =>
    digests.length === 0
      ? Effect.void
      : Effect.ignore(
          redis.use("forget owners", (client) => Promise.all(digests.map((digest) => client.del(keys.owner(digest)))))
        )
  const member = (digest: string, userId: string) => `${digest} ${userId}`
  const purgeBucket = (
    n: number,
    cutoffs: ReadonlyArray<string | number>,
    batch: number,
    deleted = 0
  ): Effect.Effect<number> => {
    const bucket = keys.bucket(n)
    const indexes = [`${bucket}issued`, `${bucket}used`, `${bucket}expiry`]
    return redis
      .use(
        "purgeExpired",
        bucketPurgeScript(
          [`${bucket}issued`, `${bucket}used`, `${bucket}jtis`, `${bucket}jtiexpiry`],
          [batch, ...cutoffs, `${bucket}jti:`]
        )
      )
      .pipe(
        Effect.flatMap((reply) => {
          const [records, seen, entries] = reply as [number, number, ReadonlyArray<string>]
          const unique = [...new Set(entries)]
          const drop = Effect.forEach(
            unique,
            (entry) => {
              const at = entry.indexOf(" ")
              const [digest, userId] = [entry.slice(0, at), entry.slice(at + 1)]
              return redis
                .use("purgeExpired", userDropScript([keys.token(userId, digest), keys.tokens(userId)], [digest]))
                .pipe(Effect.map((dropped) => [digest, Number(dropped)] as const))
            },
            { concurrency: 16 }
          )
          return Effect.flatMap(drop, (dropped) =>
            Effect.gen(function* () {
              if (unique.length > 0) {
                yield* redis.use("purgeExpired", (client) =>
                  Promise.all(indexes.map((index) => client.zrem(index, ...unique)))
                )
              }
              yield* forgetOwners(dropped.filter(([, count]) => count === 1).map(([digest]) => digest))
              const total = deleted + records + dropped.reduce((sum, [, count]) => sum + count, 0)
              return seen < batch ? total : yield* purgeBucket(n, cutoffs, batch, total)
            })
          )
        })
      )
  }
  return AccessTokenStore.of({
    write: (digest, token) => {
      const stored = storedToken(token)
      const bucket = keys.tokenBucket(digest)
      return redis
        .use("write", (client) =>
          Promise.all([
            userWriteScript(
              [keys.token(stored.userId, digest), keys.tokens(stored.userId)],
              [digest, lifetime, ...fieldsOf(stored)]
            )(client),
            client.set(keys.owner(digest), stored.userId, "PX", lifetime),
            bucketWriteScript(
              [`${bucket}issued`, `${bucket}used`, `${bucket}expiry`],
              [member(digest, stored.userId), stored.createdAt.getTime(), stored.lastUsedAt.getTime(), lifetime]
            )(client)
          ])
        )
        .pipe(Effect.asVoid, Effect.withSpan("RedisAccessTokenStore.write"))
    },
    read: (digest) =>
      Effect.gen(function* () {
        const owner = yield* ownerOf("read", digest)
        if (owner === null) return Option.none()
        const fields = yield* redis.use("read", (client) => client.hgetall(keys.token(owner, digest)))
        return Option.filter(fromFields(fields), (token) => token.userId === owner)
      }).pipe(Effect.withSpan("RedisAccessTokenStore.read")),
    delete: (digest) =>
      Effect.gen(function* () {
        const owner = yield* ownerOf("delete", digest)
        if (owner === null) return
        yield* revoke("delete", userDropScript, [keys.token(owner, digest), keys.tokens(owner)], [digest])
        yield* forgetOwners([digest])
      }).pipe(Effect.withSpan("RedisAccessTokenStore.delete")),
    deleteAllOf: (userId) =>
      revoke("deleteAllOf", userDeleteScript, [keys.tokens(userId)], [`${keys.user(userId)}token:`, ""]).pipe(
        Effect.tap((deleted) => forgetOwners(deleted as ReadonlyArray<string>)),
        Effect.map((deleted) => (deleted as ReadonlyArray<string>).length),
        Effect.withSpan("RedisAccessTokenStore.deleteAllOf")
      ),
    deleteFamily: (userId, family) =>
      revoke("deleteFamily", userDeleteScript, [keys.tokens(userId)], [`${keys.user(userId)}token:`, family]).pipe(
        Effect.tap((deleted) => forgetOwners(deleted as ReadonlyArray<string>)),
        Effect.map((deleted) => (deleted as ReadonlyArray<string>).length),
        Effect.withSpan("RedisAccessTokenStore.deleteFamily")
      ),
    purgeExpired: (issuedBefore, purgeOptions = {}) => {
      const cutoffs = [
        issuedBefore.getTime(),
        purgeOptions.idleBefore?.getTime() ?? "",
        purgeOptions.jtiExpiredBefore?.getTime() ?? ""
      ]
      const batch = Math.max(1, Math.floor(purgeOptions.batchSize ?? defaultBatchSize))
      return Effect.forEach(
        Array.from({ length: buckets }, (_, n) => n),
        (n) => purgeBucket(n, cutoffs, batch),
        { concurrency: 8 }
      ).pipe(
        Effect.map((counts) => counts.reduce((sum, count) => sum + count, 0)),
        Effect.withSpan("RedisAccessTokenStore.purgeExpired")
      )
    },
    listOf: (userId) =>
      redis
        .use("listOf", userListScript([keys.tokens(userId)], [`${keys.user(userId)}token:`]))
        .pipe(Effect.map(listed), Effect.withSpan("RedisAccessTokenStore.listOf")),
    touch: (digest, at) =>
      Effect.gen(function* () {
        const owner = yield* ownerOf("touch", digest)
        if (owner === null) return false
        const touched = yield* redis.use("touch", userSetScript([keys.token(owner, digest)], ["used", at.getTime()]))
        if (Number(touched) !== 1) return false
        // XX: never brings back the entry of a token purged meanwhile.
        yield* redis.use("touch", (client) =>
          client.zadd(`${keys.tokenBucket(digest)}used`, "XX", at.getTime(), member(digest, owner))
        )
        return true
      }).pipe(Effect.withSpan("RedisAccessTokenStore.touch")),
    setEpoch: (digest, epoch) =>
      Effect.gen(function* () {
        const owner = yield* ownerOf("setEpoch", digest)
        if (owner === null) return false
        const set = yield* redis.use("setEpoch", userSetScript([keys.token(owner, digest)], ["epoch", epoch]))
        return Number(set) === 1
      }).pipe(Effect.withSpan("RedisAccessTokenStore.setEpoch")),
    markJti: (jti, mark, expiresAt) => {
      const bucket = keys.jtiBucket(jti)
      const args = [
        prefix,
        jti,
        mark._tag === "Denied" ? "denied" : "kept",
        mark._tag === "Kept" ? mark.epoch : 0,
        expiresAt.getTime(),
        jtiGrace
      ]
      const scriptKeys = [keys.jti(jti), `${bucket}jtis`, `${bucket}jtiexpiry`]
      // Only a denial must survive a failover: a lost "kept" record ends a session, it never lets one in.
      return (
        mark._tag === "Denied"
          ? revoke("markJti", markJtiScript, scriptKeys, args)
          : redis.use("markJti", markJtiScript(scriptKeys, args))
      ).pipe(Effect.asVoid, Effect.withSpan("RedisAccessTokenStore.markJti"))
    },
    readJti: (jti) =>
      redis
        .use("readJti", (client) => client.hmget(keys.jti(jti), "mark", "epoch"))
        .pipe(Effect.map(jtiMarkOf), Effect.withSpan("RedisAccessTokenStore.readJti"))
  })
}

interface Settings {
  readonly prefix: string
  readonly lifetime: number
  readonly replicas: number
  readonly replicationTimeout: number
}

/**
 * Builds the store over the `Redis` client in context, in the layout of the options (by default the sharded one on
 * a Redis Cluster). Dies when asked for the single layout on a cluster, or for the sharded one under a prefix with
 * `{` or `}` (they would change the keys' hash tags).
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<AccessTokenStoreService, never, Redis> =>
  Effect.flatMap(Redis, (redis) => {
    const layout = options.layout ?? (redis.cluster ? "sharded" : "single")
    const settings: Settings = {
      prefix: options.prefix ?? "effect-users:",
      lifetime: Math.max(1, Math.round(Duration.toMillis(options.lifetime ?? "1 hour"))),
      replicas: Math.max(0, Math.floor(options.replicas ?? (redis.cluster ? 1 : 0))),
      replicationTimeout: Math.max(1, Math.round(Duration.toMillis(options.replicationTimeout ?? "500 millis")))
    }
    if (layout === "single" && redis.cluster) {
      return Effect.dieMessage("RedisAccessTokenStore: the single layout cannot run on a Redis Cluster")
    }
    if (layout === "sharded" && /[{}]/.test(settings.prefix)) {
      return Effect.dieMessage("RedisAccessTokenStore: a sharded store's prefix cannot hold { or }")
    }
    return Effect.succeed(layout === "sharded" ? makeSharded(redis, settings) : makeSingle(redis, settings))
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

/**
 * One ioredis client for everything an app keeps in Redis (`RedisAccessTokenStore`, rate limits), connected
 * when the layer is built and closed with it: a single server (`layer`, also behind Sentinel through ioredis's
 * `sentinels` option) or a Redis Cluster (`layerCluster`). Built to fail fast: no offline queue, no retried
 * commands and a command timeout, so while Redis is down every command dies at once with `ServiceUnavailable`
 * (`RedisUnavailable` tells the outage apart), which the HTTP edge answers with 503 and `Retry-After`; the client
 * reconnects by itself in the background.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import {
  Cluster as IOCluster,
  type ClusterOptions as IOClusterOptions,
  Redis as IORedis,
  type RedisOptions
} from "ioredis"
import * as Unavailable from "../Unavailable.js"
import * as RedisUnavailable from "./RedisUnavailable.js"

/**
 * A Redis command or connection failed. A command dies with it (a defect the edge answers with 500), or with
 * `ServiceUnavailable` naming it when Redis is down, stalled or overloaded (503).
 *
 * @since 0.1.0
 */
export class RedisError extends Schema.TaggedError<RedisError>()("RedisError", {
  /** What was attempted, for operators' logs (never keys or values). */
  message: Schema.String,
  cause: Schema.Defect
}) {}

/**
 * An ioredis client: one server's (`Redis`) or a cluster's (`Cluster`); both take the same commands.
 *
 * @since 0.3.0
 */
export type Client = IORedis | IOCluster

/**
 * The connected client.
 *
 * @since 0.1.0
 */
export interface RedisService {
  /** The ioredis client; prefer `use`, which turns failures into `RedisError` defects. */
  readonly client: Client
  /**
   * Whether the client is a Redis Cluster's: stores then keep each user's keys under the user's hash tag (one slot)
   * and wait for a replica to acknowledge their revocations.
   *
   * @since 0.3.0
   */
  readonly cluster: boolean
  /**
   * The ioredis options the client was made with (URL parsed, fail-fast settings applied; on a cluster, each
   * node's), for a library that makes its own client of the same server (e.g. `RateLimiter/Redis.layerStore` of
   * `@effect/experimental`). They hold the URL's password in plain text: never log them.
   */
  readonly options: RedisOptions
  /**
   * Runs commands on the client; a rejection dies with a `RedisError` naming `operation`, or with
   * `ServiceUnavailable` when it means that Redis cannot serve now.
   */
  readonly use: <A>(operation: string, f: (client: Client) => Promise<A>) => Effect.Effect<A>
}

/**
 * The app's Redis client.
 *
 * @since 0.1.0
 */
export class Redis extends Context.Tag("effect-users/Redis")<Redis, RedisService>() {}

/**
 * How to reach Redis and how long to wait for it.
 *
 * @since 0.1.0
 */
export interface Options {
  /** `redis://[[user]:password@]host:port[/db]` (or `rediss://` for TLS): Redacted, it may hold a password. */
  readonly url: Redacted.Redacted<string>
  /** The longest a command may take before it dies; default 2 seconds. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** The longest a connection attempt may take; default 2 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The longest wait between reconnection attempts while Redis is down; default 1 second. */
  readonly maxReconnectDelay?: Duration.DurationInput | undefined
  /**
   * More ioredis options, applied under the fail-fast ones: e.g. `{ sentinels: [{ host, port }], name: "mymaster" }`
   * to find the master through Redis Sentinel (the URL then gives only the password and database).
   *
   * @since 0.3.0
   */
  readonly redisOptions?: RedisOptions | undefined
}

const orDie = Unavailable.orDieWith(RedisUnavailable.isUnavailable)

const millis = (input: Duration.DurationInput | undefined, fallback: Duration.DurationInput) =>
  Math.max(1, Math.round(Duration.toMillis(input ?? fallback)))

/**
 * The ioredis options of `options`: the URL's settings plus the fail-fast ones; throws on a URL that does not parse.
 *
 * @since 0.1.0
 */
export const redisOptions = (options: Options): RedisOptions => {
  const maxDelay = millis(options.maxReconnectDelay, "1 second")
  // Parsing the URL ourselves (instead of `new Redis(url)`) gives other libraries one plain options object.
  const url = new URL(Redacted.value(options.url))
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0
  return {
    ...options.redisOptions,
    host: url.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: url.port === "" ? 6379 : Number(url.port),
    ...(url.username === "" ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === "" ? {} : { password: decodeURIComponent(url.password) }),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
    ...(url.protocol === "rediss:" ? { tls: { servername: url.hostname } } : {}),
    ...failFast(options),
    retryStrategy: (attempt) => Math.min(attempt * 100, maxDelay)
  }
}

const failFast = (options: Pick<Options, "commandTimeout" | "connectTimeout">) =>
  ({
    // Fail fast while Redis is away: a request gets its 503 now rather than a queued command later.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: millis(options.commandTimeout, "2 seconds"),
    connectTimeout: millis(options.connectTimeout, "2 seconds")
  }) satisfies RedisOptions

/**
 * Connects a client and closes it (`QUIT`) when the scope closes. Fails with a `RedisError` when Redis cannot
 * be reached at start; connection losses later are logged once each (and their recovery), never thrown.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<RedisService, RedisError, Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const log = (effect: Effect.Effect<void>) => void Runtime.runFork(runtime)(effect)
    // Not the parser's error as the cause: it carries the input, password included.
    const settings = yield* Effect.try({
      try: () => redisOptions(options),
      catch: () => new RedisError({ message: "Redis: the URL does not parse", cause: "invalid URL" })
    })
    let ready = false
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new IORedis({ ...settings, lazyConnect: true })),
      (client) =>
        Effect.suspend(() => {
          ready = false
          return client.status === "ready"
            ? Effect.promise(() => client.quit().catch(() => client.disconnect()))
            : Effect.sync(() => client.disconnect())
        })
    )
    // Errors reach the commands that meet them; the listener keeps ioredis from printing each reconnection
    // attempt's error. An outage is logged once when the connection closes, and once when it is back.
    let lastError = ""
    let lost = false
    client.on("error", (error: Error) => {
      lastError = error.message
    })
    client.on("close", () => {
      if (!ready) return
      ready = false
      lost = true
      log(Effect.logWarning(`Redis connection lost, reconnecting${lastError === "" ? "" : `: ${lastError}`}`))
    })
    client.on("ready", () => {
      ready = true
      lastError = ""
      if (!lost) return
      lost = false
      log(Effect.logInfo("Redis connection restored"))
    })
    yield* Effect.tryPromise({
      try: () => client.connect(),
      catch: (cause) => new RedisError({ message: "Redis: cannot connect", cause })
    })
    return Redis.of({
      client,
      cluster: false,
      options: settings,
      use: (operation, f) =>
        Effect.tryPromise({
          try: () => f(client),
          catch: (cause) => new RedisError({ message: `Redis: ${operation} failed`, cause })
        }).pipe(orDie)
    })
  })

/**
 * The client of `options`, scoped to the layer.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Redis, RedisError> => Layer.scoped(Redis, make(options))

/**
 * The client from configuration; by default the URL is `REDIS_URL`.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  // ioredis's own options are code, not configuration: pass them to `layer`.
  config: Config.Config.Wrap<Omit<Options, "redisOptions">> = { url: Config.redacted("REDIS_URL") }
): Layer.Layer<Redis, RedisError | ConfigError.ConfigError> =>
  Layer.scoped(Redis, Effect.flatMap(Config.unwrap(config), make))

/**
 * How to reach a Redis Cluster and how long to wait for it.
 *
 * @since 0.3.0
 */
export interface ClusterOptions {
  /** Some of the cluster's nodes as `host:port` (one that answers is enough: the client learns the others). */
  readonly nodes: ReadonlyArray<string>
  /** The nodes' password (`requirepass` / ACL), if any. */
  readonly password?: Redacted.Redacted<string> | undefined
  /** The ACL user, if not `default`. */
  readonly username?: string | undefined
  /** Connect with TLS. */
  readonly tls?: boolean | undefined
  /** The longest a command may take on a node before it dies; default 2 seconds. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** The longest a connection attempt may take; default 2 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The longest wait between reconnection attempts while no node answers; default 1 second. */
  readonly maxReconnectDelay?: Duration.DurationInput | undefined
  /** More options of ioredis's `Cluster` (e.g. `natMap`), applied under the fail-fast ones. */
  readonly clusterOptions?: IOClusterOptions | undefined
}

const nodeAddress = (node: string) => {
  const at = node.lastIndexOf(":")
  const host = (at < 0 ? node : node.slice(0, at)).trim().replace(/^\[|\]$/g, "")
  const port = at < 0 ? 6379 : Number(node.slice(at + 1))
  if (host === "" || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error("invalid node")
  return { host, port }
}

/**
 * The ioredis `Cluster` options of `options` (each node's options, fail-fast settings applied) and its startup
 * nodes; throws on a node that is not `host:port`.
 *
 * @since 0.3.0
 */
export const clusterOptions = (
  options: ClusterOptions
): { readonly nodes: ReadonlyArray<{ host: string; port: number }>; readonly options: IOClusterOptions } => {
  const nodes = options.nodes.filter((node) => node.trim() !== "").map(nodeAddress)
  if (nodes.length === 0) throw new Error("no nodes")
  const maxDelay = millis(options.maxReconnectDelay, "1 second")
  return {
    nodes,
    options: {
      ...options.clusterOptions,
      enableOfflineQueue: false,
      enableReadyCheck: true,
      // A command meeting a node that is gone is retried a few times, 100 ms apart, while the client learns the new
      // topology (a replica promoted): it succeeds, or dies within about a second.
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      maxRedirections: 8,
      slotsRefreshTimeout: millis(options.connectTimeout, "2 seconds"),
      clusterRetryStrategy: (attempt) => Math.min(attempt * 100, maxDelay),
      redisOptions: {
        ...options.clusterOptions?.redisOptions,
        ...(options.username === undefined ? {} : { username: options.username }),
        ...(options.password === undefined ? {} : { password: Redacted.value(options.password) }),
        ...(options.tls === true ? { tls: {} } : {}),
        ...failFast(options)
      }
    }
  }
}

/** Keeps ioredis from printing errors, logs an outage once when it starts and once when it ends. */
const watch = (log: (effect: Effect.Effect<void>) => void, name: string) => {
  let lastError = ""
  let lost = false
  const lose = (reason: string) => {
    if (lost) return
    lost = true
    log(Effect.logWarning(`${name} connection lost, reconnecting${reason === "" ? "" : `: ${reason}`}`))
  }
  const restore = () => {
    lastError = ""
    if (!lost) return
    lost = false
    log(Effect.logInfo(`${name} connection restored`))
  }
  const error = (error: Error) => {
    lastError = error.message
  }
  return { lose, restore, error, lastError: () => lastError }
}

/**
 * Connects a Redis Cluster client and closes it when the scope closes. Fails with a `RedisError` when no node can be
 * reached at start. A node lost later (a master that crashed, until its replica is promoted) is logged once, and
 * once more when every slot is served again; meanwhile the commands for its slots die with `ServiceUnavailable`.
 *
 * @since 0.3.0
 */
export const makeCluster = (options: ClusterOptions): Effect.Effect<RedisService, RedisError, Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const log = (effect: Effect.Effect<void>) => void Runtime.runFork(runtime)(effect)
    const settings = yield* Effect.try({
      try: () => clusterOptions(options),
      catch: () => new RedisError({ message: "Redis: a cluster node is not host:port", cause: "invalid node" })
    })
    let [closing, connected] = [false, false]
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new IOCluster([...settings.nodes], { ...settings.options, lazyConnect: true })),
      (client) =>
        Effect.suspend(() => {
          closing = true
          return client.status === "ready"
            ? Effect.promise(() => client.quit().catch(() => client.disconnect()))
            : Effect.sync(() => client.disconnect())
        })
    )
    const outage = watch(log, "Redis Cluster")
    // Masters that failed since the cluster was last whole: it is whole again once no slot is served by one of them.
    const failed = new Set<string>()
    const masterOf = (slot: number): string | undefined => (client.slots[slot] as Array<string> | undefined)?.[0]
    const whole = () => {
      for (let slot = 0; slot < 16384; slot++) {
        const master = masterOf(slot)
        if (master === undefined || failed.has(master)) return false
      }
      return true
    }
    const nodeLost = (key: string, reason: string) => {
      if (closing) return
      const serving = client.slots.some((keys) => (keys as Array<string> | undefined)?.[0] === key)
      if (!serving) return
      failed.add(key)
      outage.lose(`${key}${reason === "" ? "" : ` (${reason})`}`)
    }
    client.on("error", (error: Error) => outage.error(error))
    client.on("node error", (error: Error, key: string) => nodeLost(key, error.message))
    client.on("-node", (node: IORedis) => nodeLost(`${node.options.host}:${node.options.port}`, ""))
    client.on("close", () => {
      if (connected && !closing) outage.lose(outage.lastError())
    })
    client.on("refresh", () => {
      if (whole()) {
        failed.clear()
        outage.restore()
      }
    })
    client.on("ready", () => {
      connected = true
      if (whole()) {
        failed.clear()
        outage.restore()
      }
    })
    yield* Effect.tryPromise({
      try: () => client.connect(),
      catch: (cause) => new RedisError({ message: "Redis: cannot connect to the cluster", cause })
    })
    return Redis.of({
      client,
      cluster: true,
      options: settings.options.redisOptions ?? {},
      use: (operation, f) =>
        Effect.tryPromise({
          try: () => f(client),
          catch: (cause) => new RedisError({ message: `Redis: ${operation} failed`, cause })
        }).pipe(orDie)
    })
  })

/**
 * A Redis Cluster client of `options`, scoped to the layer; the stores on it keep each user's keys in one slot.
 *
 * @since 0.3.0
 */
export const layerCluster = (options: ClusterOptions): Layer.Layer<Redis, RedisError> =>
  Layer.scoped(Redis, makeCluster(options))

/**
 * A Redis Cluster client from configuration; by default the nodes are `REDIS_CLUSTER_NODES` (`host:port,...`).
 *
 * @since 0.3.0
 */
export const layerClusterConfig = (
  config: Config.Config.Wrap<ClusterOptions> = { nodes: Config.array(Config.string(), "REDIS_CLUSTER_NODES") }
): Layer.Layer<Redis, RedisError | ConfigError.ConfigError> =>
  Layer.scoped(Redis, Effect.flatMap(Config.unwrap(config), makeCluster))

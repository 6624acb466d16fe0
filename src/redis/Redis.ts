/**
 * One ioredis client for everything an app keeps in Redis (`RedisAccessTokenStore`, rate limits), connected
 * when the layer is built and closed with it. Built to fail fast: no offline queue, no retried commands and a
 * command timeout, so while Redis is down every command dies at once with `ServiceUnavailable` (`RedisUnavailable`
 * tells the outage apart), which the HTTP edge answers with 503 and `Retry-After`; the client reconnects by itself
 * in the background.
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
import { Redis as IORedis, type RedisOptions } from "ioredis"
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
 * The connected client.
 *
 * @since 0.1.0
 */
export interface RedisService {
  /** The ioredis client; prefer `use`, which turns failures into `RedisError` defects. */
  readonly client: IORedis
  /**
   * The ioredis options the client was made with (URL parsed, fail-fast settings applied), for a library that
   * makes its own client of the same server (e.g. `RateLimiter/Redis.layerStore` of `@effect/experimental`).
   * They hold the URL's password in plain text: never log them.
   */
  readonly options: RedisOptions
  /**
   * Runs commands on the client; a rejection dies with a `RedisError` naming `operation`, or with
   * `ServiceUnavailable` when it means that Redis cannot serve now.
   */
  readonly use: <A>(operation: string, f: (client: IORedis) => Promise<A>) => Effect.Effect<A>
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
    host: url.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: url.port === "" ? 6379 : Number(url.port),
    ...(url.username === "" ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === "" ? {} : { password: decodeURIComponent(url.password) }),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
    ...(url.protocol === "rediss:" ? { tls: { servername: url.hostname } } : {}),
    // Fail fast while Redis is away: a request gets its 503 now rather than a queued command later.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: millis(options.commandTimeout, "2 seconds"),
    connectTimeout: millis(options.connectTimeout, "2 seconds"),
    retryStrategy: (attempt) => Math.min(attempt * 100, maxDelay)
  }
}

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
  config: Config.Config.Wrap<Options> = { url: Config.redacted("REDIS_URL") }
): Layer.Layer<Redis, RedisError | ConfigError.ConfigError> =>
  Layer.scoped(Redis, Effect.flatMap(Config.unwrap(config), make))

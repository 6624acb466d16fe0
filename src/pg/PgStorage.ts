/**
 * `@effect/sql-pg`'s `PgClient` with every query bounded in time. `PgClient.layer` passes no query timeout to
 * `pg`, so a database that stops answering on open connections (stalled, or cut off by a network partition
 * without a reset) holds each request until the kernel gives up on the socket, minutes later. Here `pg`'s
 * own `query_timeout` fails such a query after `queryTimeout` with an `SqlError` that `PgUnavailable` (and so
 * the SQL adapters, which die with `ServiceUnavailable`: a 503 at the HTTP edge) reads as an outage, the
 * connection it was sent on is dropped (not handed to the next request), and the pool makes new ones once the
 * server answers again.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import pg from "pg"
import * as PgUnavailable from "./PgUnavailable.js"

/**
 * `PgClient`'s options, plus the bound on every query.
 *
 * @since 0.1.0
 */
export interface Options extends PgClient.PgClientConfig {
  /**
   * The longest the client waits for the answer to one query before it fails it (an `SqlError` that
   * `PgUnavailable` reads as an outage) and drops its connection; default 5 seconds. It bounds migrations too.
   */
  readonly queryTimeout?: Duration.DurationInput | undefined
}

/**
 * The default `queryTimeout`.
 *
 * @since 0.1.0
 */
export const defaultQueryTimeout: Duration.Duration = Duration.seconds(5)

/**
 * The default `connectTimeout`: how long a request waits for a connection (a free one, or a new one).
 *
 * @since 0.1.0
 */
export const defaultConnectTimeout: Duration.Duration = Duration.seconds(5)

/**
 * The message of `pg`'s `query_timeout` error.
 *
 * @since 0.1.0
 */
export const queryTimeoutMessage = PgUnavailable.queryTimeoutMessage

const isQueryTimeout = (error: unknown) => error instanceof Error && error.message === queryTimeoutMessage

// pg's `query_timeout` fails the query but leaves it on the wire: the connection goes back to the pool, and
// the next query sent on it waits behind the lost one. Ending the client while it still holds that query
// closes its socket at once and marks it ended, so the pool (which checks that on release) drops it.
class BoundedClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: pg's `query` has a dozen overloads; only the callback is wrapped
  override query(...args: Array<any>): any {
    const last = args.length - 1
    const callback = args[last]
    if (typeof callback === "function") {
      args[last] = (error: unknown, result: unknown) => {
        if (isQueryTimeout(error)) this.end().catch(() => undefined)
        return callback(error, result)
      }
    }
    return Reflect.apply(pg.Client.prototype.query, this, args)
  }
}

const millis = (input: Duration.DurationInput) => Math.max(1, Math.round(Duration.toMillis(input)))

/**
 * A `pg` pool whose queries are bounded by `queryTimeout`, checked with `SELECT 1`, ended with the scope.
 *
 * @since 0.1.0
 */
export const makePool = (options: Options): Effect.Effect<pg.Pool, SqlError, Scope.Scope> => {
  const connectTimeout = options.connectTimeout ?? defaultConnectTimeout
  return Effect.acquireRelease(
    Effect.sync(() => {
      const pool = new pg.Pool({
        Client: BoundedClient,
        connectionString: options.url === undefined ? undefined : Redacted.value(options.url),
        user: options.username,
        host: options.host,
        database: options.database,
        password: options.password === undefined ? undefined : Redacted.value(options.password),
        ssl: options.ssl,
        port: options.port,
        ...(options.stream === undefined ? {} : { stream: options.stream }),
        connectionTimeoutMillis: millis(connectTimeout),
        query_timeout: millis(options.queryTimeout ?? defaultQueryTimeout),
        idleTimeoutMillis: options.idleTimeout === undefined ? undefined : millis(options.idleTimeout),
        max: options.maxConnections,
        min: options.minConnections,
        maxLifetimeSeconds: options.connectionTTL === undefined ? undefined : Duration.toSeconds(options.connectionTTL),
        application_name: options.applicationName ?? "effect-users",
        types: options.types
      })
      // Idle clients that lose their connection are removed by the pool; the error reaches no request.
      pool.on("error", () => undefined)
      return pool
    }),
    (pool) => Effect.promise(() => pool.end()).pipe(Effect.interruptible, Effect.timeoutOption(1000))
  ).pipe(
    Effect.tap((pool) =>
      Effect.tryPromise({
        try: () => pool.query("SELECT 1"),
        catch: (cause) => new SqlError({ cause, message: "PgStorage: Failed to connect" })
      })
    )
  )
}

/**
 * The client of `options` as `PgClient` and `SqlClient`; fails with an `SqlError` when it cannot connect at start.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> =>
  PgClient.layerFromPool({
    acquire: makePool(options),
    applicationName: options.applicationName,
    spanAttributes: options.spanAttributes,
    transformResultNames: options.transformResultNames,
    transformQueryNames: options.transformQueryNames,
    transformJson: options.transformJson,
    types: options.types
  })

/**
 * `layer` from configuration, e.g. `{ url: Config.redacted("DATABASE_URL"), queryTimeout: Config.duration(...) }`.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

/**
 * Where the example app keeps its users (give `npm run users -- <command>` the same with `--database-url`): an
 * SQLite file (`effect-users.db`, or SQLITE_FILE) by default, PostgreSQL when DATABASE_URL is set (every query bounded by
 * DATABASE_QUERY_TIMEOUT, a connection waited for at most DATABASE_CONNECT_TIMEOUT; both 5 seconds by default).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { devSecrets, optionalDevSecrets } from "./devSecrets.js"

/** The environment first; the development secrets only fill what is missing. */
export const configProvider = ConfigProvider.fromEnv().pipe(
  ConfigProvider.orElse(() => ConfigProvider.fromMap(new Map(Object.entries({ ...devSecrets, ...optionalDevSecrets }))))
)

/** The SQL client chosen by DATABASE_URL and SQLITE_FILE. */
export const Database = Layer.unwrapEffect(
  Effect.gen(function* (): Effect.fn.Return<Layer.Layer<SqlClient.SqlClient, unknown>, ConfigError.ConfigError> {
    const url = yield* Config.option(Config.redacted("DATABASE_URL"))
    if (Option.isSome(url) && Redacted.value(url.value) !== "") {
      yield* Effect.log("Storage: PostgreSQL (DATABASE_URL)")
      // Only the chosen driver is loaded.
      const { PgStorage } = yield* Effect.promise(() => import("effect-users/pg"))
      // A stalled database (or a network partition) answers no query: every request must get its 503 in time
      // instead. A connection is waited for at most `connectTimeout` (pg's pool waits without limit by default),
      // an answer at most `queryTimeout` (PgClient.layer sets none).
      const timeouts = yield* Config.all({
        queryTimeout: Config.duration("DATABASE_QUERY_TIMEOUT").pipe(Config.withDefault(PgStorage.defaultQueryTimeout)),
        connectTimeout: Config.duration("DATABASE_CONNECT_TIMEOUT").pipe(
          Config.withDefault(PgStorage.defaultConnectTimeout)
        )
      })
      return PgStorage.layer({ url: url.value, ...timeouts })
    }
    const filename = yield* Config.string("SQLITE_FILE").pipe(Config.withDefault("effect-users.db"))
    yield* Effect.log(`Storage: SQLite file ${filename}`)
    const SqliteClient = yield* Effect.promise(() => import("@effect/sql-sqlite-node/SqliteClient"))
    return SqliteClient.layer({ filename })
  })
)

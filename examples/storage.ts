/**
 * Where the example app keeps its users, shared by `npm start` and `npm run users`: an SQLite file
 * (`effect-users.db`, or SQLITE_FILE) by default, PostgreSQL when DATABASE_URL is set; and the cookie
 * sessions: in Redis when REDIS_URL is set (keys under REDIS_KEY_PREFIX), else beside the users.
 */
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Config, type ConfigError, ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { type AccessTokenStore, SqlAccessTokenStore } from "effect-users"
import { Redis, RedisAccessTokenStore } from "effect-users/redis"
import { sessionLifetime } from "./app.js"
import { devSecrets } from "./devSecrets.js"

/** The environment first; the development secrets only fill what is missing. */
export const configProvider = ConfigProvider.fromEnv().pipe(
  ConfigProvider.orElse(() => ConfigProvider.fromMap(new Map(Object.entries(devSecrets))))
)

/** The SQL client chosen by DATABASE_URL and SQLITE_FILE. */
export const Database = Layer.unwrapEffect(
  Effect.gen(function* (): Effect.fn.Return<Layer.Layer<SqlClient.SqlClient, unknown>, ConfigError.ConfigError> {
    const url = yield* Config.option(Config.redacted("DATABASE_URL"))
    if (Option.isSome(url) && Redacted.value(url.value) !== "") {
      yield* Effect.log("Storage: PostgreSQL (DATABASE_URL)")
      // pg's pool waits for a free connection without limit by default: a request must get its 503 instead.
      return PgClient.layer({ url: url.value, connectTimeout: "5 seconds" })
    }
    const filename = yield* Config.string("SQLITE_FILE").pipe(Config.withDefault("effect-users.db"))
    yield* Effect.log(`Storage: SQLite file ${filename}`)
    return SqliteClient.layer({ filename })
  })
)

/** The cookie backend's token store: Redis when REDIS_URL is set, else the SQL client's `accesstoken` table. */
export const TokenStore = Layer.unwrapEffect(
  Effect.gen(function* (): Effect.fn.Return<
    Layer.Layer<AccessTokenStore.AccessTokenStore, unknown, SqlClient.SqlClient>,
    ConfigError.ConfigError
  > {
    const url = yield* Config.option(Config.redacted("REDIS_URL"))
    if (Option.isNone(url) || Redacted.value(url.value) === "") return SqlAccessTokenStore.layer
    const prefix = yield* Config.string("REDIS_KEY_PREFIX").pipe(Config.withDefault("effect-users:"))
    yield* Effect.log(`Sessions: Redis (REDIS_URL), keys under ${prefix}`)
    return RedisAccessTokenStore.layerWith({ prefix, lifetime: sessionLifetime }).pipe(
      Layer.provide(Redis.layer({ url: url.value }))
    )
  })
)

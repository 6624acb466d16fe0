/**
 * `OAuthStateStore` over `@effect/sql`: the `oauth_state` table (`state` primary key, `expires_at` in epoch
 * milliseconds) that `Migrations` creates. The primary key decides which of concurrent spends wins.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { unwrap } from "../internal/config.js"
import { OAuthStateStore, type OAuthStateStoreService } from "../OAuthStateStore.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/**
 * Options of the SQL store.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The table; default `oauth_state` (`Migrations`' `oauthStateTable`). */
  readonly table?: string | undefined
}

/**
 * Builds the store over the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<OAuthStateStoreService, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (client) => {
    const sql = client.withoutTransforms()
    const table = sql(options.table ?? "oauth_state")
    return {
      spend: (state, expiresAt) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          yield* sql`DELETE FROM ${table} WHERE expires_at < ${now}`
          const rows = yield* sql`INSERT INTO ${table} (state, expires_at) VALUES (${state}, ${expiresAt})
            ON CONFLICT (state) DO NOTHING RETURNING state`
          return rows.length === 1
        }).pipe(SqlUnavailable.orDie, Effect.withSpan("SqlOAuthStateStore.spend", { captureStackTrace: false }))
    }
  })

/**
 * `OAuthStateStore` over the `SqlClient` in context, on the `oauth_state` table or the one the options name.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<OAuthStateStore, never, SqlClient.SqlClient> =>
  Layer.effect(OAuthStateStore, make(options))

/**
 * `layer` with its options read through `Config`.
 *
 * @since 0.2.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<OAuthStateStore, ConfigError.ConfigError, SqlClient.SqlClient> =>
  Layer.effect(OAuthStateStore, Effect.flatMap(unwrap(config), make))

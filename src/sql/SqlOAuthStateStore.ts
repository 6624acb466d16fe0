/**
 * `OAuthStateStore` over `@effect/sql`: the `oauth_state` table (`state` primary key, `expires_at` in epoch
 * milliseconds) that `Migrations` creates. The primary key decides which of concurrent spends wins.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { OAuthStateStore, type OAuthStateStoreService } from "../OAuthStateStore.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/** Options of the SQL store. */
export interface Options {
  /** The table; default `oauth_state` (`Migrations`' `oauthStateTable`). */
  readonly table?: string | undefined
}

/** Builds the store over the `SqlClient` in context. */
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

/** `OAuthStateStore` over the `SqlClient` in context. */
export const layer: Layer.Layer<OAuthStateStore, never, SqlClient.SqlClient> = Layer.effect(OAuthStateStore, make())

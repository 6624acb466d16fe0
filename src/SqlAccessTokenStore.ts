/**
 * `AccessTokenStore` over `@effect/sql`: FastAPI Users' `accesstoken` table (`token`, `created_at`,
 * `user_id`), which `Migrations` creates with indexes on `created_at` and `user_id`. SQL errors are defects.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AccessTokenStore, type AccessTokenStoreService } from "./AccessTokenStore.js"

/** Options of the SQL store. */
export interface Options {
  /** The table; default `accesstoken`. */
  readonly table?: string | undefined
}

// SQLite's CURRENT_TIMESTAMP writes "YYYY-MM-DD HH:MM:SS" in UTC, without a zone.
const toDate = (value: unknown): Date => {
  if (value instanceof Date) return value
  if (typeof value === "number") return new Date(value)
  const text = String(value)
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(" ", "T")}Z`)
}

/** Builds the store over the `SqlClient` in context. */
export const make = (options: Options = {}): Effect.Effect<AccessTokenStoreService, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (client) => {
    const sql = client.withoutTransforms()
    const table = sql(options.table ?? "accesstoken")
    const timestamp = (date: Date) => sql.onDialectOrElse({ sqlite: () => date.toISOString(), orElse: () => date })
    const count = (rows: ReadonlyArray<unknown>) => rows.length
    return AccessTokenStore.of({
      write: (digest, token) =>
        sql`insert into ${table} (token, created_at, user_id) values (${digest}, ${timestamp(token.createdAt)}, ${token.userId})`.pipe(
          Effect.orDie,
          Effect.asVoid,
          Effect.withSpan("SqlAccessTokenStore.write")
        ),
      read: (digest) =>
        sql<{ readonly user_id: unknown; readonly created_at: unknown }>`
          select user_id, created_at from ${table} where token = ${digest}`.pipe(
          Effect.orDie,
          Effect.map((rows) =>
            Option.map(Option.fromNullable(rows[0]), (row) => ({
              userId: String(row.user_id),
              createdAt: toDate(row.created_at)
            }))
          )
        ),
      delete: (digest) =>
        sql`delete from ${table} where token = ${digest}`.pipe(
          Effect.orDie,
          Effect.asVoid,
          Effect.withSpan("SqlAccessTokenStore.delete")
        ),
      deleteAllOf: (userId) =>
        sql`delete from ${table} where user_id = ${userId} returning token`.pipe(
          Effect.orDie,
          Effect.map(count),
          Effect.withSpan("SqlAccessTokenStore.deleteAllOf")
        ),
      // On SQLite, rows FastAPI Users or CURRENT_TIMESTAMP wrote ("YYYY-MM-DD HH:MM:SS") compare as times only
      // through datetime(); a periodic purge can afford the scan.
      purgeExpired: (issuedBefore) =>
        sql
          .onDialectOrElse({
            sqlite: () =>
              sql`delete from ${table} where datetime(created_at) < datetime(${issuedBefore.toISOString()}) returning token`,
            orElse: () => sql`delete from ${table} where created_at < ${issuedBefore} returning token`
          })
          .pipe(Effect.orDie, Effect.map(count), Effect.withSpan("SqlAccessTokenStore.purgeExpired"))
    })
  })

/** The store on the `accesstoken` table. */
export const layer: Layer.Layer<AccessTokenStore, never, SqlClient.SqlClient> = Layer.effect(AccessTokenStore, make())

/** The store on another table. */
export const layerWith = (options: Options): Layer.Layer<AccessTokenStore, never, SqlClient.SqlClient> =>
  Layer.effect(AccessTokenStore, make(options))

/**
 * `AuditLog` over `@effect/sql` (PostgreSQL or SQLite): one row per event in `auth_event` (migration
 * `0014_auth_event`), the event as JSON in `data`, with its kind, time and user in columns of their own for the
 * queries. SQL errors are defects (an outage is a 503 at the edge).
 *
 * @since 0.2.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AuditLog from "../AuditLog.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/**
 * Options of the SQL audit log.
 *
 * @since 0.2.0
 */
export interface Options {
  /** The table (default `auth_event`, as `Migrations` names it). */
  readonly table?: string | undefined
}

interface Row {
  readonly seq: number | string
  readonly data: string
}

/**
 * Builds the audit log over the `SqlClient` in context.
 *
 * @since 0.2.0
 */
export const make = (options: Options = {}): Effect.Effect<AuditLog.AuditLogService, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (client) => {
    const sql = client.withoutTransforms()
    const table = sql(options.table ?? "auth_event")
    const span = (name: string) => Effect.withSpan(`SqlAuditLog.${name}`)
    return AuditLog.AuditLog.of({
      append: (events) =>
        events.length === 0
          ? Effect.void
          : sql`insert into ${table} ${sql.insert(
              events.map((event) => ({
                type: event._tag,
                at: event.at.getTime(),
                user_id: event.userId ?? null,
                data: AuditLog.toJson(event)
              }))
            )}`.pipe(Effect.asVoid, SqlUnavailable.orDie, span("append")),
      query: (query) => {
        const where = [
          ...(query.userId === undefined ? [] : [sql`user_id = ${query.userId}`]),
          ...(query.kinds === undefined ? [] : [sql.in("type", query.kinds)]),
          ...(query.since === undefined ? [] : [sql`at >= ${query.since.getTime()}`]),
          ...(query.until === undefined ? [] : [sql`at < ${query.until.getTime()}`]),
          ...(query.cursor === undefined
            ? []
            : [sql`(at < ${query.cursor.at} or (at = ${query.cursor.at} and seq < ${query.cursor.seq}))`])
        ]
        return sql<Row>`select seq, data from ${table} where ${sql.and(where)}
          order by at desc, seq desc limit ${query.limit + 1}`.pipe(
          Effect.map((rows) =>
            AuditLog.pageOf(
              query,
              rows.map((row) => ({ id: String(row.seq), seq: Number(row.seq), event: AuditLog.fromJson(row.data) }))
            )
          ),
          SqlUnavailable.orDie,
          span("query")
        )
      },
      purge: (before, limit) =>
        sql`delete from ${table} where seq in (
          select seq from ${table} where at < ${before.getTime()} order by at limit ${limit}
        ) returning seq`.pipe(
          Effect.map((rows) => rows.length),
          SqlUnavailable.orDie,
          span("purge")
        )
    })
  })

/**
 * The audit log in the app's SQL database.
 *
 * @since 0.2.0
 */
export const layer = (options: Options = {}): Layer.Layer<AuditLog.AuditLog, never, SqlClient.SqlClient> =>
  Layer.effect(AuditLog.AuditLog, make(options))

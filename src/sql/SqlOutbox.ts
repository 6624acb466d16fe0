/**
 * `OutboxStore` over `@effect/sql` (PostgreSQL or SQLite): the `outbox` table of migration `0018_outbox`.
 *
 * A claim is one `UPDATE ... RETURNING` that counts the attempt and moves `available_at` past the lease. On PostgreSQL
 * it picks its rows in a CTE with `FOR UPDATE SKIP LOCKED`: instances claiming at once each get other rows, without
 * waiting on each other. SQLite runs one writing statement at a time over the whole file, so the same
 * statement claims each row once among the processes sharing the file. `transaction` is the client's
 * `withTransaction`: an `enqueue` inside it commits with the change around it.
 *
 * @since 0.3.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Entry, OutboxStore, type OutboxStoreService } from "../Outbox.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/**
 * Options of the SQL outbox store.
 *
 * @since 0.3.0
 */
export interface Options {
  /** The table (default `outbox`, as `Migrations` names it). */
  readonly table?: string | undefined
}

const isSqlError = (error: unknown): error is SqlError => error instanceof SqlError

interface Row {
  readonly id: string
  readonly kind: string
  readonly user_id: string | null
  readonly payload: string
  readonly attempts: number | string
}

/**
 * Builds the store over the `SqlClient` in context.
 *
 * @since 0.3.0
 */
export const make = (options: Options = {}): Effect.Effect<OutboxStoreService, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (client) => {
    const sql = client.withoutTransforms()
    const table = sql(options.table ?? "outbox")
    const pg = client.onDialectOrElse({ pg: () => true, orElse: () => false })
    const span = (name: string) => Effect.withSpan(`SqlOutbox.${name}`)
    const toEntry = (row: Row): Entry => ({
      id: row.id,
      kind: row.kind,
      userId: row.user_id,
      payload: row.payload,
      attempts: Number(row.attempts)
    })
    return OutboxStore.of({
      insert: (entry, availableAt) =>
        sql`insert into ${table} ${sql.insert({
          id: entry.id,
          kind: entry.kind,
          user_id: entry.userId,
          payload: entry.payload,
          state: "pending",
          attempts: 0,
          available_at: availableAt,
          created_at: availableAt
        })}`.pipe(Effect.asVoid, SqlUnavailable.orDie, span("insert")),
      claim: (now, leaseMillis, limit) =>
        (pg
          ? // The locked rows are picked once, in a CTE: a subquery under `IN` may be rescanned, each scan skipping
            // the rows the last one locked, and claim more than `limit`.
            sql<Row>`with due as (
              select id from ${table} where state = 'pending' and available_at <= ${now}
              order by available_at limit ${limit} for update skip locked
            )
            update ${table} set attempts = ${table}.attempts + 1, available_at = ${now + leaseMillis}
            from due where ${table}.id = due.id
            returning ${table}.id, ${table}.kind, ${table}.user_id, ${table}.payload, ${table}.attempts`
          : sql<Row>`update ${table} set attempts = attempts + 1, available_at = ${now + leaseMillis}
            where id in (
              select id from ${table} where state = 'pending' and available_at <= ${now}
              order by available_at limit ${limit}
            )
            returning id, kind, user_id, payload, attempts`
        ).pipe(
          Effect.map((rows) => rows.map(toEntry)),
          SqlUnavailable.orDie,
          span("claim")
        ),
      remove: (id) =>
        sql`delete from ${table} where id = ${id}`.pipe(Effect.asVoid, SqlUnavailable.orDie, span("remove")),
      retryAt: (id, at, error) =>
        sql`update ${table} set available_at = ${at}, last_error = ${error} where id = ${id} and state = 'pending'`.pipe(
          Effect.asVoid,
          SqlUnavailable.orDie,
          span("retryAt")
        ),
      bury: (id, error) =>
        sql`update ${table} set state = 'dead', last_error = ${error}, payload = '' where id = ${id}`.pipe(
          Effect.asVoid,
          SqlUnavailable.orDie,
          span("bury")
        ),
      dead: sql<{
        id: string
        kind: string
        user_id: string | null
        attempts: number | string
        last_error: string | null
      }>`select id, kind, user_id, attempts, last_error from ${table} where state = 'dead' order by created_at, id`.pipe(
        Effect.map((rows) =>
          rows.map((row) => ({
            id: row.id,
            kind: row.kind,
            userId: row.user_id,
            attempts: Number(row.attempts),
            lastError: row.last_error ?? ""
          }))
        ),
        SqlUnavailable.orDie,
        span("dead")
      ),
      pending: sql<{ n: number | string }>`select count(*) as n from ${table} where state = 'pending'`.pipe(
        Effect.map((rows) => Number(rows[0]?.n ?? 0)),
        SqlUnavailable.orDie,
        span("pending")
      ),
      transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        // Only the transaction's own `SqlError` (begin, commit) is caught: the effect's errors pass through as typed.
        client.withTransaction(effect).pipe(Effect.catchIf(isSqlError, SqlUnavailable.die)) as Effect.Effect<A, E, R>
    })
  })

/**
 * `OutboxStore` over the `SqlClient` in context.
 *
 * @since 0.3.0
 */
export const layer = (options: Options = {}): Layer.Layer<OutboxStore, never, SqlClient.SqlClient> =>
  Layer.effect(OutboxStore, make(options))

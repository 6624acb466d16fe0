/**
 * `AccessTokenStore` over `@effect/sql`: FastAPI Users' `accesstoken` table (`token`, `created_at`, `user_id`,
 * plus our defaulted `epoch`, `last_used_at`, `backend`, `user_agent`, `method`, `family`) and `accesstoken_jti` for the JWT
 * records, which `Migrations` creates with indexes on `created_at`, `user_id` and `expires_at`. SQL errors are
 * defects.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AccessTokenStore, type AccessTokenStoreService, type JtiMark, storedToken } from "../AccessTokenStore.js"
import { unwrap } from "../internal/config.js"
import { jtiTableOf } from "./Migrations.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/**
 * Options of the SQL store.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The table; default `accesstoken` (its JWT records in `{table}_jti`). */
  readonly table?: string | undefined
}

// SQLite's CURRENT_TIMESTAMP writes "YYYY-MM-DD HH:MM:SS" in UTC, without a zone.
const toDate = (value: unknown): Date => {
  if (value instanceof Date) return value
  if (typeof value === "number") return new Date(value)
  const text = String(value)
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(" ", "T")}Z`)
}

interface Row {
  readonly token: string
  readonly user_id: unknown
  readonly created_at: unknown
  readonly epoch: unknown
  readonly last_used_at: unknown
  readonly backend: string | null
  readonly user_agent: string | null
  readonly method: string | null
  readonly family: string | null
  readonly amr: string | null
}

const fromRow = (row: Row) => {
  const createdAt = toDate(row.created_at)
  return storedToken({
    userId: String(row.user_id),
    createdAt,
    epoch: Number(row.epoch ?? 0),
    lastUsedAt: row.last_used_at === null || row.last_used_at === undefined ? createdAt : toDate(row.last_used_at),
    backend: row.backend ?? undefined,
    userAgent: row.user_agent ?? undefined,
    method: row.method ?? undefined,
    family: row.family ?? undefined,
    amr: row.amr === null || row.amr === undefined ? undefined : row.amr.split(" ").filter((value) => value !== "")
  })
}

const defaultBatchSize = 1000

/**
 * Builds the store over the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<AccessTokenStoreService, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (client) => {
    const sql = client.withoutTransforms()
    const tableName = options.table ?? "accesstoken"
    const table = sql(tableName)
    const jtis = sql(jtiTableOf(tableName))
    const sqlite = sql.onDialectOrElse({ sqlite: () => true, orElse: () => false })
    const timestamp = (date: Date) => (sqlite ? date.toISOString() : date)
    // On SQLite, rows FastAPI Users or CURRENT_TIMESTAMP wrote ("YYYY-MM-DD HH:MM:SS") compare as times only
    // through datetime(); a periodic purge can afford the scan.
    const before = (column: string, date: Date) =>
      sqlite ? sql`datetime(${sql(column)}) < datetime(${date.toISOString()})` : sql`${sql(column)} < ${date}`
    const columns = sql.literal(
      "token, user_id, created_at, epoch, last_used_at, backend, user_agent, method, family, amr"
    )

    // Deletes the rows matching, `batchSize` per statement, until none is left; the number deleted.
    const deleteInBatches = (
      from: Statement.Identifier,
      key: string,
      where: Statement.Fragment,
      batchSize: number
    ): Effect.Effect<number> =>
      Effect.iterate(
        { total: 0, last: batchSize },
        {
          while: ({ last }) => last >= batchSize,
          body: ({ total }) =>
            sql`DELETE FROM ${from} WHERE ${sql(key)} IN (SELECT ${sql(key)} FROM ${from} WHERE ${where} LIMIT ${batchSize}) RETURNING ${sql(key)}`.pipe(
              SqlUnavailable.orDie,
              Effect.map((rows) => ({ total: total + rows.length, last: rows.length }))
            )
        }
      ).pipe(Effect.map(({ total }) => total))

    return AccessTokenStore.of({
      write: (digest, input) => {
        const token = storedToken(input)
        return sql`insert into ${table} ${sql.insert({
          token: digest,
          created_at: timestamp(token.createdAt),
          user_id: token.userId,
          epoch: token.epoch,
          last_used_at: timestamp(token.lastUsedAt),
          backend: token.backend ?? null,
          user_agent: token.userAgent ?? null,
          method: token.method ?? null,
          family: token.family ?? null,
          amr: token.amr === undefined ? null : token.amr.join(" ")
        })}`.pipe(SqlUnavailable.orDie, Effect.asVoid, Effect.withSpan("SqlAccessTokenStore.write"))
      },
      read: (digest) =>
        sql<Row>`select ${columns} from ${table} where token = ${digest}`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), fromRow))
        ),
      delete: (digest) =>
        sql`delete from ${table} where token = ${digest}`.pipe(
          SqlUnavailable.orDie,
          Effect.asVoid,
          Effect.withSpan("SqlAccessTokenStore.delete")
        ),
      deleteAllOf: (userId) =>
        sql`delete from ${table} where user_id = ${userId} returning token`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows) => rows.length),
          Effect.withSpan("SqlAccessTokenStore.deleteAllOf")
        ),
      deleteFamily: (userId, family) =>
        sql`delete from ${table} where user_id = ${userId} and family = ${family} returning token`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows) => rows.length),
          Effect.withSpan("SqlAccessTokenStore.deleteFamily")
        ),
      purgeExpired: (issuedBefore, purge = {}) =>
        Effect.gen(function* () {
          const batchSize = Math.max(1, Math.floor(purge.batchSize ?? defaultBatchSize))
          const idle = purge.idleBefore
          const expired =
            idle === undefined
              ? before("created_at", issuedBefore)
              : sql.or([
                  before("created_at", issuedBefore),
                  before("last_used_at", idle),
                  sql.and([sql`last_used_at IS NULL`, before("created_at", idle)])
                ])
          let total = yield* deleteInBatches(table, "token", expired, batchSize)
          if (purge.jtiExpiredBefore !== undefined) {
            const cut = purge.jtiExpiredBefore.getTime()
            total += yield* deleteInBatches(jtis, "jti", sql`expires_at < ${cut}`, batchSize)
          }
          return total
        }).pipe(Effect.withSpan("SqlAccessTokenStore.purgeExpired")),
      listOf: (userId) =>
        sql<Row>`select ${columns} from ${table} where user_id = ${userId} order by created_at`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows) => rows.map((row) => [row.token, fromRow(row)] as const))
        ),
      touch: (digest, at) =>
        sql`update ${table} set last_used_at = ${timestamp(at)} where token = ${digest} returning token`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows) => rows.length > 0)
        ),
      setEpoch: (digest, epoch) =>
        sql`update ${table} set epoch = ${epoch} where token = ${digest} returning token`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows) => rows.length > 0),
          Effect.withSpan("SqlAccessTokenStore.setEpoch")
        ),
      // One row per (jti, kind): a denial is never overwritten by a later keep, and is read first.
      markJti: (jti, mark, expiresAt) =>
        sql`insert into ${jtis} (jti, kind, epoch, expires_at)
          values (${jti}, ${mark._tag}, ${mark._tag === "Kept" ? mark.epoch : null}, ${expiresAt.getTime()})
          on conflict (jti, kind) do update set epoch = excluded.epoch, expires_at = excluded.expires_at`.pipe(
          SqlUnavailable.orDie,
          Effect.asVoid,
          Effect.withSpan("SqlAccessTokenStore.markJti")
        ),
      readJti: (jti) =>
        sql<{
          readonly kind: string
          readonly epoch: unknown
        }>`select kind, epoch from ${jtis} where jti = ${jti}`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows): Option.Option<JtiMark> => {
            if (rows.some((row) => row.kind === "Denied")) return Option.some({ _tag: "Denied" })
            const kept = rows.find((row) => row.kind === "Kept")
            return kept === undefined ? Option.none() : Option.some({ _tag: "Kept", epoch: Number(kept.epoch) })
          })
        )
    })
  })

/**
 * The store on the `accesstoken` table, or the one the options name.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<AccessTokenStore, never, SqlClient.SqlClient> =>
  Layer.effect(AccessTokenStore, make(options))

/**
 * `layer` with its options read through `Config`.
 *
 * @since 0.2.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<AccessTokenStore, ConfigError.ConfigError, SqlClient.SqlClient> =>
  Layer.effect(AccessTokenStore, Effect.flatMap(unwrap(config), make))

/**
 * `RefreshTokenStore` over `@effect/sql` (PostgreSQL or SQLite): families in `refresh_token_family`, token
 * digests in `refresh_token`, as migrations `0008_refresh_token` and `0012_session_family` create them. A rotation is one transaction
 * whose first statement is a conditional `UPDATE ... WHERE spent_at IS NULL`: the database decides which of
 * concurrent rotations wins. SQL errors are defects.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { unwrap } from "../internal/config.js"
import { type Family, RefreshTokenStore, type RefreshTokenStoreService } from "../RefreshTokenStore.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/**
 * Options of the SQL store.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The tokens table (default `refresh_token`); families are in `{table}_family`, as `Migrations` names them. */
  readonly table?: string | undefined
}

interface FamilyRow {
  readonly id: string
  readonly user_id: unknown
  readonly backend: string
  readonly epoch: number | string
  readonly created_at: unknown
  readonly last_used_at: unknown
  readonly user_agent: string | null
  readonly method: string | null
  readonly amr: string | null
}

const toDate = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)))

const toFamily = (row: FamilyRow): Family => ({
  id: row.id,
  userId: String(row.user_id),
  backend: row.backend,
  epoch: Number(row.epoch),
  createdAt: toDate(row.created_at),
  lastUsedAt: toDate(row.last_used_at),
  ...(row.user_agent === null ? {} : { userAgent: row.user_agent }),
  ...(row.method === null ? {} : { method: row.method }),
  ...(row.amr === null || row.amr === undefined ? {} : { amr: row.amr.split(" ").filter((value) => value !== "") })
})

/**
 * Builds the store over the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<RefreshTokenStoreService, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (client) => {
    const sql = client.withoutTransforms()
    const tokenTable = options.table ?? "refresh_token"
    const tokens = sql(tokenTable)
    const families = sql(`${tokenTable}_family`)
    // SQLite keeps times as ISO text (all written here, so they compare as text); PostgreSQL as timestamptz.
    const time = (date: Date) => sql.onDialectOrElse({ sqlite: () => date.toISOString(), orElse: () => date })
    const span = (name: string) => Effect.withSpan(`SqlRefreshTokenStore.${name}`)

    // Tokens first, then the family: a rotation in flight holds its token's row, so this waits for it
    // (and deletes the token it added) instead of deadlocking on the family's row.
    const endFamilies = (where: ReturnType<typeof sql.and>) =>
      Effect.gen(function* () {
        yield* sql`delete from ${tokens} where family_id in (select id from ${families} where ${where})`
        const ended = yield* sql`delete from ${families} where ${where} returning id`
        return ended.length
      }).pipe(sql.withTransaction, SqlUnavailable.orDie)

    return RefreshTokenStore.of({
      create: (family, digest) =>
        Effect.gen(function* () {
          yield* sql`insert into ${families} ${sql.insert({
            id: family.id,
            user_id: family.userId,
            backend: family.backend,
            epoch: family.epoch,
            created_at: time(family.createdAt),
            last_used_at: time(family.lastUsedAt),
            user_agent: family.userAgent ?? null,
            method: family.method ?? null,
            amr: family.amr === undefined ? null : family.amr.join(" ")
          })}`
          yield* sql`insert into ${tokens} (digest, family_id) values (${digest}, ${family.id})`
        }).pipe(sql.withTransaction, SqlUnavailable.orDie, span("create")),
      find: (digest) =>
        sql<
          FamilyRow & {
            readonly spent_at: unknown
            readonly rotated_digest: string | null
            readonly successor: string | null
          }
        >`
          select f.id, f.user_id, f.backend, f.epoch, f.created_at, f.last_used_at, f.user_agent, f.method, f.amr, t.spent_at,
            f.rotated_digest, f.successor
          from ${tokens} t join ${families} f on f.id = t.family_id where t.digest = ${digest}`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows) =>
            Option.map(Option.fromNullable(rows[0]), (row) => ({
              family: toFamily(row),
              spentAt: row.spent_at === null ? Option.none() : Option.some(toDate(row.spent_at)),
              successor: row.rotated_digest === digest ? Option.fromNullable(row.successor) : Option.none()
            }))
          ),
          span("find")
        ),
      rotate: (familyId, spent, next, at, successor) =>
        Effect.gen(function* () {
          const won = yield* sql`update ${tokens} set spent_at = ${time(at)}
            where digest = ${spent} and family_id = ${familyId} and spent_at is null returning digest`
          if (won.length === 0) return false
          yield* sql`insert into ${tokens} (digest, family_id) values (${next}, ${familyId})`
          yield* sql`update ${families} set last_used_at = ${time(at)},
            rotated_digest = ${successor === undefined ? null : spent}, successor = ${successor ?? null}
            where id = ${familyId}`
          return true
        }).pipe(sql.withTransaction, SqlUnavailable.orDie, span("rotate")),
      setEpoch: (familyId, epoch) =>
        sql`update ${families} set epoch = ${epoch} where id = ${familyId} returning id`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows) => rows.length > 0),
          span("setEpoch")
        ),
      revoke: (familyId, userId) =>
        endFamilies(
          sql.and(userId === undefined ? [sql`id = ${familyId}`] : [sql`id = ${familyId}`, sql`user_id = ${userId}`])
        ).pipe(
          Effect.map((ended) => ended > 0),
          span("revoke")
        ),
      revokeAllOf: (userId) => endFamilies(sql.and([sql`user_id = ${userId}`])).pipe(span("revokeAllOf")),
      listOf: (userId) =>
        sql<FamilyRow>`select id, user_id, backend, epoch, created_at, last_used_at, user_agent, method, amr from ${families}
          where user_id = ${userId} order by created_at, id`.pipe(
          SqlUnavailable.orDie,
          Effect.map((rows) => rows.map(toFamily)),
          span("listOf")
        ),
      purgeExpired: ({ backend, createdBefore, lastUsedBefore, limit, successorsBefore }) =>
        Effect.gen(function* () {
          if (successorsBefore !== undefined) {
            yield* sql`update ${families} set rotated_digest = null, successor = null
              where backend = ${backend} and successor is not null and last_used_at < ${time(successorsBefore)}`.pipe(
              SqlUnavailable.orDie
            )
          }
          const expired = yield* sql<{ readonly id: string }>`select id from ${families}
            where backend = ${backend} and (created_at < ${time(createdBefore)} or last_used_at < ${time(lastUsedBefore)})
            limit ${limit}`.pipe(SqlUnavailable.orDie)
          if (expired.length === 0) return 0
          return yield* endFamilies(
            sql.and([
              sql.in(
                "id",
                expired.map((row) => row.id)
              )
            ])
          )
        }).pipe(span("purgeExpired"))
    })
  })

/**
 * The store on the `refresh_token` and `refresh_token_family` tables, or the ones the options name (`Migrations.run({ refreshTokenTable })` creates them).
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<RefreshTokenStore, never, SqlClient.SqlClient> =>
  Layer.effect(RefreshTokenStore, make(options))

/**
 * `layer` with its options read through `Config`.
 *
 * @since 0.2.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<RefreshTokenStore, ConfigError.ConfigError, SqlClient.SqlClient> =>
  Layer.effect(RefreshTokenStore, Effect.flatMap(unwrap(config), make))

/**
 * `SecondFactorStore` over `@effect/sql` (PostgreSQL or SQLite), on the tables of migration `0016_mfa`. Every
 * spending step is one conditional statement (`UPDATE ... WHERE last_step < ?`, `DELETE ... RETURNING`): the
 * database decides which of concurrent calls wins. SQL errors are defects (an outage: `ServiceUnavailable`).
 *
 * @since 0.3.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { unwrap } from "../internal/config.js"
import { type Challenge, SecondFactorStore, type SecondFactorStoreService } from "../SecondFactorStore.js"
import { mfaTablesOf } from "./Migrations.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/**
 * Options of the SQL store.
 *
 * @since 0.3.0
 */
export interface Options {
  /** The prefix of the tables (default `mfa`), as `Migrations.run({ mfaTablePrefix })` names them. */
  readonly tablePrefix?: string | undefined
}

interface ChallengeRow {
  readonly user_id: unknown
  readonly backend: string
  readonly method: string
  readonly amr: string
  readonly epoch: number | string
  readonly device: string | null
  readonly expires_at: number | string
  readonly failures: number | string
}

const toChallenge = (row: ChallengeRow): Challenge => ({
  userId: String(row.user_id),
  backend: row.backend,
  method: row.method,
  amr: row.amr === "" ? [] : row.amr.split(" "),
  epoch: Number(row.epoch),
  ...(row.device === null ? {} : { device: row.device }),
  expiresAt: new Date(Number(row.expires_at)),
  failures: Number(row.failures)
})

/**
 * Builds the store over the `SqlClient` in context.
 *
 * @since 0.3.0
 */
export const make = (options: Options = {}): Effect.Effect<SecondFactorStoreService, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (client) => {
    const sql = client.withoutTransforms()
    const tables = mfaTablesOf(options.tablePrefix)
    const totp = sql(tables.totp)
    const codes = sql(tables.recoveryCode)
    const challenges = sql(tables.challenge)
    const span = (name: string) => Effect.withSpan(`SqlSecondFactorStore.${name}`)
    const run = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) => effect.pipe(SqlUnavailable.orDie, span(name))
    const insertCodes = (userId: string, digests: ReadonlyArray<string>) =>
      digests.length === 0
        ? Effect.void
        : sql`insert into ${codes} ${sql.insert(digests.map((digest) => ({ user_id: userId, digest })))}`

    return SecondFactorStore.of({
      totp: (userId) =>
        run(
          "totp",
          Effect.map(
            sql<{
              readonly secret: string | null
              readonly pending: string | null
              readonly last_step: number | string
            }>`select secret, pending, last_step from ${totp} where user_id = ${userId}`,
            (rows) =>
              Option.map(Option.fromNullable(rows[0]), (row) => ({
                secret: Option.fromNullable(row.secret),
                pending: Option.fromNullable(row.pending),
                lastStep: Number(row.last_step)
              }))
          )
        ),
      setPending: (userId, secret) =>
        run(
          "setPending",
          sql`insert into ${totp} (user_id, pending) values (${userId}, ${secret})
            on conflict (user_id) do update set pending = excluded.pending`
        ).pipe(Effect.asVoid),
      confirm: (userId, pending, step, digests) =>
        run(
          "confirm",
          Effect.gen(function* () {
            const won = yield* sql`update ${totp} set secret = pending, pending = null, last_step = ${step}
              where user_id = ${userId} and pending = ${pending} returning user_id`
            if (won.length === 0) return false
            yield* sql`delete from ${codes} where user_id = ${userId}`
            yield* insertCodes(userId, digests)
            return true
          }).pipe(sql.withTransaction)
        ),
      acceptStep: (userId, step) =>
        run(
          "acceptStep",
          Effect.map(
            sql`update ${totp} set last_step = ${step}
              where user_id = ${userId} and secret is not null and last_step < ${step} returning user_id`,
            (rows) => rows.length > 0
          )
        ),
      removeTotp: (userId) =>
        run(
          "removeTotp",
          Effect.gen(function* () {
            yield* sql`delete from ${codes} where user_id = ${userId}`
            const removed = yield* sql<{ readonly secret: string | null }>`delete from ${totp}
              where user_id = ${userId} returning secret`
            return removed.some((row) => row.secret !== null)
          }).pipe(sql.withTransaction)
        ),
      replaceRecoveryCodes: (userId, digests) =>
        run(
          "replaceRecoveryCodes",
          Effect.zipRight(sql`delete from ${codes} where user_id = ${userId}`, insertCodes(userId, digests)).pipe(
            sql.withTransaction
          )
        ),
      useRecoveryCode: (userId, code) =>
        run(
          "useRecoveryCode",
          Effect.map(
            sql`delete from ${codes} where user_id = ${userId} and digest = ${code} returning digest`,
            (rows) => rows.length > 0
          )
        ),
      recoveryCodesLeft: (userId) =>
        run(
          "recoveryCodesLeft",
          Effect.map(
            sql<{ readonly n: number | string }>`select count(*) as n from ${codes} where user_id = ${userId}`,
            (rows) => Number(rows[0]?.n ?? 0)
          )
        ),
      createChallenge: (digest, challenge) =>
        run(
          "createChallenge",
          sql`insert into ${challenges} ${sql.insert({
            digest,
            user_id: challenge.userId,
            backend: challenge.backend,
            method: challenge.method,
            amr: challenge.amr.join(" "),
            epoch: challenge.epoch,
            device: challenge.device ?? null,
            expires_at: challenge.expiresAt.getTime(),
            failures: challenge.failures
          })}`
        ).pipe(Effect.asVoid),
      findChallenge: (digest) =>
        run(
          "findChallenge",
          Effect.map(
            sql<ChallengeRow>`select user_id, backend, method, amr, epoch, device, expires_at, failures
              from ${challenges} where digest = ${digest}`,
            (rows) => Option.map(Option.fromNullable(rows[0]), toChallenge)
          )
        ),
      failChallenge: (digest, maxFailures) =>
        run(
          "failChallenge",
          Effect.gen(function* () {
            const rows = yield* sql<{ readonly failures: number | string }>`update ${challenges}
              set failures = failures + 1 where digest = ${digest} returning failures`
            const failures = rows[0]?.failures
            if (failures === undefined) return false
            if (Number(failures) < maxFailures) return true
            yield* sql`delete from ${challenges} where digest = ${digest}`
            return false
          })
        ),
      spendChallenge: (digest) =>
        run(
          "spendChallenge",
          Effect.map(
            sql`delete from ${challenges} where digest = ${digest} returning digest`,
            (rows) => rows.length > 0
          )
        ),
      purgeChallenges: (before) =>
        run(
          "purgeChallenges",
          Effect.map(
            sql`delete from ${challenges} where expires_at < ${before.getTime()} returning digest`,
            (rows) => rows.length
          )
        ),
      removeAll: (userId) =>
        run(
          "removeAll",
          Effect.all([
            sql`delete from ${codes} where user_id = ${userId}`,
            sql`delete from ${totp} where user_id = ${userId}`,
            sql`delete from ${challenges} where user_id = ${userId}`
          ]).pipe(sql.withTransaction, Effect.asVoid)
        )
    })
  })

/**
 * The store on the `mfa_*` tables, or the ones the options name.
 *
 * @since 0.3.0
 */
export const layer = (options: Options = {}): Layer.Layer<SecondFactorStore, never, SqlClient.SqlClient> =>
  Layer.effect(SecondFactorStore, make(options))

/**
 * `layer` with its options read through `Config`.
 *
 * @since 0.3.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<SecondFactorStore, ConfigError.ConfigError, SqlClient.SqlClient> =>
  Layer.effect(SecondFactorStore, Effect.flatMap(unwrap(config), make))

/**
 * `PasskeyStore` over `@effect/sql` (PostgreSQL or SQLite): credentials in `passkey`, challenges in
 * `passkey_challenge`, as migration `0017_passkey` creates them. The database decides the races: a challenge is
 * taken by one `DELETE ... RETURNING`, a counter moves by one conditional `UPDATE`, and a removal that must keep one
 * credential locks the user's credentials first. SQL errors are defects.
 *
 * @since 0.3.0
 */
import { createHash } from "node:crypto"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { unwrap } from "../internal/config.js"
import { type Challenge, type Credential, PasskeyStore, type PasskeyStoreService } from "../PasskeyStore.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/**
 * Options of the SQL store.
 *
 * @since 0.3.0
 */
export interface Options {
  /** The credentials table (default `passkey`); challenges are in `{table}_challenge`, as `Migrations` names them. */
  readonly table?: string | undefined
}

interface Row {
  readonly id: string
  readonly user_id: unknown
  readonly public_key: string
  readonly counter: number | string
  readonly transports: string
  readonly device_type: string
  readonly backed_up: boolean | number
  readonly name: string
  readonly created_at: number | string
  readonly last_used_at: number | string | null
}

const toCredential = (row: Row): Credential => ({
  id: row.id,
  userId: String(row.user_id),
  publicKey: row.public_key,
  counter: Number(row.counter),
  transports: row.transports === "" ? [] : row.transports.split(","),
  deviceType: row.device_type,
  backedUp: row.backed_up === true || row.backed_up === 1,
  name: row.name,
  createdAt: new Date(Number(row.created_at)),
  lastUsedAt: row.last_used_at === null ? null : new Date(Number(row.last_used_at))
})

// Challenge keys are random, but a database dump should not hand out live ones.
const digest = (key: string) => createHash("sha256").update(key).digest("base64url")

/**
 * Builds the store over the `SqlClient` in context.
 *
 * @since 0.3.0
 */
export const make = (options: Options = {}): Effect.Effect<PasskeyStoreService, never, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const client = yield* SqlClient.SqlClient
    const sql = client.withoutTransforms()
    const sqlite = client.onDialectOrElse({ sqlite: () => true, orElse: () => false })
    const name = options.table ?? "passkey"
    const table = sql(name)
    const challenges = sql(`${name}_challenge`)
    const bool = (value: boolean) => (sqlite ? (value ? 1 : 0) : value)
    const span =
      (method: string) =>
      <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        effect.pipe(SqlUnavailable.orDie, Effect.withSpan(`SqlPasskeyStore.${method}`, { captureStackTrace: false }))
    const find = (id: string) =>
      Effect.map(sql<Row>`SELECT * FROM ${table} WHERE id = ${id}`, (rows) =>
        Option.map(Option.fromNullable(rows[0]), toCredential)
      )

    return PasskeyStore.of({
      add: (credential) =>
        sql<{ id: string }>`INSERT INTO ${table} ${sql.insert({
          id: credential.id,
          user_id: credential.userId,
          public_key: credential.publicKey,
          counter: credential.counter,
          transports: credential.transports.join(","),
          device_type: credential.deviceType,
          backed_up: bool(credential.backedUp),
          name: credential.name,
          created_at: credential.createdAt.getTime(),
          last_used_at: credential.lastUsedAt === null ? null : credential.lastUsedAt.getTime()
        })} ON CONFLICT (id) DO NOTHING RETURNING id`.pipe(
          Effect.map((rows) => rows.length === 1),
          span("add")
        ),
      find: (id) => find(id).pipe(span("find")),
      listOf: (userId) =>
        sql<Row>`SELECT * FROM ${table} WHERE user_id = ${userId} ORDER BY created_at, id`.pipe(
          Effect.map((rows) => rows.map(toCredential)),
          span("listOf")
        ),
      rename: (userId, id, newName) =>
        sql<Row>`UPDATE ${table} SET name = ${newName} WHERE id = ${id} AND user_id = ${userId} RETURNING *`.pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toCredential)),
          span("rename")
        ),
      recordUse: (id, counter, at) =>
        sql`UPDATE ${table} SET counter = ${counter}, last_used_at = ${at.getTime()}
          WHERE id = ${id} AND ${counter === 0 ? sql`counter = 0` : sql`counter < ${counter}`} RETURNING id`.pipe(
          Effect.map((rows) => rows.length === 1),
          span("recordUse")
        ),
      // The user's rows are locked first (PostgreSQL; SQLite runs one write transaction at a time): of two concurrent
      // removals of a user's last two credentials, the second sees the first's delete.
      remove: (userId, id, keepOne) =>
        Effect.gen(function* () {
          const owned = yield* sqlite
            ? sql<{ id: string }>`SELECT id FROM ${table} WHERE user_id = ${userId}`
            : sql<{ id: string }>`SELECT id FROM ${table} WHERE user_id = ${userId} FOR UPDATE`
          if (!owned.some((row) => row.id === id)) return "notFound" as const
          if (keepOne && owned.length <= 1) return "last" as const
          yield* sql`DELETE FROM ${table} WHERE id = ${id} AND user_id = ${userId}`
          return "removed" as const
        }).pipe(sql.withTransaction, span("remove")),
      removeAllOf: (userId) =>
        sql`DELETE FROM ${table} WHERE user_id = ${userId}`.pipe(Effect.asVoid, span("removeAllOf")),
      putChallenge: (key, challenge: Challenge) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          yield* sql`DELETE FROM ${challenges} WHERE expires_at < ${now}`
          yield* sql`INSERT INTO ${challenges} ${sql.insert({
            id: digest(key),
            challenge: challenge.challenge,
            purpose: challenge.purpose,
            user_id: challenge.userId,
            expires_at: challenge.expiresAt
          })}`
        }).pipe(span("putChallenge")),
      takeChallenge: (key) =>
        Effect.gen(function* () {
          const rows = yield* sql<{
            challenge: string
            purpose: string
            user_id: string | null
            expires_at: number | string
          }>`DELETE FROM ${challenges} WHERE id = ${digest(key)} RETURNING challenge, purpose, user_id, expires_at`
          const row = rows[0]
          const now = yield* Clock.currentTimeMillis
          if (row === undefined || Number(row.expires_at) < now) return Option.none<Challenge>()
          return Option.some<Challenge>({
            challenge: row.challenge,
            purpose: row.purpose === "registration" ? "registration" : "authentication",
            userId: row.user_id,
            expiresAt: Number(row.expires_at)
          })
        }).pipe(span("takeChallenge"))
    })
  })

/**
 * `PasskeyStore` over the `SqlClient` in context, on the `passkey` tables or the ones the options name.
 *
 * @since 0.3.0
 */
export const layer = (options: Options = {}): Layer.Layer<PasskeyStore, never, SqlClient.SqlClient> =>
  Layer.effect(PasskeyStore, make(options))

/**
 * `layer` with its options read through `Config`.
 *
 * @since 0.3.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<PasskeyStore, ConfigError.ConfigError, SqlClient.SqlClient> =>
  Layer.effect(PasskeyStore, Effect.flatMap(unwrap(config), make))

/**
 * `EmailSignInStore` over `@effect/sql` (PostgreSQL or SQLite): the `email_sign_in` table of migration
 * `0019_email_sign_in`. A link is spent by one `DELETE ... RETURNING` (of concurrent uses one gets the row); a right
 * code likewise, guarded by its count of wrong tries; a wrong code counts a try in one `UPDATE`.
 *
 * @since 0.3.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { EmailSignInStore, type EmailSignInStoreService, type Spent } from "../EmailSignIn.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/**
 * Options of the SQL store.
 *
 * @since 0.3.0
 */
export interface Options {
  /** The table (default `email_sign_in`, as `Migrations` names it). */
  readonly table?: string | undefined
}

interface Row {
  readonly email: string
  readonly user_id: string | null
}

const spentOf = (rows: ReadonlyArray<Row>): Option.Option<Spent> =>
  rows.length === 0 ? Option.none() : Option.some({ email: rows[0]!.email, userId: rows[0]!.user_id })

/**
 * Builds the store over the `SqlClient` in context.
 *
 * @since 0.3.0
 */
export const make = (options: Options = {}): Effect.Effect<EmailSignInStoreService, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (client) => {
    const sql = client.withoutTransforms()
    const table = sql(options.table ?? "email_sign_in")
    const span = (name: string) => Effect.withSpan(`SqlEmailSignInStore.${name}`)
    return EmailSignInStore.of({
      put: (pending) =>
        sql`insert into ${table} ${sql.insert({
          kind: pending.kind,
          email_key: pending.key,
          email: pending.email,
          digest: pending.digest,
          user_id: pending.userId,
          attempts: 0,
          expires_at: pending.expiresAt
        })} on conflict (kind, email_key) do update set email = excluded.email, digest = excluded.digest,
          user_id = excluded.user_id, attempts = 0, expires_at = excluded.expires_at`.pipe(
          Effect.asVoid,
          SqlUnavailable.orDie,
          span("put")
        ),
      spendLink: (digest, now) =>
        sql<Row>`delete from ${table} where kind = 'link' and digest = ${digest} returning email, user_id, expires_at`.pipe(
          Effect.map((rows) =>
            spentOf(rows.filter((row) => Number((row as Row & { expires_at: unknown }).expires_at) > now))
          ),
          SqlUnavailable.orDie,
          span("spendLink")
        ),
      tryCode: (key, digest, now, maxAttempts) =>
        Effect.gen(function* () {
          const right = yield* sql<Row>`delete from ${table} where kind = 'code' and email_key = ${key}
            and digest = ${digest} and expires_at > ${now} and attempts < ${maxAttempts} returning email, user_id`
          if (right.length > 0) return spentOf(right)
          const counted = yield* sql<{ attempts: number | string }>`update ${table} set attempts = attempts + 1
            where kind = 'code' and email_key = ${key} and expires_at > ${now} returning attempts`
          if (counted.length > 0 && Number(counted[0]!.attempts) >= maxAttempts) {
            yield* sql`delete from ${table} where kind = 'code' and email_key = ${key} and attempts >= ${maxAttempts}`
          }
          return Option.none<Spent>()
        }).pipe(SqlUnavailable.orDie, span("tryCode"))
    })
  })

/**
 * `EmailSignInStore` over the `SqlClient` in context.
 *
 * @since 0.3.0
 */
export const layer = (options: Options = {}): Layer.Layer<EmailSignInStore, never, SqlClient.SqlClient> =>
  Layer.effect(EmailSignInStore, make(options))

/**
 * The schema `SqlUserRepository` reads, as `@effect/sql` migrations for PostgreSQL and SQLite: FastAPI
 * Users' tables `user`, `oauth_account` and `accesstoken`, plus a unique index on `lower(email)`.
 *
 * Every statement is `CREATE ... IF NOT EXISTS`, so running them against an existing FastAPI Users
 * database only adds what is missing. Apps add their own migrations next to these with
 * `Migrator.fromRecord({ ...Migrations.migrations(), "0100_user_first_name": ... })`.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/** Table names and the type of user IDs. */
export interface Options {
  /** The users table (default `user`). */
  readonly userTable?: string | undefined
  /** The OAuth accounts table (default `oauth_account`). */
  readonly oauthAccountTable?: string | undefined
  /** The access tokens table of the database login strategy (default `accesstoken`). */
  readonly accessTokenTable?: string | undefined
  /** `uuid` (default, FastAPI Users' GUID) or `integer` (assigned by the database). */
  readonly idType?: "uuid" | "integer" | undefined
}

/** Two or more users have e-mails that differ only by case, so `lower(email)` cannot be made unique. */
export class EmailCaseConflict extends Schema.TaggedError<EmailCaseConflict>()("EmailCaseConflict", {
  table: Schema.String,
  emails: Schema.Array(Schema.String)
}) {
  get message() {
    return (
      `Cannot create the unique index on lower(email) of table "${this.table}": these e-mails differ only by case: ` +
      `${this.emails.join(", ")}. Merge or rename those users, then run the migrations again.`
    )
  }
}

/** The name of the unique index on `lower(email)` of a users table. */
export const emailIndexName = (userTable: string): string => `ix_${userTable}_email_lower`

type Migration = Effect.Effect<void, SqlError | EmailCaseConflict, SqlClient.SqlClient>

const dialect = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.onDialectOrElse({
    pg: () => Effect.succeed({ sql, sqlite: false }),
    sqlite: () => Effect.succeed({ sql, sqlite: true }),
    orElse: () => Effect.dieMessage("effect-users migrations support PostgreSQL and SQLite")
  })
)

/** The migrations, keyed `0001_name` … as `Migrator.fromRecord` expects. */
export const migrations = (options: Options = {}): Record<string, Migration> => {
  const userTable = options.userTable ?? "user"
  const accountTable = options.oauthAccountTable ?? "oauth_account"
  const tokenTable = options.accessTokenTable ?? "accesstoken"
  const integer = options.idType === "integer"

  const createUser: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    const id = integer
      ? sql.literal(sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "SERIAL PRIMARY KEY")
      : sql.literal(sqlite ? "CHAR(36) PRIMARY KEY" : "UUID PRIMARY KEY")
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(userTable)} (
      id ${id},
      email VARCHAR(320) NOT NULL,
      hashed_password VARCHAR(1024) NOT NULL,
      is_active BOOLEAN NOT NULL,
      is_superuser BOOLEAN NOT NULL,
      is_verified BOOLEAN NOT NULL
    )`
    yield* sql`CREATE UNIQUE INDEX IF NOT EXISTS ${sql(`ix_${userTable}_email`)} ON ${sql(userTable)} (email)`
  })

  const createOAuthAccount: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    const userId = sql.literal(integer ? "INTEGER" : sqlite ? "CHAR(36)" : "UUID")
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(accountTable)} (
      id ${sql.literal(sqlite ? "CHAR(36)" : "UUID")} PRIMARY KEY,
      oauth_name VARCHAR(100) NOT NULL,
      access_token VARCHAR(1024) NOT NULL,
      expires_at INTEGER,
      refresh_token VARCHAR(1024),
      account_id VARCHAR(320) NOT NULL,
      account_email VARCHAR(320) NOT NULL,
      user_id ${userId} NOT NULL REFERENCES ${sql(userTable)} (id) ON DELETE CASCADE
    )`
    for (const column of ["oauth_name", "account_id", "user_id"]) {
      yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${accountTable}_${column}`)} ON ${sql(accountTable)} (${sql(column)})`
    }
  })

  const createAccessToken: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    const userId = sql.literal(integer ? "INTEGER" : sqlite ? "CHAR(36)" : "UUID")
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(tokenTable)} (
      token VARCHAR(43) PRIMARY KEY,
      created_at ${sql.literal(sqlite ? "DATETIME" : "TIMESTAMPTZ")} NOT NULL DEFAULT CURRENT_TIMESTAMP,
      user_id ${userId} NOT NULL REFERENCES ${sql(userTable)} (id) ON DELETE CASCADE
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${tokenTable}_created_at`)} ON ${sql(tokenTable)} (created_at)`
  })

  const uniqueLowerEmail: Migration = Effect.gen(function* () {
    const { sql: client } = yield* dialect
    const sql = client.withoutTransforms()
    const conflicts = yield* sql<{ email: string }>`SELECT email FROM ${sql(userTable)} WHERE lower(email) IN (
      SELECT lower(email) FROM ${sql(userTable)} GROUP BY lower(email) HAVING count(*) > 1
    ) ORDER BY lower(email), email`
    if (conflicts.length > 0) {
      return yield* new EmailCaseConflict({ table: userTable, emails: conflicts.map((row) => row.email) })
    }
    yield* sql`CREATE UNIQUE INDEX IF NOT EXISTS ${sql(emailIndexName(userTable))} ON ${sql(userTable)} (lower(email))`
  })

  return {
    "0001_create_user": createUser,
    "0002_create_oauth_account": createOAuthAccount,
    "0003_create_accesstoken": createAccessToken,
    "0004_user_email_lower_unique": uniqueLowerEmail
  }
}

/** A `Migrator` loader for these migrations. */
export const loader = (options: Options = {}): Migrator.Loader => Migrator.fromRecord(migrations(options))

/**
 * Runs the migrations not yet applied (recorded in `effect_sql_migrations`, or `table`) and returns them.
 * Fails with `EmailCaseConflict` when existing e-mails differ only by case.
 */
export const run = (
  options: Options & { readonly table?: string | undefined } = {}
): Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError | EmailCaseConflict,
  SqlClient.SqlClient
> =>
  Migrator.make({})({ loader: loader(options), ...(options.table === undefined ? {} : { table: options.table }) }).pipe(
    // The migrator turns a failing migration into a defect; give the conflict back to the caller as a typed error.
    Effect.catchAllDefect((defect) =>
      defect instanceof Migrator.MigrationError && defect.cause instanceof EmailCaseConflict
        ? Effect.fail(defect.cause)
        : Effect.die(defect)
    )
  )

/** Runs the migrations when the layer is built; for apps that migrate on start-up. */
export const layer = (
  options: Options & { readonly table?: string | undefined } = {}
): Layer.Layer<never, Migrator.MigrationError | SqlError | EmailCaseConflict, SqlClient.SqlClient> =>
  Layer.effectDiscard(run(options))

/**
 * The schema `SqlUserRepository` reads, as `@effect/sql` migrations for PostgreSQL and SQLite: FastAPI
 * Users' tables `user`, `oauth_account` and `accesstoken`, a unique index on `lower(email)`, the
 * `email_key` column (each e-mail's `emailKey`, computed in TypeScript) with its unique index, a unique
 * `(oauth_name, account_id)` with `text` token columns, and `oauth_state` (spent OAuth states).
 *
 * `0016_mfa` creates the second factors' tables (`SqlSecondFactorStore`): `mfa_totp` (a sealed secret, a pending
 * one and the last accepted time step per user), `mfa_recovery_code` (digests) and `mfa_challenge` (pending
 * two-step logins), and adds `amr` (how a session was proven, RFC 8176) to `accesstoken` and the refresh-token
 * families.
 *
 * `0017_passkey` creates the passkeys' `passkey` table (deleted with their user) and `passkey_challenge`.
 *
 * `0018_outbox` creates the mail outbox (`SqlOutbox`); `0019_email_sign_in` the pending sign-ins by e-mail link or
 * code (`SqlEmailSignInStore`).
 *
 * `0015_user_deactivation` adds `deactivation_reason` and `deactivated_until` (ms since 1970; when a deactivation
 * lifts itself) to `user`.
 *
 * `0013_oauth_account_created_at_password_set` adds `created_at` (when the account was linked) to `oauth_account` and
 * `password_set` (the user has a password of their own) to `user`.
 *
 * `0014_auth_event` creates the audit log's `auth_event` table (`SqlAuditLog`), indexed by user and time.
 *
 * `0011_session_method` adds `method` (how the session was started) to `accesstoken` and the refresh-token families.
 *
 * `0010_user_email_key_idna` rewrites the keys whose domain part changed when the key took the domain's DNS (IDNA)
 * name instead of its case folding.
 *
 * `0007_session_epoch` adds the session columns (`session_epoch` and `sessions_revoked_until` on `user`; `epoch`,
 * `last_used_at`, `backend`, `user_agent` on `accesstoken`, all defaulted) and the `accesstoken_jti` table.
 *
 * Every statement is `CREATE ... IF NOT EXISTS` (or checks the column first), so running them against an existing FastAPI Users
 * database only adds what is missing. Apps add their own migrations next to these with
 * `Migrator.fromRecord({ ...Migrations.migrations(), "0100_user_first_name": ... })`.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { emailKey } from "../User.js"

/**
 * Table names and the type of user IDs.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The users table (default `user`). */
  readonly userTable?: string | undefined
  /** The OAuth accounts table (default `oauth_account`). */
  readonly oauthAccountTable?: string | undefined
  /** The access tokens table of the database login strategy (default `accesstoken`). */
  readonly accessTokenTable?: string | undefined
  /** The spent OAuth states of `SqlOAuthStateStore` (default `oauth_state`). */
  readonly oauthStateTable?: string | undefined
  /** The refresh tokens table (default `refresh_token`); their families go in `{refreshTokenTable}_family`. */
  readonly refreshTokenTable?: string | undefined
  /** The audit log's table (default `auth_event`). */
  readonly authEventTable?: string | undefined
  /** The second factors' tables start with this (default `mfa`: `mfa_totp`, `mfa_recovery_code`, `mfa_challenge`). */
  readonly mfaTablePrefix?: string | undefined
  /** The passkeys table (default `passkey`); their challenges go in `{passkeyTable}_challenge`. */
  readonly passkeyTable?: string | undefined
  /** The mail outbox's table (default `outbox`). */
  readonly outboxTable?: string | undefined
  /** The pending sign-ins by e-mail link or code (default `email_sign_in`). */
  readonly emailSignInTable?: string | undefined
  /** `uuid` (default, FastAPI Users' GUID) or `integer` (assigned by the database). */
  readonly idType?: "uuid" | "integer" | undefined
}

/**
 * Two or more users have e-mails that are one address (they differ only by case, or by Unicode form for
 * `index: "email_key"`), so the unique index on `lower(email)` or `email_key` cannot be made.
 *
 * @since 0.1.0
 */
export class EmailCaseConflict extends Schema.TaggedError<EmailCaseConflict>()("EmailCaseConflict", {
  table: Schema.String,
  emails: Schema.Array(Schema.String),
  index: Schema.optionalWith(Schema.Literal("lower(email)", "email_key"), { default: () => "lower(email)" })
}) {
  get message() {
    const how =
      this.index === "email_key"
        ? "are one address under emailKey (NFC and case folding; the domain by its IDNA name)"
        : "differ only by case"
    return (
      `Cannot create the unique index on ${this.index} of table "${this.table}": these e-mails ${how}: ` +
      `${this.emails.join(", ")}. Merge or rename those users, then run the migrations again.`
    )
  }
}

/**
 * One provider account is linked more than once (FastAPI Users has no unique index on it), so the unique index
 * on `(oauth_name, account_id)` cannot be made. `accounts` lists each duplicate as `name:accountId`.
 *
 * @since 0.1.0
 */
export class OAuthAccountConflict extends Schema.TaggedError<OAuthAccountConflict>()("OAuthAccountConflict", {
  table: Schema.String,
  accounts: Schema.Array(Schema.String)
}) {
  get message() {
    return (
      `Cannot create the unique index on (oauth_name, account_id) of table "${this.table}": these provider ` +
      `accounts are linked more than once: ${this.accounts.join(", ")}. Keep one row of each (the right user's), ` +
      "delete the others, then run the migrations again."
    )
  }
}

/**
 * The name of the unique index on `(oauth_name, account_id)` of an OAuth accounts table.
 *
 * @since 0.1.0
 */
export const oauthAccountIndexName = (accountTable: string): string => `ix_${accountTable}_oauth_name_account_id`

/**
 * The column holding each e-mail's `emailKey`, written by `SqlUserRepository` on every insert and e-mail change.
 *
 * @since 0.1.0
 */
export const emailKeyColumn = "email_key"

/**
 * The users table's column holding each user's session epoch (0 for FastAPI Users' rows).
 *
 * @since 0.1.0
 */
export const sessionEpochColumn = "session_epoch"

/**
 * The users table's column holding the latest expiry (ms since 1970) of the user's denied JWTs; 0 for none.
 *
 * @since 0.1.0
 */
export const revokedUntilColumn = "sessions_revoked_until"

/**
 * The users table's column saying whether the user has a password of their own: false for a user an OAuth sign-up
 * created (their password is random), true once a password is written. FastAPI Users' inserts read true.
 *
 * @since 0.2.0
 */
export const passwordSetColumn = "password_set"

/**
 * The users table's column holding why an admin deactivated the user (null when active or not recorded).
 *
 * @since 0.2.0
 */
export const deactivationReasonColumn = "deactivation_reason"

/**
 * The users table's column holding when a deactivation lifts itself (ms since 1970); null for none.
 *
 * @since 0.2.0
 */
export const deactivatedUntilColumn = "deactivated_until"

/**
 * The table of JWT `jti` records (denied on logout, kept across an epoch move) beside an access token table.
 *
 * @since 0.1.0
 */
export const jtiTableOf = (accessTokenTable: string): string => `${accessTokenTable}_jti`

/**
 * The name of the unique index on `email_key` of a users table.
 *
 * @since 0.1.0
 */
export const emailKeyIndexName = (userTable: string): string => `ix_${userTable}_email_key`

/**
 * The name of the unique index on `lower(email)` of a users table.
 *
 * @since 0.1.0
 */
export const emailIndexName = (userTable: string): string => `ix_${userTable}_email_lower`

/**
 * The second factors' tables under a prefix (default `mfa`).
 *
 * @since 0.3.0
 */
export const mfaTablesOf = (prefix = "mfa") => ({
  totp: `${prefix}_totp`,
  recoveryCode: `${prefix}_recovery_code`,
  challenge: `${prefix}_challenge`
})

type Migration = Effect.Effect<void, SqlError | EmailCaseConflict | OAuthAccountConflict, SqlClient.SqlClient>

const dialect = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.onDialectOrElse({
    pg: () => Effect.succeed({ sql, sqlite: false }),
    sqlite: () => Effect.succeed({ sql, sqlite: true }),
    orElse: () => Effect.dieMessage("effect-users migrations support PostgreSQL and SQLite")
  })
)

/**
 * The migrations, keyed `0001_name` … as `Migrator.fromRecord` expects.
 *
 * @since 0.1.0
 */
export const migrations = (options: Options = {}): Record<string, Migration> => {
  const userTable = options.userTable ?? "user"
  const accountTable = options.oauthAccountTable ?? "oauth_account"
  const tokenTable = options.accessTokenTable ?? "accesstoken"
  const stateTable = options.oauthStateTable ?? "oauth_state"
  const refreshTable = options.refreshTokenTable ?? "refresh_token"
  const familyTable = `${refreshTable}_family`
  const integer = options.idType === "integer"
  const eventTable = options.authEventTable ?? "auth_event"
  const mfa = mfaTablesOf(options.mfaTablePrefix)
  const passkeyTable = options.passkeyTable ?? "passkey"
  const outboxTable = options.outboxTable ?? "outbox"
  const signInTable = options.emailSignInTable ?? "email_sign_in"

  const columnsOf = (table: string) =>
    Effect.gen(function* () {
      const { sql: client, sqlite } = yield* dialect
      const sql = client.withoutTransforms()
      const rows = sqlite
        ? yield* sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`
        : yield* sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = ${table}`
      return new Set(rows.map((row) => row.name))
    })

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

  // Revoking every session of a user is one statement on this index.
  const accessTokenUserId: Migration = Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${tokenTable}_user_id`)} ON ${sql(tokenTable)} (user_id)`
  })

  // The key is computed here, not in SQL: SQLite's lower() folds ASCII only and PostgreSQL's depends on the
  // locale, so only TypeScript gives both databases the same key as the repository writes. Rows whose key
  // changes are cleared first, so that no row takes a key another still holds for a moment (unique index).
  const writeEmailKeys = Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const table = sql(userTable)
    const rows = yield* sql<{ id: unknown; email: string; email_key: string | null }>`SELECT id, email, ${sql(
      emailKeyColumn
    )} AS email_key FROM ${table}`
    const byKey = new Map<string, Array<(typeof rows)[number]>>()
    for (const row of rows) {
      const key = emailKey(row.email)
      byKey.set(key, [...(byKey.get(key) ?? []), row])
    }
    const conflicts = [...byKey.entries()].filter(([, group]) => group.length > 1).sort(([a], [b]) => (a < b ? -1 : 1))
    if (conflicts.length > 0) {
      const emails = conflicts.flatMap(([, group]) => group.map((row) => row.email).sort())
      return yield* new EmailCaseConflict({ table: userTable, emails, index: "email_key" })
    }
    const changed = [...byKey].filter(([key, [row]]) => row!.email_key !== key)
    for (const [, [row]] of changed) {
      if (row!.email_key !== null) yield* sql`UPDATE ${table} SET ${sql(emailKeyColumn)} = NULL WHERE id = ${row!.id}`
    }
    for (const [key, [row]] of changed) {
      yield* sql`UPDATE ${table} SET ${sql(emailKeyColumn)} = ${key} WHERE id = ${row!.id}`
    }
  })

  const emailKeyUnique: Migration = Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const table = sql(userTable)
    if (!(yield* columnsOf(userTable)).has(emailKeyColumn)) {
      // Folding can lengthen an address (ß → ss, ﬃ → ffi): up to three times its 320 characters.
      yield* sql`ALTER TABLE ${table} ADD COLUMN ${sql(emailKeyColumn)} VARCHAR(1024)`
    }
    yield* writeEmailKeys
    yield* sql`CREATE UNIQUE INDEX IF NOT EXISTS ${sql(emailKeyIndexName(userTable))} ON ${table} (${sql(emailKeyColumn)})`
  })

  // Sessions that end: the user's epoch (FastAPI Users' rows and inserts read 0), the latest expiry of their
  // denied JWTs, and per token its epoch at issue, last use, backend and user agent. FastAPI Users' columns
  // stay as they are and its inserts, which name none of these, get the defaults.
  const sessionEpoch: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    const timestamp = sql.literal(sqlite ? "DATETIME" : "TIMESTAMPTZ")
    const userColumns = yield* columnsOf(userTable)
    if (!userColumns.has(sessionEpochColumn)) {
      yield* sql`ALTER TABLE ${sql(userTable)} ADD COLUMN ${sql(sessionEpochColumn)} INTEGER NOT NULL DEFAULT 0`
    }
    if (!userColumns.has(revokedUntilColumn)) {
      yield* sql`ALTER TABLE ${sql(userTable)} ADD COLUMN ${sql(revokedUntilColumn)} BIGINT NOT NULL DEFAULT 0`
    }
    const tokenColumns = yield* columnsOf(tokenTable)
    const added = [
      ["epoch", sql`INTEGER NOT NULL DEFAULT 0`],
      ["last_used_at", sql`${timestamp}`],
      ["backend", sql`VARCHAR(100)`],
      ["user_agent", sql`VARCHAR(512)`]
    ] as const
    for (const [column, type] of added) {
      if (!tokenColumns.has(column)) yield* sql`ALTER TABLE ${sql(tokenTable)} ADD COLUMN ${sql(column)} ${type}`
    }
    const jtiTable = jtiTableOf(tokenTable)
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(jtiTable)} (
      jti VARCHAR(64) NOT NULL,
      kind VARCHAR(8) NOT NULL,
      epoch INTEGER,
      expires_at BIGINT NOT NULL,
      PRIMARY KEY (jti, kind)
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${jtiTable}_expires_at`)} ON ${sql(jtiTable)} (expires_at)`
  })

  // Before the index: a FastAPI Users database may link one provider account to two users (its login then
  // picks one at random), which only a person can sort out.
  const oauthAccountUnique: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    const table = sql(accountTable)
    const duplicates = yield* sql<{ oauth_name: string; account_id: string }>`SELECT oauth_name, account_id
      FROM ${table} GROUP BY oauth_name, account_id HAVING count(*) > 1 ORDER BY oauth_name, account_id`
    if (duplicates.length > 0) {
      return yield* new OAuthAccountConflict({
        table: accountTable,
        accounts: duplicates.map((row) => `${row.oauth_name}:${row.account_id}`)
      })
    }
    yield* sql`CREATE UNIQUE INDEX IF NOT EXISTS ${sql(oauthAccountIndexName(accountTable))} ON ${table} (oauth_name, account_id)`
    // Some providers' tokens pass 1024 characters. SQLite does not enforce VARCHAR lengths.
    if (!sqlite) {
      yield* sql`ALTER TABLE ${table} ALTER COLUMN access_token TYPE TEXT, ALTER COLUMN refresh_token TYPE TEXT`
    }
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(stateTable)} (
      state VARCHAR(128) PRIMARY KEY,
      expires_at BIGINT NOT NULL
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${stateTable}_expires_at`)} ON ${sql(stateTable)} (expires_at)`
  })

  // Families are deleted with their user; tokens with their family (SQLite enforces neither without
  // `PRAGMA foreign_keys = ON`, so `SqlRefreshTokenStore` deletes tokens itself and reads them through their family).
  const createRefreshToken: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    const userId = sql.literal(integer ? "INTEGER" : sqlite ? "CHAR(36)" : "UUID")
    const time = sql.literal(sqlite ? "VARCHAR(24)" : "TIMESTAMPTZ")
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(familyTable)} (
      id VARCHAR(43) PRIMARY KEY,
      user_id ${userId} NOT NULL REFERENCES ${sql(userTable)} (id) ON DELETE CASCADE,
      backend VARCHAR(100) NOT NULL,
      epoch INTEGER NOT NULL,
      created_at ${time} NOT NULL,
      last_used_at ${time} NOT NULL,
      user_agent VARCHAR(512)
    )`
    for (const column of ["user_id", "created_at", "last_used_at"]) {
      yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${familyTable}_${column}`)} ON ${sql(familyTable)} (${sql(column)})`
    }
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(refreshTable)} (
      digest VARCHAR(43) PRIMARY KEY,
      family_id VARCHAR(43) NOT NULL REFERENCES ${sql(familyTable)} (id) ON DELETE CASCADE,
      spent_at ${time}
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${refreshTable}_family_id`)} ON ${sql(refreshTable)} (family_id)`
  })

  // How each stored session was started (`password`, `oauth:<provider>`): the session list shows it. Sessions
  // stored before read null.
  const sessionMethod: Migration = Effect.gen(function* () {
    const { sql: client } = yield* dialect
    const sql = client.withoutTransforms()
    for (const table of [tokenTable, familyTable]) {
      const columns = yield* columnsOf(table)
      if (!columns.has("method")) yield* sql`ALTER TABLE ${sql(table)} ADD COLUMN method VARCHAR(100)`
    }
  })

  // Sessions that end entirely: a database token names the refresh-token family it was issued under (deleted
  // with it); a family keeps the digest of its last rotated token and that rotation's successor, sealed with a
  // key only the rotated token gives (`RefreshTokens`' grace window for a retried refresh).
  const sessionFamily: Migration = Effect.gen(function* () {
    const { sql: client } = yield* dialect
    const sql = client.withoutTransforms()
    if (!(yield* columnsOf(tokenTable)).has("family")) {
      yield* sql`ALTER TABLE ${sql(tokenTable)} ADD COLUMN family VARCHAR(43)`
    }
    const familyColumns = yield* columnsOf(familyTable)
    const added = [
      ["rotated_digest", sql`VARCHAR(43)`],
      ["successor", sql`VARCHAR(128)`]
    ] as const
    for (const [column, type] of added) {
      if (!familyColumns.has(column)) yield* sql`ALTER TABLE ${sql(familyTable)} ADD COLUMN ${sql(column)} ${type}`
    }
  })

  // When each OAuth account was linked (listed to its user), and whether each user has a password of their own (an
  // unlink must leave one way to sign in). Existing links read the migration's time; existing users with a link
  // are taken to have none of their own, which only ever refuses an unlink until they reset their password.
  // SQLite adds no column with a non-constant default: its `created_at` is text the repository writes.
  const oauthLinks: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    const accountColumns = yield* columnsOf(accountTable)
    if (!accountColumns.has("created_at")) {
      yield* sqlite
        ? sql`ALTER TABLE ${sql(accountTable)} ADD COLUMN created_at VARCHAR(24)`
        : sql`ALTER TABLE ${sql(accountTable)} ADD COLUMN created_at TIMESTAMPTZ DEFAULT now()`
      yield* sql`UPDATE ${sql(accountTable)} SET created_at = ${sqlite ? new Date().toISOString() : new Date()} WHERE created_at IS NULL`
    }
    if (!(yield* columnsOf(userTable)).has(passwordSetColumn)) {
      yield* sql`ALTER TABLE ${sql(userTable)} ADD COLUMN ${sql(passwordSetColumn)} BOOLEAN NOT NULL DEFAULT ${sql.literal(sqlite ? "1" : "TRUE")}`
      yield* sql`UPDATE ${sql(userTable)} SET ${sql(passwordSetColumn)} = ${sqlite ? 0 : false}
        WHERE id IN (SELECT user_id FROM ${sql(accountTable)})`
    }
  })

  // The audit log (`SqlAuditLog`): no foreign key to the user, whose history outlives the account. `at` is ms since
  // 1970 on both dialects; `seq` orders events of one millisecond.
  const createAuthEvent: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(eventTable)} (
      seq ${sql.literal(sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY")},
      type VARCHAR(64) NOT NULL,
      at BIGINT NOT NULL,
      user_id VARCHAR(64),
      data TEXT NOT NULL
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${eventTable}_user_id_at`)} ON ${sql(eventTable)} (user_id, at)`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${eventTable}_at`)} ON ${sql(eventTable)} (at)`
  })

  // Deactivations with a reason and an end: FastAPI Users' rows and inserts read null (no detail, no end).
  const userDeactivation: Migration = Effect.gen(function* () {
    const { sql: client } = yield* dialect
    const sql = client.withoutTransforms()
    const columns = yield* columnsOf(userTable)
    if (!columns.has(deactivationReasonColumn)) {
      yield* sql`ALTER TABLE ${sql(userTable)} ADD COLUMN ${sql(deactivationReasonColumn)} TEXT`
    }
    if (!columns.has(deactivatedUntilColumn)) {
      yield* sql`ALTER TABLE ${sql(userTable)} ADD COLUMN ${sql(deactivatedUntilColumn)} BIGINT`
    }
  })

  // Second factors, deleted with their user (SQLite enforces the foreign keys only with `PRAGMA foreign_keys = ON`:
  // `SecondFactor` removes them itself when the manager deletes a user). Times are ms since 1970 on both dialects.
  const createMfa: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    const userId = sql.literal(integer ? "INTEGER" : sqlite ? "CHAR(36)" : "UUID")
    const owner = sql`${userId} NOT NULL REFERENCES ${sql(userTable)} (id) ON DELETE CASCADE`
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(mfa.totp)} (
      user_id ${owner} PRIMARY KEY,
      secret VARCHAR(256),
      pending VARCHAR(256),
      last_step BIGINT NOT NULL DEFAULT -1
    )`
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(mfa.recoveryCode)} (
      user_id ${owner},
      digest VARCHAR(64) NOT NULL,
      PRIMARY KEY (user_id, digest)
    )`
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(mfa.challenge)} (
      digest VARCHAR(64) PRIMARY KEY,
      user_id ${owner},
      backend VARCHAR(100) NOT NULL,
      method VARCHAR(100) NOT NULL,
      amr VARCHAR(100) NOT NULL,
      epoch INTEGER NOT NULL,
      device VARCHAR(64),
      expires_at BIGINT NOT NULL,
      failures INTEGER NOT NULL DEFAULT 0
    )`
    for (const column of ["user_id", "expires_at"]) {
      yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${mfa.challenge}_${column}`)} ON ${sql(mfa.challenge)} (${sql(column)})`
    }
    for (const table of [tokenTable, familyTable]) {
      if (!(yield* columnsOf(table)).has("amr")) yield* sql`ALTER TABLE ${sql(table)} ADD COLUMN amr VARCHAR(100)`
    }
  })

  // Passkeys (`SqlPasskeyStore`): deleted with their user. Times are ms since 1970 on both dialects. A challenge is
  // kept under the SHA-256 of its key and taken by one `DELETE ... RETURNING`.
  const createPasskey: Migration = Effect.gen(function* () {
    const { sql: client, sqlite } = yield* dialect
    const sql = client.withoutTransforms()
    const userId = sql.literal(integer ? "INTEGER" : sqlite ? "CHAR(36)" : "UUID")
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(passkeyTable)} (
      id VARCHAR(1400) PRIMARY KEY,
      user_id ${userId} NOT NULL REFERENCES ${sql(userTable)} (id) ON DELETE CASCADE,
      public_key TEXT NOT NULL,
      counter BIGINT NOT NULL,
      transports VARCHAR(256) NOT NULL,
      device_type VARCHAR(32) NOT NULL,
      backed_up BOOLEAN NOT NULL,
      name VARCHAR(100) NOT NULL,
      created_at BIGINT NOT NULL,
      last_used_at BIGINT
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${passkeyTable}_user_id`)} ON ${sql(passkeyTable)} (user_id)`
    const challengeTable = `${passkeyTable}_challenge`
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(challengeTable)} (
      id VARCHAR(64) PRIMARY KEY,
      challenge VARCHAR(128) NOT NULL,
      purpose VARCHAR(16) NOT NULL,
      user_id VARCHAR(64),
      expires_at BIGINT NOT NULL
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${challengeTable}_expires_at`)} ON ${sql(challengeTable)} (expires_at)`
  })

  // The mail outbox (`SqlOutbox`): the message sealed in `payload`, times in ms since 1970 on both dialects.
  const createOutbox: Migration = Effect.gen(function* () {
    const { sql: client } = yield* dialect
    const sql = client.withoutTransforms()
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(outboxTable)} (
      id VARCHAR(36) PRIMARY KEY,
      kind VARCHAR(64) NOT NULL,
      user_id VARCHAR(64),
      payload TEXT NOT NULL,
      state VARCHAR(8) NOT NULL,
      attempts INTEGER NOT NULL,
      available_at BIGINT NOT NULL,
      created_at BIGINT NOT NULL,
      last_error TEXT
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`ix_${outboxTable}_state_available_at`)}
      ON ${sql(outboxTable)} (state, available_at)`
  })

  // Pending sign-ins by e-mail (`SqlEmailSignInStore`): one link and one code per address (its key), by digest.
  const createEmailSignIn: Migration = Effect.gen(function* () {
    const { sql: client } = yield* dialect
    const sql = client.withoutTransforms()
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(signInTable)} (
      kind VARCHAR(8) NOT NULL,
      email_key VARCHAR(400) NOT NULL,
      email VARCHAR(320) NOT NULL,
      digest VARCHAR(64) NOT NULL,
      user_id VARCHAR(64),
      attempts INTEGER NOT NULL,
      expires_at BIGINT NOT NULL,
      PRIMARY KEY (kind, email_key)
    )`
    yield* sql`CREATE UNIQUE INDEX IF NOT EXISTS ${sql(`ix_${signInTable}_digest`)} ON ${sql(signInTable)} (digest)`
  })

  return {
    "0001_create_user": createUser,
    "0002_create_oauth_account": createOAuthAccount,
    "0003_create_accesstoken": createAccessToken,
    "0004_user_email_lower_unique": uniqueLowerEmail,
    "0005_user_email_key": emailKeyUnique,
    "0006_accesstoken_user_id": accessTokenUserId,
    "0007_session_epoch": sessionEpoch,
    "0008_refresh_token": createRefreshToken,
    "0009_oauth_account_unique": oauthAccountUnique,
    // The domain's key became its DNS name (IDNA) instead of its case folding: `straße.de` is not `strasse.de`.
    "0010_user_email_key_idna": writeEmailKeys,
    "0011_session_method": sessionMethod,
    "0012_session_family": sessionFamily,
    "0013_oauth_account_created_at_password_set": oauthLinks,
    "0014_auth_event": createAuthEvent,
    "0015_user_deactivation": userDeactivation,
    "0016_mfa": createMfa,
    "0017_passkey": createPasskey,
    "0018_outbox": createOutbox,
    "0019_email_sign_in": createEmailSignIn
  }
}

/**
 * A `Migrator` loader for these migrations.
 *
 * @since 0.1.0
 */
export const loader = (options: Options = {}): Migrator.Loader => Migrator.fromRecord(migrations(options))

/**
 * Runs the migrations not yet applied (recorded in `effect_sql_migrations`, or `table`) and returns them.
 * Fails with `EmailCaseConflict` when existing e-mails are one address (differ only by case or Unicode form),
 * and with `OAuthAccountConflict` when one provider account is linked more than once.
 *
 * @since 0.1.0
 */
export const run = (
  options: Options & { readonly table?: string | undefined } = {}
): Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError | EmailCaseConflict | OAuthAccountConflict,
  SqlClient.SqlClient
> =>
  Migrator.make({})({ loader: loader(options), ...(options.table === undefined ? {} : { table: options.table }) }).pipe(
    // The migrator turns a failing migration into a defect; give the conflict back to the caller as a typed error.
    Effect.catchAllDefect((defect) =>
      defect instanceof Migrator.MigrationError &&
      (defect.cause instanceof EmailCaseConflict || defect.cause instanceof OAuthAccountConflict)
        ? Effect.fail(defect.cause)
        : Effect.die(defect)
    )
  )

/**
 * Runs the migrations when the layer is built; for apps that migrate on start-up.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options & { readonly table?: string | undefined } = {}
): Layer.Layer<
  never,
  Migrator.MigrationError | SqlError | EmailCaseConflict | OAuthAccountConflict,
  SqlClient.SqlClient
> => Layer.effectDiscard(run(options))

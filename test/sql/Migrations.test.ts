import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { assertSome } from "@effect/vitest/utils"
import { Effect, type Layer, Option } from "effect"
import { User, UserRepository } from "effect-users"
import { Migrations, SqlUserRepository } from "effect-users/sql"
import { describePg, freshDatabase } from "../utils/PgTest.js"

/** The IDs of every migration, in order: the number each name starts with (`0018_outbox` is 18). */
const allMigrations = Object.keys(Migrations.migrations())
  .map((name) => Number(name.slice(0, 4)))
  .sort((a, b) => a - b)

let counter = 0
/** Table names no other test uses, so that tests can share one database. */
const freshTables = () => {
  const prefix = `m${counter++}_${Date.now().toString(36)}`
  return {
    userTable: `${prefix}_user`,
    oauthAccountTable: `${prefix}_oauth_account`,
    accessTokenTable: `${prefix}_accesstoken`,
    oauthStateTable: `${prefix}_oauth_state`,
    refreshTokenTable: `${prefix}_refresh_token`,
    passkeyTable: `${prefix}_passkey`,
    table: `${prefix}_migrations`
  }
}

const tablesOf = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.onDialectOrElse({
    sqlite: () => sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`,
    orElse: () => sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`
  })
  return rows.map((row) => row.name)
})

/** Inserts an active, unverified user row as an older schema holds it, bypassing the repository. */
const insertUser = (table: string, email: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql`INSERT INTO ${sql(table)} ${sql.insert({
        id: crypto.randomUUID(),
        email,
        hashed_password: "x",
        // 1/0: SQLite's driver refuses booleans, and PostgreSQL reads them as booleans.
        is_active: 1,
        is_superuser: 0,
        is_verified: 0
      })}`
  )

const migrationSpec = (name: string, client: () => Layer.Layer<SqlClient.SqlClient, unknown>) =>
  describe(name, () => {
    it.live("create the tables once; a second run applies nothing", () =>
      Effect.gen(function* () {
        const tables = freshTables()
        const applied = yield* Migrations.run(tables)
        assert.deepStrictEqual(
          applied.map(([id]) => id),
          allMigrations
        )
        assert.includeMembers(yield* tablesOf, [
          tables.userTable,
          tables.oauthAccountTable,
          tables.accessTokenTable,
          tables.refreshTokenTable,
          `${tables.refreshTokenTable}_family`
        ])
        assert.deepStrictEqual(yield* Migrations.run(tables), [])
      }).pipe(Effect.provide(client()))
    )

    it.live("are safe to run on tables that already exist, and keep their rows", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const tables = freshTables()
        const uuid = sql.literal(sql.onDialectOrElse({ sqlite: () => "CHAR(36)", orElse: () => "UUID" }))
        yield* sql`CREATE TABLE ${sql(tables.userTable)} (id ${uuid} PRIMARY KEY, email VARCHAR(320) NOT NULL,
          hashed_password VARCHAR(1024) NOT NULL, is_active BOOLEAN NOT NULL, is_superuser BOOLEAN NOT NULL,
          is_verified BOOLEAN NOT NULL)`
        yield* sql`CREATE UNIQUE INDEX ${sql(`ix_${tables.userTable}_email`)} ON ${sql(tables.userTable)} (email)`
        yield* sql`INSERT INTO ${sql(tables.userTable)} VALUES
          ('6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f', 'Kay@Camelot.bt', 'x', TRUE, FALSE, TRUE)`
        yield* Migrations.run(tables)
        assert.includeMembers(yield* tablesOf, [tables.oauthAccountTable, tables.accessTokenTable])
        const { table: _, oauthStateTable: _state, ...repositoryTables } = tables
        const repository = yield* Effect.provide(
          UserRepository.UserRepository,
          SqlUserRepository.layer(repositoryTables)
        )
        const kay = yield* repository.getByEmail("kay@camelot.bt")
        assertSome(kay.pipe(Option.map((user) => [user.email, user.isActive, user.isVerified])), [
          "Kay@Camelot.bt",
          true,
          true
        ])
      }).pipe(Effect.provide(client()))
    )

    it.live("refuse the lower(email) index when e-mails differ only by case, listing them", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const tables = freshTables()
        // Only the first migration: FastAPI Users' own unique index is case-sensitive.
        const first = Migrations.migrations(tables)["0001_create_user"]!
        yield* first
        for (const email of ["Gareth@Orkney.bt", "gareth@orkney.bt", "GARETH@ORKNEY.BT", "gaheris@orkney.bt"]) {
          yield* insertUser(tables.userTable, email)
        }
        const error = yield* Effect.flip(Migrations.run(tables))
        assert.strictEqual(error._tag, "EmailCaseConflict")
        assert.deepStrictEqual((error as Migrations.EmailCaseConflict).emails, [
          "GARETH@ORKNEY.BT",
          "Gareth@Orkney.bt",
          "gareth@orkney.bt"
        ])
        assert.include(error.message, "GARETH@ORKNEY.BT, Gareth@Orkney.bt, gareth@orkney.bt")
        assert.include(error.message, `lower(email) of table "${tables.userTable}"`)
        assert.notInclude(error.message, "gaheris")
        // The migrator runs in one transaction: a refused run leaves no half-made schema behind.
        assert.notInclude(yield* tablesOf, tables.oauthAccountTable)

        // Once the duplicates are resolved, the migrations complete.
        yield* sql`DELETE FROM ${sql(tables.userTable)} WHERE email <> ${"gareth@orkney.bt"} AND lower(email) = ${"gareth@orkney.bt"}`
        const applied = yield* Migrations.run(tables)
        assert.deepStrictEqual(
          applied.map(([id]) => id),
          allMigrations
        )
      }).pipe(Effect.provide(client()))
    )

    it.live("refuse the unique (oauth_name, account_id) when an account is linked twice, listing them", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const tables = freshTables()
        const steps = Migrations.migrations(tables)
        // A FastAPI Users database: no unique index on the provider account.
        for (const id of ["0001_create_user", "0002_create_oauth_account", "0003_create_accesstoken"]) {
          yield* steps[id]!
        }
        const users = ["lot@orkney.bt", "morgause@orkney.bt", "anna@orkney.bt"].map((email) => ({
          id: crypto.randomUUID(),
          email
        }))
        for (const user of users) {
          yield* sql`INSERT INTO ${sql(tables.userTable)} (id, email, hashed_password, is_active, is_superuser, is_verified)
            VALUES (${user.id}, ${user.email}, 'x', TRUE, FALSE, TRUE)`
        }
        const link = (userId: string, name: string, accountId: string) =>
          sql`INSERT INTO ${sql(tables.oauthAccountTable)} (id, oauth_name, access_token, account_id, account_email, user_id)
            VALUES (${crypto.randomUUID()}, ${name}, 'token', ${accountId}, 'x@orkney.bt', ${userId})`
        yield* link(users[0]!.id, "google", "111")
        yield* link(users[1]!.id, "google", "111")
        yield* link(users[2]!.id, "github", "222")
        yield* link(users[2]!.id, "github", "222")
        yield* link(users[2]!.id, "google", "222")
        const error = yield* Effect.flip(Migrations.run(tables))
        assert.strictEqual(error._tag, "OAuthAccountConflict")
        assert.deepStrictEqual((error as Migrations.OAuthAccountConflict).accounts, ["github:222", "google:111"])
        assert.include(error.message, `(oauth_name, account_id) of table "${tables.oauthAccountTable}"`)
        assert.include(error.message, "github:222, google:111")
        assert.notInclude(error.message, "google:222")

        yield* sql`DELETE FROM ${sql(tables.oauthAccountTable)} WHERE user_id = ${users[1]!.id} OR oauth_name = 'github'`
        assert.deepStrictEqual(
          (yield* Migrations.run(tables)).map(([id]) => id),
          allMigrations
        )
        const again = yield* Effect.exit(link(users[1]!.id, "google", "111"))
        assert.strictEqual(again._tag, "Failure")
        // Tokens are text now: PostgreSQL took 1024 characters at most before.
        yield* sql`INSERT INTO ${sql(tables.oauthAccountTable)} (id, oauth_name, access_token, refresh_token, account_id, account_email, user_id)
          VALUES (${crypto.randomUUID()}, 'long', ${"a".repeat(5000)}, ${"r".repeat(5000)}, '333', 'x@orkney.bt', ${users[0]!.id})`
      }).pipe(Effect.provide(client()))
    )

    it.live("backfill email_key in TypeScript; refuse addresses that are one under the key, listing them", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const tables = freshTables()
        const { table: _, oauthStateTable: _state, ...repositoryTables } = tables
        const steps = Migrations.migrations(tables)
        // An older schema: the first four migrations, not yet email_key.
        for (const id of ["0001_create_user", "0002_create_oauth_account", "0003_create_accesstoken"]) {
          yield* steps[id]!
        }
        yield* steps["0004_user_email_lower_unique"]!
        // lower() keeps these apart (ß is not ss, NFD is not NFC), so FastAPI Users' indexes let them in.
        const emails = [
          "Gauß@Göttingen.de",
          "GAUSS@göttingen.de",
          "E\u0301mile@zola.fr",
          "émile@zola.fr",
          "kay@camelot.bt"
        ]
        for (const email of emails) yield* insertUser(tables.userTable, email)
        const error = yield* Effect.flip(Migrations.run(tables))
        assert.strictEqual(error._tag, "EmailCaseConflict")
        const conflict = error as Migrations.EmailCaseConflict
        assert.strictEqual(conflict.index, "email_key")
        assert.sameMembers([...conflict.emails], emails.slice(0, 4))
        assert.include(error.message, `email_key of table "${tables.userTable}"`)
        for (const email of emails.slice(0, 4)) assert.include(error.message, email)
        assert.notInclude(error.message, "kay@")

        yield* sql`DELETE FROM ${sql(tables.userTable)} WHERE email IN (${emails[1]!}, ${emails[2]!})`
        assert.deepStrictEqual(
          (yield* Migrations.run(tables)).map(([id]) => id),
          allMigrations
        )
        const rows = yield* sql<{
          email: string
          email_key: string
        }>`SELECT email, email_key FROM ${sql(tables.userTable)}`
        assert.strictEqual(rows.length, 3)
        for (const row of rows) assert.strictEqual(row.email_key, User.emailKey(row.email))
        const repository = yield* Effect.provide(
          UserRepository.UserRepository,
          SqlUserRepository.layer(repositoryTables)
        )
        assert.strictEqual(Option.getOrThrow(yield* repository.getByEmail("gauss@GÖTTINGEN.DE")).email, emails[0])
        assert.strictEqual(Option.getOrThrow(yield* repository.getByEmail("E\u0301MILE@zola.fr")).email, emails[3])
        // The unique index on email_key settles what lower(email) cannot.
        const taken = yield* Effect.flip(
          repository.create({
            id: crypto.randomUUID(),
            email: "gauss@göttingen.de",
            hashedPassword: "x",
            isActive: true,
            isSuperuser: false,
            isVerified: false
          })
        )
        assert.strictEqual(taken._tag, "UserAlreadyExists")
      }).pipe(Effect.provide(client()))
    )

    it.live("0010 rewrites keys whose domain is its DNS name now; refuses two spellings of one DNS name", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const tables = freshTables()
        const { table: _, oauthStateTable: _state, ...repositoryTables } = tables
        const steps = Migrations.migrations(tables)
        const ids = Object.keys(steps).sort()
        for (const id of ids.filter((id) => id < "0010")) yield* steps[id]!
        // Keys as 0005 wrote them before 0010: the domain case-folded like the local part.
        const before: Array<readonly [email: string, key: string]> = [
          ["kay@ｓｔｒａｓｓｅ.de", "kay@ｓｔｒａｓｓｅ.de"],
          ["kay@straße.de", "kay@strasse.de"],
          ["Gauß@Göttingen.de", "gauss@göttingen.de"],
          ["lancelot@camelot.bt", "lancelot@camelot.bt"]
        ]
        const insert = (email: string, key: string) =>
          sql`INSERT INTO ${sql(tables.userTable)} ${sql.insert({
            id: crypto.randomUUID(),
            email,
            hashed_password: "x",
            is_active: 1,
            is_superuser: 0,
            is_verified: 0,
            email_key: key
          })}`
        for (const [email, key] of before) yield* insert(email, key)
        // The fullwidth spelling's new key is the one straße.de's row holds until it moves too.
        yield* steps["0010_user_email_key_idna"]!
        const rows = yield* sql<{ email: string; email_key: string }>`SELECT email, email_key FROM ${sql(
          tables.userTable
        )}`
        assert.sameDeepMembers(
          rows.map((row) => [row.email, row.email_key]),
          [
            ["kay@straße.de", "kay@xn--strae-oqa.de"],
            ["kay@ｓｔｒａｓｓｅ.de", "kay@strasse.de"],
            ["Gauß@Göttingen.de", "gauss@xn--gttingen-n4a.de"],
            ["lancelot@camelot.bt", "lancelot@camelot.bt"]
          ]
        )
        // The repository reads the columns of the later migrations.
        for (const id of ids.filter((id) => id > "0010")) yield* steps[id]!
        const repository = yield* Effect.provide(
          UserRepository.UserRepository,
          SqlUserRepository.layer(repositoryTables)
        )
        assert.strictEqual(
          Option.getOrThrow(yield* repository.getByEmail("KAY@STRASSE.DE")).email,
          "kay@ｓｔｒａｓｓｅ.de"
        )
        assert.strictEqual(
          Option.getOrThrow(yield* repository.getByEmail("kay@xn--strae-oqa.de")).email,
          "kay@straße.de"
        )

        // Two spellings of one DNS name that the folding kept apart are one address now: refused, both named.
        yield* insert("kay@xn--gttingen-n4a.de", "kay@xn--gttingen-n4a.de")
        yield* insert("kay@göttingen.de", "kay@göttingen.de")
        const error = yield* Effect.flip(steps["0010_user_email_key_idna"]!)
        assert.strictEqual(error._tag, "EmailCaseConflict")
        assert.sameMembers(
          [...(error as Migrations.EmailCaseConflict).emails],
          ["kay@xn--gttingen-n4a.de", "kay@göttingen.de"]
        )
      }).pipe(Effect.provide(client()))
    )
  })

migrationSpec("Migrations on SQLite", () => SqliteClient.layer({ filename: ":memory:" }))

describePg("PostgreSQL", () => {
  const db = freshDatabase()
  migrationSpec("Migrations on PostgreSQL", () => db.client)
})

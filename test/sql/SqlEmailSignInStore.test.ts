/** The SQL store of pending sign-ins by e-mail passes the store contract on SQLite and PostgreSQL. */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Layer } from "effect"
import { Migrations, SqlEmailSignInStore } from "effect-users/sql"
import { emailSignInStoreSuite } from "../suites/EmailSignInStoreSuite.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"

const migrated = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  SqlEmailSignInStore.layer().pipe(Layer.provide(Migrations.layer()), Layer.provide(client), Layer.orDie)

emailSignInStoreSuite("SqlEmailSignInStore on SQLite", migrated(SqliteClient.layer({ filename: ":memory:" })))

describePg("SqlEmailSignInStore on PostgreSQL", () => {
  emailSignInStoreSuite("PostgreSQL", migrated(freshDatabase().client))
})

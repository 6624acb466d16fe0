/**
 * Repository layers over a SQL client for the conformance and manager suites: the default model on
 * FastAPI Users' tables, and `CustomModel` on its own tables with integer IDs and three extra columns.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import { Migrations, SqlUserRepository } from "effect-users/sql"
import { CustomModel } from "../suites/UserRepositorySuite.js"

export const customTables = {
  userTable: "knight",
  oauthAccountTable: "knight_oauth_account",
  accessTokenTable: "knight_accesstoken",
  idType: "integer"
} as const

/** The app-side migrations of `CustomModel`: ours, then its own columns, tracked in their own table. */
export const migrateCustom = Migrator.make({})({
  table: "knight_migrations",
  loader: Migrator.fromRecord({
    ...Migrations.migrations(customTables),
    "0100_knight_fields": Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`ALTER TABLE knight ADD COLUMN first_name VARCHAR(100) NOT NULL DEFAULT ''`
      yield* sql`ALTER TABLE knight ADD COLUMN birth_year INTEGER`
      yield* sql`ALTER TABLE knight ADD COLUMN newsletter BOOLEAN NOT NULL DEFAULT FALSE`
    })
  })
})

/** The default-model repository, after running the migrations. */
export const defaultRepository = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  SqlUserRepository.layer().pipe(Layer.provide(Migrations.layer()), Layer.provide(client), Layer.orDie)

/** The `CustomModel` repository, after running its migrations. */
export const customRepository = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  SqlUserRepository.layer({
    model: CustomModel,
    userTable: customTables.userTable,
    oauthAccountTable: customTables.oauthAccountTable
  }).pipe(Layer.provide(Layer.effectDiscard(migrateCustom)), Layer.provide(client), Layer.orDie)

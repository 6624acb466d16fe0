/**
 * The database: effect-users' tables, then the app's own column and table (app migrations start at 100).
 */
import { Migrator, SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { Migrations } from "effect-users/sql"

export const migrations = {
  ...Migrations.migrations(),
  "0100_user_display_name": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`ALTER TABLE ${sql("user")} ADD COLUMN display_name VARCHAR(100) NOT NULL DEFAULT ''`
  ),
  "0101_note": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE note (
      id SERIAL PRIMARY KEY,
      user_id UUID NOT NULL REFERENCES ${sql("user")} (id) ON DELETE CASCADE,
      text VARCHAR(2000) NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`
  )
}

// Runs the migrations that have not run yet when the layer is built.
export const MigrationsLive = Layer.effectDiscard(Migrator.make({})({ loader: Migrator.fromRecord(migrations) }))

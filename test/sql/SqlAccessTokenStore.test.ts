/**
 * The SQL store passes the conformance suite on SQLite and PostgreSQL (the migrated `accesstoken` table),
 * and revoking a user's sessions is one statement on the `user_id` index.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlAccessTokenStore } from "effect-users/sql"
import { accessTokenStoreSuite } from "../suites/AccessTokenStoreSuite.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { defaultRepository } from "../utils/SqlTest.js"

const storage = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.merge(SqlAccessTokenStore.layer().pipe(Layer.provide(client)), defaultRepository(client))

accessTokenStoreSuite("SqlAccessTokenStore on SQLite", storage(SqliteClient.layer({ filename: ":memory:" })))

describePg("SqlAccessTokenStore on PostgreSQL", () => {
  const { client } = freshDatabase()
  accessTokenStoreSuite("PostgreSQL", storage(client))

  layer(storage(client).pipe(Layer.provideMerge(client)))("PostgreSQL plan", (it) => {
    it.effect("deleting a user's tokens is one statement on the user_id index", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const plan = yield* sql.withTransaction(
          Effect.zipRight(
            sql`SET LOCAL enable_seqscan = off`,
            sql<{ "QUERY PLAN": string }>`EXPLAIN DELETE FROM accesstoken WHERE user_id = ${crypto.randomUUID()}`
          )
        )
        assert.include(plan.map((row) => row["QUERY PLAN"]).join("\n"), "ix_accesstoken_user_id")
      }).pipe(Effect.orDie)
    )
  })
})

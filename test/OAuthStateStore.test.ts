/**
 * The `OAuthStateStore` contract over memory, SQLite and PostgreSQL: a state is spent once, also under
 * concurrent spends, and an expired record is forgotten.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { OAuthStateStore } from "effect-users"
import { Migrations, SqlOAuthStateStore } from "effect-users/sql"
import { describePg, freshDatabase } from "./utils/PgTest.js"

const { OAuthStateStore: Store } = OAuthStateStore

const suite = (name: string, store: Layer.Layer<OAuthStateStore.OAuthStateStore, unknown>) =>
  layer(store, { excludeTestServices: true })(name, (it) => {
    it.effect("a state is spent once", () =>
      Effect.gen(function* () {
        const states = yield* Store
        const state = crypto.randomUUID()
        const later = Date.now() + 60_000
        assert.isTrue(yield* states.spend(state, later))
        assert.isFalse(yield* states.spend(state, later))
        assert.isTrue(yield* states.spend(crypto.randomUUID(), later))
      })
    )

    it.effect("of concurrent spends of one state, exactly one wins", () =>
      Effect.gen(function* () {
        const states = yield* Store
        const state = crypto.randomUUID()
        const results = yield* Effect.all(
          Array.from({ length: 16 }, () => states.spend(state, Date.now() + 60_000)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter((won) => won).length, 1)
      })
    )

    it.effect("an expired record is forgotten (the cookie's own expiry refuses such a state first)", () =>
      Effect.gen(function* () {
        const states = yield* Store
        const state = crypto.randomUUID()
        assert.isTrue(yield* states.spend(state, Date.now() - 1000))
        assert.isTrue(yield* states.spend(state, Date.now() + 60_000))
        assert.isFalse(yield* states.spend(state, Date.now() + 60_000))
      })
    )
  })

const sql = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  SqlOAuthStateStore.layer().pipe(Layer.provide(Migrations.layer()), Layer.provide(client), Layer.orDie)

describe("OAuthStateStore", () => {
  suite("layerMemory", OAuthStateStore.layerMemory)
  suite("SqlOAuthStateStore on SQLite", sql(SqliteClient.layer({ filename: ":memory:" })))
})

describePg("OAuthStateStore on PostgreSQL", () => {
  const database = freshDatabase()
  suite("SqlOAuthStateStore on PostgreSQL", sql(database.client))
})

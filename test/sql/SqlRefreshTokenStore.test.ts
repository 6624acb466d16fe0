/**
 * The SQL refresh-token store passes the conformance suite on SQLite and PostgreSQL (migration 0008's tables),
 * and a user's deletion ends their families on PostgreSQL (the foreign key cascades).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { RefreshTokenStore, UserRepository } from "effect-users"
import { SqlRefreshTokenStore } from "effect-users/sql"
import { refreshTokenStoreSuite } from "../suites/RefreshTokenStoreSuite.js"
import { newUser } from "../suites/UserRepositorySuite.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { defaultRepository } from "../utils/SqlTest.js"

const storage = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.merge(SqlRefreshTokenStore.layer().pipe(Layer.provide(client)), defaultRepository(client))

refreshTokenStoreSuite("SqlRefreshTokenStore on SQLite", storage(SqliteClient.layer({ filename: ":memory:" })))

describePg("SqlRefreshTokenStore on PostgreSQL", () => {
  const { client } = freshDatabase()
  refreshTokenStoreSuite("PostgreSQL", storage(client))

  layer(storage(client))("PostgreSQL cascade", (it) => {
    it.effect("deleting a user ends their families and tokens", () =>
      Effect.gen(function* () {
        const users = yield* UserRepository.UserRepository
        const tokens = yield* RefreshTokenStore.RefreshTokenStore
        const user = yield* users.create(newUser())
        const token = crypto.randomUUID()
        const now = new Date()
        const family = { id: crypto.randomUUID(), userId: String(user.id), backend: "jwt", epoch: 0 }
        yield* tokens.create({ ...family, createdAt: now, lastUsedAt: now }, token)
        yield* users.delete(user)
        assert.isTrue(Option.isNone(yield* tokens.find(token)))
        assert.deepStrictEqual(yield* tokens.listOf(String(user.id)), [])
      })
    )
  })
})

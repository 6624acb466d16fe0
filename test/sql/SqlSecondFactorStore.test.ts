/**
 * The SQL second-factor store passes the conformance suite on SQLite and PostgreSQL (migration 0016's tables), and
 * a user's deletion removes their factors on PostgreSQL (the foreign keys cascade).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { SecondFactorStore, UserRepository } from "effect-users"
import { SqlSecondFactorStore } from "effect-users/sql"
import { secondFactorStoreSuite } from "../suites/SecondFactorStoreSuite.js"
import { newUser } from "../suites/UserRepositorySuite.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { defaultRepository } from "../utils/SqlTest.js"

const storage = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.merge(SqlSecondFactorStore.layer().pipe(Layer.provide(client)), defaultRepository(client))

secondFactorStoreSuite("SqlSecondFactorStore on SQLite", storage(SqliteClient.layer({ filename: ":memory:" })))

describePg("SqlSecondFactorStore on PostgreSQL", () => {
  const { client } = freshDatabase()
  secondFactorStoreSuite("PostgreSQL", storage(client))

  layer(storage(client))("PostgreSQL cascade", (it) => {
    it.effect("deleting a user removes their TOTP, recovery codes and pending logins", () =>
      Effect.gen(function* () {
        const users = yield* UserRepository.UserRepository
        const factors = yield* SecondFactorStore.SecondFactorStore
        const user = yield* users.create(newUser())
        const userId = String(user.id)
        yield* factors.setPending(userId, "sealed")
        yield* factors.confirm(userId, "sealed", 1, ["code"])
        const digest = crypto.randomUUID()
        yield* factors.createChallenge(digest, {
          userId,
          backend: "jwt",
          method: "password",
          amr: ["pwd"],
          epoch: 0,
          expiresAt: new Date(Date.now() + 60_000),
          failures: 0
        })
        yield* users.delete(user)
        assert.isTrue(Option.isNone(yield* factors.totp(userId)))
        assert.strictEqual(yield* factors.recoveryCodesLeft(userId), 0)
        assert.isTrue(Option.isNone(yield* factors.findChallenge(digest)))
      })
    )
  })
})

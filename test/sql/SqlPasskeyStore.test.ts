/**
 * The SQL passkey store passes the conformance suite on SQLite and PostgreSQL (migration 0017's tables), and a
 * user's deletion from the users table deletes their passkeys on both (the foreign key cascades).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { PasskeyStore, UserRepository } from "effect-users"
import { SqlPasskeyStore } from "effect-users/sql"
import { passkeyStoreSuite } from "../suites/PasskeyStoreSuite.js"
import { newUser } from "../suites/UserRepositorySuite.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { defaultRepository } from "../utils/SqlTest.js"

const storage = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.merge(SqlPasskeyStore.layer().pipe(Layer.provide(client)), defaultRepository(client))

const cascade = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  layer(storage(client))(`${name} cascade`, (it) => {
    it.effect("deleting a user from the users table deletes their passkeys", () =>
      Effect.gen(function* () {
        const users = yield* UserRepository.UserRepository
        const passkeys = yield* PasskeyStore.PasskeyStore
        const user = yield* users.create(newUser())
        const credential: PasskeyStore.Credential = {
          id: crypto.randomUUID(),
          userId: String(user.id),
          publicKey: "pk",
          counter: 0,
          transports: [],
          deviceType: "singleDevice",
          backedUp: false,
          name: "Key",
          createdAt: new Date(),
          lastUsedAt: null
        }
        assert.isTrue(yield* passkeys.add(credential))
        yield* users.delete(user)
        assert.isTrue(Option.isNone(yield* passkeys.find(credential.id)))
        assert.deepStrictEqual(yield* passkeys.listOf(String(user.id)), [])
      })
    )
  })

const sqlite = SqliteClient.layer({ filename: ":memory:" })
passkeyStoreSuite("SqlPasskeyStore on SQLite", storage(sqlite))
cascade("SQLite", sqlite)

describePg("SqlPasskeyStore on PostgreSQL", () => {
  const { client } = freshDatabase()
  passkeyStoreSuite("PostgreSQL", storage(client))
  cascade("PostgreSQL", client)
})

import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { httpSuite } from "./HttpSuite.js"
import { makeServer, request } from "./utils/HttpTest.js"
import { describePg, freshDatabase } from "./utils/PgTest.js"
import { freshEmail } from "./utils/TestUsers.js"

describe("HTTP on SQLite", () => {
  httpSuite("routes", SqliteClient.layer({ filename: ":memory:" }))

  layer(makeServer(SqliteClient.layer({ filename: ":memory:" }), { requiresVerification: true }).layer, {
    excludeTestServices: true
  })("requiresVerification", (it) => {
    it.effect("login of an unverified user: 400 LOGIN_USER_NOT_VERIFIED", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        yield* request("/auth/register", { json: { email, password: "correct-horse-battery" } })
        const reply = yield* request("/auth/jwt/login", {
          form: { username: email, password: "correct-horse-battery" }
        })
        assert.deepStrictEqual([reply.status, reply.body], [400, { detail: "LOGIN_USER_NOT_VERIFIED" }])
      })
    )
  })
})

describePg("HTTP on PostgreSQL", () => {
  const database = freshDatabase()
  httpSuite("routes", database.client)
})

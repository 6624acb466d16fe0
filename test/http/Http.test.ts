import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { UserManager } from "effect-users"
import { httpSuite } from "../suites/HttpSuite.js"
import { makeServer, request } from "../utils/HttpTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail } from "../utils/TestUsers.js"

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

describe("HTTP with a refusing onBeforeDelete hook", () => {
  const refuse = {
    onBeforeDelete: (user: { email: string }) =>
      user.email.startsWith("keep") ? Effect.fail("has orders") : Effect.void
  }
  layer(makeServer(SqliteClient.layer({ filename: ":memory:" }), {}, refuse).layer, { excludeTestServices: true })(
    "DELETE /users/{id}",
    (it) => {
      it.effect("answers 409 DELETE_USER_ABORTED, not 500, and the user stays", () =>
        Effect.gen(function* () {
          const users = yield* UserManager.UserManager
          const password = Redacted.make("correct-horse-battery")
          const admin = yield* users.create({ email: freshEmail("admin"), password, isSuperuser: true })
          const kept = yield* users.create({ email: freshEmail("keep"), password })
          const login = yield* request("/auth/jwt/login", {
            form: { username: admin.email, password: "correct-horse-battery" }
          })
          const headers = { authorization: `Bearer ${login.body.access_token}` }
          const reply = yield* request(`/users/${kept.id}`, { method: "DELETE", headers })
          assert.deepStrictEqual([reply.status, reply.body], [409, { detail: "DELETE_USER_ABORTED" }])
          const stays = yield* request(`/users/${kept.id}`, { headers })
          assert.deepStrictEqual([stays.status, stays.body.email], [200, kept.email])
        })
      )
    }
  )
})

describePg("HTTP on PostgreSQL", () => {
  const database = freshDatabase()
  httpSuite("routes", database.client)
})

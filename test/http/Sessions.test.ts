/**
 * The sessions suite on memory, SQLite and PostgreSQL storage; FastAPI Users' `PATCH /users/me` with
 * `requireCurrentPassword: false`; and the error codes in the OpenAPI document.
 */
import { HttpApi, OpenApi } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { AccessTokenStore, AuthStrategy, RefreshTokenStore, UserManager, UserRepository } from "effect-users"
import { AuthBackend, UsersApi } from "effect-users/http"
import { SqlAccessTokenStore, SqlRefreshTokenStore } from "effect-users/sql"
import { bearer, makeSessionsServer, sessionsSuite } from "../suites/SessionsSuite.js"
import { request } from "../utils/HttpTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { defaultRepository } from "../utils/SqlTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const memory = Layer.mergeAll(UserRepository.layerMemory, AccessTokenStore.layerMemory, RefreshTokenStore.layerMemory)
const sqlStorage = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.mergeAll(
    defaultRepository(client),
    Layer.merge(SqlAccessTokenStore.layer(), SqlRefreshTokenStore.layer()).pipe(Layer.provide(client))
  )

sessionsSuite("Sessions on memory", memory)
sessionsSuite("Sessions on SQLite", sqlStorage(SqliteClient.layer({ filename: ":memory:" })))
describePg("Sessions on PostgreSQL", () => {
  sessionsSuite("PostgreSQL", sqlStorage(freshDatabase().client))
})

const fastApiUsers = makeSessionsServer(memory, { requireCurrentPassword: false })
layer(fastApiUsers.layer, { excludeTestServices: true })("requireCurrentPassword: false", (it) => {
  it.effect("PATCH /users/me changes password and e-mail without current_password (FastAPI Users' behaviour)", () =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const email = freshEmail()
      yield* Effect.orDie(users.create({ email, password: Redacted.make("correct-horse-battery") }))
      const login = yield* request("/auth/jwt/login", { form: { username: email, password: "correct-horse-battery" } })
      const token = login.body.access_token as string
      const newEmail = freshEmail("moved")
      const patched = yield* request("/users/me", {
        method: "PATCH",
        headers: bearer(token),
        json: { email: newEmail, password: "another-password" }
      })
      assert.deepStrictEqual([patched.status, patched.body.email], [200, newEmail])
      // The session that made the change stays, as a FastAPI Users front end expects.
      assert.strictEqual((yield* request("/users/me", { headers: bearer(token) })).status, 200)
      const again = yield* request("/auth/jwt/login", { form: { username: newEmail, password: "another-password" } })
      assert.strictEqual(again.status, 200)
    })
  )
})

layer(Layer.empty)("OpenAPI", (it) => {
  it.effect("declares the re-authentication and session codes, and the sessions routes", () =>
    Effect.sync(() => {
      const Users = UsersApi.make({
        backends: [AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret: Redacted.make("x".repeat(32)) }))]
      })
      const spec = JSON.stringify(OpenApi.fromApi(Users.addTo(HttpApi.make("spec"))))
      for (const code of ["CURRENT_PASSWORD_REQUIRED", "CURRENT_PASSWORD_INVALID", "SESSION_NOT_FOUND"]) {
        assert.include(spec, code)
      }
      for (const path of ["/auth/logout-all", "/users/me/sessions", "/users/me/sessions/{id}"])
        assert.include(spec, path)
    })
  )
})

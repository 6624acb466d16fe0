import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, type Layer, Redacted } from "effect"
import { UserManager } from "effect-users"
import { makeServer, request } from "../utils/HttpTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"

const listSuite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const server = makeServer(client)

  /** A user with these flags, and a bearer token when active. */
  const user = (email: string, flags: { isSuperuser?: boolean; isVerified?: boolean; isActive?: boolean } = {}) =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const created = yield* users.create({ email, password: Redacted.make(password), ...flags }).pipe(Effect.orDie)
      const login = yield* request("/auth/jwt/login", { form: { username: email, password } })
      return { ...created, token: login.body?.access_token as string }
    })
  const get = (path: string, token?: string) =>
    request(path, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })

  layer(server.layer, { excludeTestServices: true })(name, (it) => {
    it.effect("GET /users: 401 without a user, 403 for a non-superuser", () =>
      Effect.gen(function* () {
        const knight = yield* user(freshEmail("knight"), { isVerified: true })
        assert.deepStrictEqual(
          [(yield* get("/users")).status, (yield* get("/users")).body],
          [401, { detail: "Unauthorized" }]
        )
        const reply = yield* get("/users", knight.token)
        assert.strictEqual(reply.status, 403)
      })
    )

    it.effect("GET /users as a superuser: a page of users in ID order with the total, pages without overlap", () =>
      Effect.gen(function* () {
        const tag = `http${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`
        const admin = yield* user(`${tag}.admin@camelot.bt`, { isSuperuser: true, isVerified: true })
        const others = yield* Effect.forEach([1, 2, 3, 4], (i) => user(`${tag}.${i}@camelot.bt`))
        const ids = [admin, ...others].map((u) => u.id).sort()
        const page = (query: string) => get(`/users?email=${tag}&${query}`, admin.token)
        const first = yield* page("limit=2")
        assert.strictEqual(first.status, 200)
        assert.deepStrictEqual(
          first.body.items.map((u: { id: string }) => u.id),
          ids.slice(0, 2)
        )
        assert.deepInclude(first.body, { total: 5, limit: 2, offset: 0 })
        assert.notProperty(first.body.items[0], "hashed_password")
        assert.containsAllKeys(first.body.items[0], ["id", "email", "is_active", "is_superuser", "is_verified"])
        const rest = yield* page("limit=2&offset=2")
        const last = yield* page("limit=2&offset=4")
        assert.deepStrictEqual(
          [...first.body.items, ...rest.body.items, ...last.body.items].map((u: { id: string }) => u.id),
          ids
        )
        const all = yield* page("")
        assert.deepInclude(all.body, { total: 5, limit: 50, offset: 0 })
      })
    )

    it.effect("GET /users filters: e-mail prefix (any case, % literal), is_active, is_verified, is_superuser", () =>
      Effect.gen(function* () {
        const tag = `http${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`
        const admin = yield* user(`${tag}.admin@camelot.bt`, { isSuperuser: true, isVerified: true })
        const idle = yield* user(`${tag}.idle@camelot.bt`, { isActive: false })
        const fresh = yield* user(`${tag}.fresh@camelot.bt`)
        const emails = (query: string) =>
          Effect.map(get(`/users?${query}`, admin.token), (reply) => {
            assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
            return reply.body.items.map((u: { email: string }) => u.email).sort()
          })
        assert.deepStrictEqual(yield* emails(`email=${tag.toUpperCase()}.I`), [idle.email])
        assert.deepStrictEqual(yield* emails(`email=${tag}%25`), [])
        assert.deepStrictEqual(yield* emails(`email=${tag}&is_active=false`), [idle.email])
        assert.deepStrictEqual(yield* emails(`email=${tag}&is_superuser=true`), [admin.email])
        assert.deepStrictEqual(yield* emails(`email=${tag}&is_verified=false&is_active=true`), [fresh.email])
      })
    )

    it.effect("GET /users: 422 for a bad limit, offset or flag; 100 is the largest limit", () =>
      Effect.gen(function* () {
        const admin = yield* user(freshEmail("admin"), { isSuperuser: true, isVerified: true })
        for (const query of ["limit=0", "limit=101", "limit=abc", "limit=1.5", "offset=-1", "is_active=yes"]) {
          const reply = yield* get(`/users?${query}`, admin.token)
          assert.strictEqual(reply.status, 422, query)
          assert.isArray(reply.body.detail, query)
        }
        assert.strictEqual((yield* get("/users?limit=100", admin.token)).status, 200)
      })
    )

    it.effect("GET /users is in the OpenAPI document with its query parameters", () =>
      Effect.gen(function* () {
        const spec = (yield* request("/openapi.json")).body
        const operation = spec.paths["/users"].get
        assert.deepStrictEqual(operation.parameters.map((p: { name: string }) => p.name).sort(), [
          "email",
          "is_active",
          "is_superuser",
          "is_verified",
          "limit",
          "offset"
        ])
      })
    )
  })
}

describe("GET /users on SQLite", () => {
  listSuite("list users", SqliteClient.layer({ filename: ":memory:" }))
})

describePg("GET /users on PostgreSQL", () => {
  const database = freshDatabase()
  listSuite("list users", database.client)
})

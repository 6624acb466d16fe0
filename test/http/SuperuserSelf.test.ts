/**
 * `PATCH /users/{id}` on the superuser's own ID is a change of their own account: a new password or e-mail
 * needs `current_password` exactly as on `PATCH /users/me` (same codes, the session that made it stays), while
 * another user's account is still changed without it.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { UserManager } from "effect-users"
import { makeServer, request } from "../utils/HttpTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"
const statusAndBody = (reply: { status: number; body: unknown }) => [reply.status, reply.body]

const server = makeServer(SqliteClient.layer({ filename: ":memory:" }))

/** A user created through the manager and logged in over the JWT backend. */
const loggedIn = (isSuperuser: boolean) =>
  Effect.gen(function* () {
    const users = yield* UserManager.UserManager
    const email = freshEmail("self")
    const user = yield* users.create({ email, password: Redacted.make(password), isSuperuser }).pipe(Effect.orDie)
    const login = yield* request("/auth/jwt/login", { form: { username: email, password } })
    assert.strictEqual(login.status, 200, JSON.stringify(login.body))
    return { user, email, headers: { authorization: `Bearer ${login.body.access_token as string}` } }
  })

layer(server.layer, { excludeTestServices: true })("PATCH /users/{id} on the superuser's own ID", (it) => {
  it.effect("a new password or e-mail needs current_password; a wrong one is refused; nothing changes", () =>
    Effect.gen(function* () {
      const admin = yield* loggedIn(true)
      const patch = (json: object) =>
        request(`/users/${admin.user.id}`, { method: "PATCH", headers: admin.headers, json })
      const required = [400, { detail: "CURRENT_PASSWORD_REQUIRED" }]
      const invalid = [400, { detail: "CURRENT_PASSWORD_INVALID" }]
      assert.deepStrictEqual(statusAndBody(yield* patch({ password: "a-new-password-1" })), required)
      assert.deepStrictEqual(statusAndBody(yield* patch({ email: freshEmail() })), required)
      assert.deepStrictEqual(
        statusAndBody(yield* patch({ password: "a-new-password-1", current_password: "wrong-password-0" })),
        invalid
      )
      const users = yield* UserManager.UserManager
      const stored = yield* users.get(admin.user.id).pipe(Effect.orDie)
      assert.deepStrictEqual([stored.email, stored.hashedPassword], [admin.email, admin.user.hashedPassword])
      // Other fields of one's own account need no proof, as on /users/me.
      const flags = yield* patch({ is_verified: true })
      assert.deepStrictEqual([flags.status, flags.body.is_verified], [200, true])
    })
  )

  it.effect("with current_password the change is made and the session that made it stays", () =>
    Effect.gen(function* () {
      const admin = yield* loggedIn(true)
      const email = freshEmail("self-new")
      const changed = yield* request(`/users/${admin.user.id}`, {
        method: "PATCH",
        headers: admin.headers,
        json: { email, password: "a-new-password-1", current_password: password }
      })
      assert.deepStrictEqual([changed.status, changed.body.email], [200, email])
      const me = yield* request("/users/me", { headers: admin.headers })
      assert.deepStrictEqual([me.status, me.body.email], [200, email])
      const login = yield* request("/auth/jwt/login", { form: { username: email, password: "a-new-password-1" } })
      assert.strictEqual(login.status, 200)
    })
  )

  it.effect("another user's password and e-mail are still changed without current_password", () =>
    Effect.gen(function* () {
      const admin = yield* loggedIn(true)
      const target = yield* loggedIn(false)
      const email = freshEmail("target-new")
      const changed = yield* request(`/users/${target.user.id}`, {
        method: "PATCH",
        headers: admin.headers,
        json: { email, password: "a-new-password-2" }
      })
      assert.deepStrictEqual([changed.status, changed.body.email], [200, email])
      const login = yield* request("/auth/jwt/login", { form: { username: email, password: "a-new-password-2" } })
      assert.strictEqual(login.status, 200)
    })
  )
})

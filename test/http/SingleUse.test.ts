/**
 * Single-use tokens and one account per address over HTTP, on a real server over SQLite and PostgreSQL:
 * parallel requests with one token, and e-mails that only look alike.
 */

import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, type Layer, Redacted } from "effect"
import { UserManager } from "effect-users"
import { lastToken, makeServer, request } from "../utils/HttpTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail, makeFakeHasher } from "../utils/TestUsers.js"

const password = "correct-horse-battery"

const singleUseOverHttp = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  // Hashes take a few milliseconds off the event loop, as argon2's do: parallel requests overlap as in production.
  const fake = makeFakeHasher().service
  const slow = <A>(effect: Effect.Effect<A>) => Effect.zipLeft(effect, Effect.sleep("5 millis"))
  const server = makeServer(
    client,
    {},
    {},
    {
      ...fake,
      hash: (plain) => slow(fake.hash(plain)),
      verify: (plain, hash) => slow(fake.verify(plain, hash))
    }
  )
  const { hooks } = server

  /** A registered user; tokens are issued through the manager (the hooks record them). */
  const user = Effect.gen(function* () {
    const users = yield* UserManager.UserManager
    return yield* users.create({ email: freshEmail(), password: Redacted.make(password) }).pipe(Effect.orDie)
  })
  const parallel = <A, E, R>(effects: ReadonlyArray<Effect.Effect<A, E, R>>) =>
    Effect.all(effects, { concurrency: "unbounded" })

  layer(server.layer, { excludeTestServices: true })(name, (it) => {
    it.effect("6 parallel POST /auth/reset-password with one token: one 200, five 400 RESET_PASSWORD_BAD_TOKEN", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const created = yield* user
        yield* users.forgotPassword(created).pipe(Effect.orDie)
        const token = lastToken(hooks, "onAfterForgotPassword")
        const before = hooks.named("onAfterResetPassword").length
        const replies = yield* parallel(
          Array.from({ length: 6 }, (_, i) =>
            request("/auth/reset-password", { json: { token, password: `brand-new-password-${i}` } })
          )
        )
        const statuses = replies.map((reply) => reply.status).sort()
        assert.deepStrictEqual(statuses, [200, 400, 400, 400, 400, 400])
        for (const reply of replies.filter((reply) => reply.status === 400)) {
          assert.deepStrictEqual(reply.body, { detail: "RESET_PASSWORD_BAD_TOKEN" })
        }
        assert.strictEqual(hooks.named("onAfterResetPassword").length - before, 1)
      })
    )

    it.effect("6 parallel POST /auth/verify with one token: one 200, five 400 VERIFY_USER_ALREADY_VERIFIED", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const created = yield* user
        yield* users.requestVerify(created).pipe(Effect.orDie)
        const token = lastToken(hooks, "onAfterRequestVerify")
        const before = hooks.named("onAfterVerify").length
        const replies = yield* parallel(Array.from({ length: 6 }, () => request("/auth/verify", { json: { token } })))
        assert.deepStrictEqual(replies.map((reply) => reply.status).sort(), [200, 400, 400, 400, 400, 400])
        for (const reply of replies.filter((reply) => reply.status === 400)) {
          assert.deepStrictEqual(reply.body, { detail: "VERIFY_USER_ALREADY_VERIFIED" })
        }
        assert.strictEqual(hooks.named("onAfterVerify").length - before, 1)
        assert.isTrue((yield* users.get(created.id).pipe(Effect.orDie)).isVerified)
      })
    )

    it.effect(
      "POST /auth/register: one account per address in any case or Unicode form; invisible characters 422",
      () =>
        Effect.gen(function* () {
          const email = freshEmail("Émile")
          const first = yield* request("/auth/register", { json: { email: ` ${email.normalize("NFD")} `, password } })
          assert.strictEqual(first.status, 201)
          assert.strictEqual(first.body.email, email.normalize("NFC"))
          for (const variant of [email.toUpperCase(), email.toLowerCase().normalize("NFD")]) {
            const again = yield* request("/auth/register", { json: { email: variant, password } })
            assert.strictEqual(again.status, 400, variant)
            assert.deepStrictEqual(again.body, { detail: "REGISTER_USER_ALREADY_EXISTS" })
          }
          const [local, domain] = email.split("@")
          for (const hidden of ["\u0000", "\u0007", "\u200b", "\u202e", "\u2028", "\ufeff"]) {
            const reply = yield* request("/auth/register", { json: { email: `${local}${hidden}@${domain}`, password } })
            assert.strictEqual(reply.status, 422, JSON.stringify(hidden))
          }
          const strasse = yield* request("/auth/register", { json: { email: freshEmail("straße"), password } })
          assert.strictEqual(strasse.status, 201)
          const shouted = yield* request("/auth/register", {
            json: { email: strasse.body.email.toUpperCase(), password }
          })
          assert.strictEqual(shouted.status, 400)
        })
    )

    it.effect("POST /auth/jwt/login with a NUL in the username: 400 LOGIN_BAD_CREDENTIALS, not a 500", () =>
      Effect.gen(function* () {
        const created = yield* user
        const reply = yield* request("/auth/jwt/login", { form: { username: `${created.email}\u0000`, password } })
        assert.strictEqual(reply.status, 400)
        assert.deepStrictEqual(reply.body, { detail: "LOGIN_BAD_CREDENTIALS" })
      })
    )
  })
}

describe("SQLite", () => {
  singleUseOverHttp("single use over HTTP on SQLite", SqliteClient.layer({ filename: ":memory:" }))
})

describePg("PostgreSQL", () => {
  const db = freshDatabase()
  singleUseOverHttp("single use over HTTP on PostgreSQL", db.client)
})

/**
 * Passkeys over HTTP (`examples/app.ts` with passkeys on, a bearer JWT and a cookie backend) on SQLite and
 * PostgreSQL, with the software authenticator of `test/utils/SoftAuthenticator.ts`: registration with its step-up,
 * usernameless sign-in on both backends, wrong origin, wrong RP ID, missing user verification, replayed and
 * concurrently used challenges, counter regression (refused, and an event), inactive users, the last-method
 * refusal, renaming, deletion (of a passkey, and of the user), sessions ended by adding and removing a passkey,
 * CSRF on the cookie sign-in and the throttle.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Sql from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Redacted } from "effect"
import { AuditLog, Throttle, UserManager } from "effect-users"
import { eventually } from "../utils/Eventually.js"
import { makeServer, request } from "../utils/HttpTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { makeSoftAuthenticator } from "../utils/SoftAuthenticator.js"
import { freshEmail } from "../utils/TestUsers.js"

const rpId = "localhost"
const origin = "http://localhost:8000"
const password = "correct-horse-battery-staple"
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

const suite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const server = makeServer(client, {
    webauthn: { rpId, origins: [origin] },
    // A small per-client login limit, so that the throttle test reaches it; every other test comes from its own address.
    throttle: Throttle.layerMemory({ clients: { login: { limit: 1000, window: "1 minute" } } })
  })

  layer(server.layer, { excludeTestServices: true })(name, (it) => {
    /** A new user with a password, logged in on the bearer backend. */
    const signedUp = Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const email = freshEmail("passkey")
      const user = yield* Effect.orDie(users.create({ email, password: Redacted.make(password) }))
      const token = yield* login(email)
      return { user, email, token }
    })
    const login = (email: string) =>
      Effect.map(
        request("/auth/jwt/login", { form: { username: email, password } }),
        (reply) => reply.body.access_token as string
      )
    const creationOptions = (token: string) =>
      request("/users/me/passkeys/options", { headers: bearer(token), json: { current_password: password } })
    /** A user with one passkey on a fresh authenticator. */
    const withPasskey = Effect.gen(function* () {
      const account = yield* signedUp
      const authenticator = makeSoftAuthenticator({ origin, rpId })
      const options = yield* creationOptions(account.token)
      const { response } = authenticator.create(options.body)
      const added = yield* request("/users/me/passkeys", { headers: bearer(account.token), json: { response } })
      assert.strictEqual(added.status, 201)
      return { ...account, authenticator, passkeyId: added.body.id as string }
    })
    const signInOptions = (backend = "jwt") => request(`/auth/${backend}/passkey/options`, { json: {} })
    const passkeyLogin = (challengeToken: string, response: unknown, backend = "jwt", headers = {}) =>
      request(`/auth/${backend}/passkey/login`, { json: { challenge_token: challengeToken, response }, headers })

    it.effect("registration: the step-up, the creation options, 201 with the passkey, listed", () =>
      Effect.gen(function* () {
        const { token } = yield* signedUp
        const missing = yield* request("/users/me/passkeys/options", { headers: bearer(token), json: {} })
        assert.deepStrictEqual([missing.status, missing.body], [400, { detail: "CURRENT_PASSWORD_REQUIRED" }])
        const wrong = yield* request("/users/me/passkeys/options", {
          headers: bearer(token),
          json: { current_password: "not-my-password" }
        })
        assert.deepStrictEqual([wrong.status, wrong.body], [400, { detail: "CURRENT_PASSWORD_INVALID" }])
        assert.strictEqual((yield* request("/users/me/passkeys/options", { json: {} })).status, 401)

        const options = yield* creationOptions(token)
        assert.strictEqual(options.status, 200)
        assert.strictEqual(options.body.rp.id, rpId)
        assert.strictEqual(options.body.attestation, "none")
        assert.strictEqual(options.body.authenticatorSelection.residentKey, "required")
        assert.strictEqual(options.body.authenticatorSelection.userVerification, "preferred")
        assert.deepStrictEqual(options.body.excludeCredentials, [])

        const authenticator = makeSoftAuthenticator({ origin, rpId, backedUp: true })
        const { response } = authenticator.create(options.body)
        const added = yield* request("/users/me/passkeys", {
          headers: bearer(token),
          json: { response, name: "Laptop" }
        })
        assert.strictEqual(added.status, 201)
        assert.deepStrictEqual(Object.keys(added.body).sort(), [
          "backed_up",
          "created_at",
          "device_type",
          "id",
          "last_used_at",
          "name"
        ])
        assert.deepStrictEqual(
          [added.body.id, added.body.name, added.body.last_used_at, added.body.device_type, added.body.backed_up],
          [response.id, "Laptop", null, "multiDevice", true]
        )
        const listed = yield* request("/users/me/passkeys", { headers: bearer(token) })
        assert.deepStrictEqual([listed.status, listed.body], [200, [added.body]])

        // The next options exclude it.
        const next = yield* creationOptions(token)
        assert.deepStrictEqual(
          next.body.excludeCredentials.map((each: { id: string }) => each.id),
          [response.id]
        )
      })
    )

    it.effect(
      "registration refuses a replayed challenge, a wrong origin, a wrong RP ID and another user's challenge",
      () =>
        Effect.gen(function* () {
          const { token } = yield* signedUp
          const authenticator = makeSoftAuthenticator({ origin, rpId })
          const add = (response: unknown) =>
            request("/users/me/passkeys", { headers: bearer(token), json: { response } })
          const invalid = { detail: "PASSKEY_INVALID" }

          const options = yield* creationOptions(token)
          const { response } = authenticator.create(options.body)
          assert.strictEqual((yield* add(response)).status, 201)
          const replayed = yield* add(authenticator.create(options.body).response)
          assert.deepStrictEqual([replayed.status, replayed.body], [400, invalid])

          const wrongOrigin = authenticator.create((yield* creationOptions(token)).body, {
            origin: "https://evil.example"
          })
          assert.deepStrictEqual([(yield* add(wrongOrigin.response)).status], [400])
          const wrongRp = authenticator.create((yield* creationOptions(token)).body, { rpId: "evil.example" })
          assert.deepStrictEqual((yield* add(wrongRp.response)).body, invalid)

          // A challenge issued to someone else does not register a passkey for this user.
          const other = yield* signedUp
          const theirs = authenticator.create((yield* creationOptions(other.token)).body)
          assert.deepStrictEqual((yield* add(theirs.response)).body, invalid)

          const malformed = yield* add({ id: "x" })
          assert.strictEqual(malformed.status, 422)
          assert.strictEqual((yield* request("/users/me/passkeys", { headers: bearer(token) })).body.length, 1)
        })
    )

    it.effect("adding a passkey ends the user's other sessions; the one that added it stays", () =>
      Effect.gen(function* () {
        const { email, token } = yield* signedUp
        const other = yield* login(email)
        const authenticator = makeSoftAuthenticator({ origin, rpId })
        const { response } = authenticator.create((yield* creationOptions(token)).body)
        assert.strictEqual(
          (yield* request("/users/me/passkeys", { headers: bearer(token), json: { response } })).status,
          201
        )
        assert.strictEqual((yield* request("/users/me", { headers: bearer(other) })).status, 401)
        assert.strictEqual((yield* request("/users/me", { headers: bearer(token) })).status, 200)
      })
    )

    it.effect("usernameless sign-in: bearer 200 with a token, cookie 204 with the cookie; last use recorded", () =>
      Effect.gen(function* () {
        const { authenticator, email, token } = yield* withPasskey
        const options = yield* signInOptions()
        assert.strictEqual(options.status, 200)
        assert.strictEqual(options.body.options.userVerification, "required")
        assert.strictEqual(options.body.options.rpId, rpId)
        assert.isUndefined(options.body.options.allowCredentials?.[0])
        const signedIn = yield* passkeyLogin(options.body.challenge_token, authenticator.get(options.body.options))
        assert.strictEqual(signedIn.status, 200)
        const me = yield* request("/users/me", { headers: bearer(signedIn.body.access_token) })
        assert.deepStrictEqual([me.status, me.body.email], [200, email])

        const cookieOptions = yield* signInOptions("cookie")
        const cookie = yield* passkeyLogin(
          cookieOptions.body.challenge_token,
          authenticator.get(cookieOptions.body.options),
          "cookie"
        )
        assert.strictEqual(cookie.status, 204)
        assert.match(cookie.headers.get("set-cookie") ?? "", /fastapiusersauth=[^;]+/)

        const listed = yield* request("/users/me/passkeys", { headers: bearer(token) })
        assert.isString(listed.body[0].last_used_at)
      })
    )

    it.effect(
      "sign-in refuses a replayed challenge, a wrong origin, a wrong RP ID, no user verification, an unknown credential",
      () =>
        Effect.gen(function* () {
          const { authenticator } = yield* withPasskey
          const invalid = [400, { detail: "PASSKEY_INVALID" }]
          const reply = (r: { status: number; body: unknown }) => [r.status, r.body]

          const options = yield* signInOptions()
          const first = yield* passkeyLogin(options.body.challenge_token, authenticator.get(options.body.options))
          assert.strictEqual(first.status, 200)
          const replay = yield* passkeyLogin(options.body.challenge_token, authenticator.get(options.body.options))
          assert.deepStrictEqual(reply(replay), invalid)

          for (const overrides of [
            { origin: "https://evil.example" },
            { rpId: "evil.example" },
            { userVerified: false }
          ]) {
            const fresh = yield* signInOptions()
            const refused = yield* passkeyLogin(
              fresh.body.challenge_token,
              authenticator.get(fresh.body.options, overrides)
            )
            assert.deepStrictEqual(reply(refused), invalid, JSON.stringify(overrides))
          }

          const stranger = makeSoftAuthenticator({ origin, rpId })
          stranger.create({ rp: { id: rpId }, user: { id: "c29tZW9uZQ" }, challenge: "AAAA" })
          const unknown = yield* signInOptions()
          assert.deepStrictEqual(
            reply(yield* passkeyLogin(unknown.body.challenge_token, stranger.get(unknown.body.options))),
            invalid
          )
          const bogus = yield* passkeyLogin("not-a-token", authenticator.get(unknown.body.options))
          assert.deepStrictEqual(reply(bogus), invalid)
        })
    )

    it.effect("of six concurrent sign-ins with one challenge, exactly one succeeds", () =>
      Effect.gen(function* () {
        const { authenticator } = yield* withPasskey
        const options = yield* signInOptions()
        // Six valid assertions (increasing counters) of one challenge: only the challenge decides.
        const responses = Array.from({ length: 6 }, () => authenticator.get(options.body.options))
        const replies = yield* Effect.all(
          responses.map((response) => passkeyLogin(options.body.challenge_token, response)),
          { concurrency: "unbounded" }
        )
        // The losers are refused: PASSKEY_INVALID, or 429 once their failures reach the account's back-off.
        const statuses = replies.map((r) => r.status)
        assert.strictEqual(statuses.filter((status) => status === 200).length, 1)
        assert.strictEqual(statuses.filter((status) => status === 400 || status === 429).length, 5)
      })
    )

    it.effect("a counter that goes backwards is refused and emits PasskeyCounterRegressed", () =>
      Effect.gen(function* () {
        const { authenticator, user } = yield* withPasskey
        const first = yield* signInOptions()
        const response = authenticator.get(first.body.options, { counter: 10 })
        assert.strictEqual((yield* passkeyLogin(first.body.challenge_token, response)).status, 200)
        const cloned = yield* signInOptions()
        const refused = yield* passkeyLogin(
          cloned.body.challenge_token,
          authenticator.get(cloned.body.options, { counter: 7 })
        )
        assert.deepStrictEqual([refused.status, refused.body], [400, { detail: "PASSKEY_INVALID" }])
        const event = yield* eventually(
          Effect.flatMap(AuditLog.AuditLog, (log) =>
            log.query({ userId: String(user.id), kinds: ["PasskeyCounterRegressed"], limit: 10 })
          ).pipe(Effect.filterOrFail((page) => page.entries.length === 1))
        )
        const regressed = event.entries[0]!.event
        assert.strictEqual(regressed._tag, "PasskeyCounterRegressed")
        if (regressed._tag === "PasskeyCounterRegressed") {
          assert.deepStrictEqual([regressed.storedCounter, regressed.presentedCounter], [10, 7])
        }
        // The next forward counter signs in again.
        const again = yield* signInOptions()
        assert.strictEqual(
          (yield* passkeyLogin(again.body.challenge_token, authenticator.get(again.body.options))).status,
          200
        )
      })
    )

    it.effect("an inactive user is refused as at password login", () =>
      Effect.gen(function* () {
        const { authenticator, user } = yield* withPasskey
        const users = yield* UserManager.UserManager
        yield* Effect.orDie(users.update(user, { isActive: false }, { safe: false }))
        const options = yield* signInOptions()
        const refused = yield* passkeyLogin(options.body.challenge_token, authenticator.get(options.body.options))
        assert.deepStrictEqual([refused.status, refused.body], [400, { detail: "LOGIN_BAD_CREDENTIALS" }])
      })
    )

    it.effect("a cross-site cookie sign-in is refused with CSRF_REJECTED", () =>
      Effect.gen(function* () {
        const { authenticator } = yield* withPasskey
        const options = yield* signInOptions("cookie")
        const refused = yield* passkeyLogin(
          options.body.challenge_token,
          authenticator.get(options.body.options),
          "cookie",
          { origin: "https://evil.example" }
        )
        assert.deepStrictEqual([refused.status, refused.body], [403, { detail: "CSRF_REJECTED" }])
      })
    )

    it.effect("rename: 200 with the new name; another user's or an unknown passkey is 404", () =>
      Effect.gen(function* () {
        const { passkeyId, token } = yield* withPasskey
        const renamed = yield* request(`/users/me/passkeys/${passkeyId}`, {
          method: "PATCH",
          headers: bearer(token),
          json: { name: "Phone" }
        })
        assert.deepStrictEqual([renamed.status, renamed.body.name], [200, "Phone"])
        const other = yield* signedUp
        const theirs = yield* request(`/users/me/passkeys/${passkeyId}`, {
          method: "PATCH",
          headers: bearer(other.token),
          json: { name: "Mine" }
        })
        assert.deepStrictEqual([theirs.status, theirs.body], [404, { detail: "PASSKEY_NOT_FOUND" }])
      })
    )

    it.effect("deletion: the step-up, 204, the passkey no longer signs in, other sessions end", () =>
      Effect.gen(function* () {
        const { authenticator, email, passkeyId, token } = yield* withPasskey
        const other = yield* login(email)
        const remove = (body: unknown, as = token) =>
          request(`/users/me/passkeys/${passkeyId}`, { method: "DELETE", headers: bearer(as), json: body })
        assert.deepStrictEqual((yield* remove({})).body, { detail: "CURRENT_PASSWORD_REQUIRED" })
        const stranger = yield* signedUp
        assert.deepStrictEqual((yield* remove({ current_password: password }, stranger.token)).body, {
          detail: "PASSKEY_NOT_FOUND"
        })
        assert.strictEqual((yield* remove({ current_password: password })).status, 204)
        assert.deepStrictEqual((yield* request("/users/me/passkeys", { headers: bearer(token) })).body, [])
        assert.strictEqual((yield* request("/users/me", { headers: bearer(other) })).status, 401)
        assert.strictEqual((yield* request("/users/me", { headers: bearer(token) })).status, 200)
        const options = yield* signInOptions()
        const refused = yield* passkeyLogin(options.body.challenge_token, authenticator.get(options.body.options))
        assert.deepStrictEqual([refused.status, refused.body], [400, { detail: "PASSKEY_INVALID" }])
      })
    )

    it.effect(
      "a user without a password of their own cannot remove their last passkey (PASSKEY_LAST_LOGIN_METHOD)",
      () =>
        Effect.gen(function* () {
          const { authenticator, passkeyId, token, user } = yield* withPasskey
          const second = authenticator.create((yield* creationOptions(token)).body)
          const added = yield* request("/users/me/passkeys", {
            headers: bearer(token),
            json: { response: second.response }
          })
          assert.strictEqual(added.status, 201)
          const sql = yield* Sql.SqlClient
          yield* sql`UPDATE ${sql("user")} SET password_set = ${sql.onDialectOrElse({ sqlite: () => 0, orElse: () => false })} WHERE id = ${user.id}`
          // Without a password of their own, a recent sign-in is their step-up: this session's.
          const remove = (id: string) =>
            request(`/users/me/passkeys/${id}`, { method: "DELETE", headers: bearer(token), json: {} })
          assert.strictEqual((yield* remove(passkeyId)).status, 204)
          const last = yield* remove(added.body.id)
          assert.deepStrictEqual([last.status, last.body], [400, { detail: "PASSKEY_LAST_LOGIN_METHOD" }])
          assert.strictEqual((yield* request("/users/me/passkeys", { headers: bearer(token) })).body.length, 1)
        })
    )

    it.effect("deleting the user deletes their passkeys", () =>
      Effect.gen(function* () {
        const { user } = yield* withPasskey
        const sql = yield* Sql.SqlClient
        const count = Effect.map(
          sql<{ n: number | string }>`SELECT count(*) AS n FROM passkey WHERE user_id = ${user.id}`,
          (rows) => Number(rows[0]!.n)
        )
        assert.strictEqual(yield* count, 1)
        yield* Effect.orDie((yield* UserManager.UserManager).delete(user))
        assert.strictEqual(yield* count, 0)
      })
    )

    it.effect("the OpenAPI document declares the passkey routes and codes", () =>
      Effect.gen(function* () {
        const spec = JSON.stringify((yield* request("/openapi.json")).body)
        for (const path of [
          "/users/me/passkeys/options",
          "/users/me/passkeys",
          "/users/me/passkeys/{id}",
          "/auth/jwt/passkey/options",
          "/auth/jwt/passkey/login",
          "/auth/cookie/passkey/login"
        ]) {
          assert.include(spec, `"${path}"`)
        }
        for (const code of ["PASSKEY_INVALID", "PASSKEY_LAST_LOGIN_METHOD", "PASSKEY_NOT_FOUND"]) {
          assert.include(spec, code)
        }
      })
    )
  })
}

suite("Passkeys over HTTP on SQLite", SqliteClient.layer({ filename: ":memory:" }))

describePg("Passkeys over HTTP on PostgreSQL", () => {
  suite("PostgreSQL", freshDatabase().client)
})

const throttled = makeServer(SqliteClient.layer({ filename: ":memory:" }), {
  webauthn: { rpId, origins: [origin] },
  throttle: Throttle.layerMemory({ clients: { login: { limit: 4, window: "1 minute" } } })
})
layer(throttled.layer, { excludeTestServices: true })("Passkey sign-in and the throttle", (it) => {
  it.effect("sign-in requests count on the client's login limit: past it, 429", () =>
    Effect.gen(function* () {
      const statuses: Array<number> = []
      for (let i = 0; i < 3; i++) {
        const options = yield* request("/auth/jwt/passkey/options", { json: {} })
        statuses.push(options.status)
        const failed = yield* request("/auth/jwt/passkey/login", {
          json: {
            challenge_token: options.body.challenge_token ?? "x",
            response: {
              id: "AA",
              rawId: "AA",
              type: "public-key",
              response: { clientDataJSON: "AA", authenticatorData: "AA", signature: "AA" }
            }
          }
        })
        statuses.push(failed.status)
      }
      assert.deepStrictEqual(statuses, [200, 400, 200, 400, 429, 429])
    })
  )
})

const verifying = makeServer(SqliteClient.layer({ filename: ":memory:" }), {
  webauthn: { rpId, origins: [origin] },
  requiresVerification: true
})
layer(verifying.layer, { excludeTestServices: true })("Passkey sign-in where verification is required", (it) => {
  it.effect("an unverified user is refused with LOGIN_USER_NOT_VERIFIED, as at password login", () =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const email = freshEmail("unverified")
      const user = yield* Effect.orDie(users.create({ email, password: Redacted.make(password), isVerified: true }))
      const token = (yield* request("/auth/jwt/login", { form: { username: email, password } })).body
        .access_token as string
      const authenticator = makeSoftAuthenticator({ origin, rpId })
      const options = yield* request("/users/me/passkeys/options", {
        headers: bearer(token),
        json: { current_password: password }
      })
      const { response } = authenticator.create(options.body)
      assert.strictEqual(
        (yield* request("/users/me/passkeys", { headers: bearer(token), json: { response } })).status,
        201
      )
      yield* Effect.orDie(users.update(user, { isVerified: false }, { safe: false }))
      const started = yield* request("/auth/jwt/passkey/options", { json: {} })
      const refused = yield* request("/auth/jwt/passkey/login", {
        json: { challenge_token: started.body.challenge_token, response: authenticator.get(started.body.options) }
      })
      assert.deepStrictEqual([refused.status, refused.body], [400, { detail: "LOGIN_USER_NOT_VERIFIED" }])
    })
  )
})

/**
 * Passkeys over HTTP (`examples/app.ts` with passkeys on, a bearer JWT and a cookie backend) on SQLite and
 * PostgreSQL, with the software authenticator of `test/utils/SoftAuthenticator.ts`: registration with its step-up,
 * usernameless sign-in on both backends, wrong origin, wrong RP ID, missing user verification, replayed and
 * concurrently used challenges, counter regression (refused, and an event), inactive users, the last-method
 * refusal, renaming, deletion (of a passkey, and of the user), sessions ended by adding and removing a passkey,
 * CSRF on the cookie sign-in and the throttle.
 */

import { randomBytes } from "node:crypto"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Sql from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { AuditLog, PasswordValidator, Sessions, Throttle, UserManager } from "effect-users"
import * as OTPAuth from "otpauth"
import { eventually } from "../utils/Eventually.js"
import { authSecret, makeServer, request } from "../utils/HttpTest.js"
import { payloadOf, signJwt } from "../utils/Jwt.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { makeSoftAuthenticator } from "../utils/SoftAuthenticator.js"
import { freshEmail } from "../utils/TestUsers.js"

const rpId = "localhost"
const origin = "http://localhost:8000"
const password = "correct-horse-battery-staple"
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
/** The code of a TOTP secret for the time step `steps` away from now. */
const codeAt = (secret: string, steps = 0) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 })

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
    /** A step-up proof by passkey: the options of `/users/me/mfa/webauthn/options`, answered. */
    const passkeyProof = (token: string, authenticator: ReturnType<typeof makeSoftAuthenticator>, overrides = {}) =>
      Effect.map(request("/users/me/mfa/webauthn/options", { headers: bearer(token), json: {} }), (options) =>
        authenticator.get(options.body, overrides)
      )
    /** Creation options; a user who has a passkey proves it too (their step-up's second factor). */
    const creationOptions = (token: string, authenticator?: ReturnType<typeof makeSoftAuthenticator>) =>
      Effect.flatMap(
        authenticator === undefined ? Effect.succeed(undefined) : passkeyProof(token, authenticator),
        (webauthn) =>
          request("/users/me/passkeys/options", {
            headers: bearer(token),
            json: webauthn === undefined ? { current_password: password } : { current_password: password, webauthn }
          })
      )
    /** The two-step login of a user whose passkey is their second factor: password, then the passkey. */
    const loginWithPasskey = (
      email: string,
      authenticator: ReturnType<typeof makeSoftAuthenticator>,
      backend = "jwt"
    ) =>
      Effect.gen(function* () {
        const first = yield* request(`/auth/${backend}/login`, { form: { username: email, password } })
        assert.strictEqual(first.status, 401)
        const mfaToken = first.body.detail.mfa_token as string
        const options = yield* request(`/auth/${backend}/login/mfa/webauthn/options`, { json: { mfa_token: mfaToken } })
        assert.strictEqual(options.status, 200)
        return yield* request(`/auth/${backend}/login/mfa`, {
          json: { mfa_token: mfaToken, webauthn: authenticator.get(options.body) }
        })
      })
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

        // The next options exclude it (and, now that the user has a factor, take a proof of it).
        const next = yield* creationOptions(token, authenticator)
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

          const wrongOrigin = authenticator.create((yield* creationOptions(token, authenticator)).body, {
            origin: "https://evil.example"
          })
          assert.deepStrictEqual([(yield* add(wrongOrigin.response)).status], [400])
          const wrongRp = authenticator.create((yield* creationOptions(token, authenticator)).body, {
            rpId: "evil.example"
          })
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
        const other = (yield* loginWithPasskey(email, authenticator)).body.access_token as string
        const remove = (body: unknown, as = token) =>
          request(`/users/me/passkeys/${passkeyId}`, { method: "DELETE", headers: bearer(as), json: body })
        assert.deepStrictEqual((yield* remove({})).body, { detail: "CURRENT_PASSWORD_REQUIRED" })
        // The passkey is a second factor: the step-up wants a proof of it beside the password.
        assert.deepStrictEqual((yield* remove({ current_password: password })).body, { detail: "MFA_CODE_REQUIRED" })
        const stranger = yield* signedUp
        assert.deepStrictEqual((yield* remove({ current_password: password }, stranger.token)).body, {
          detail: "PASSKEY_NOT_FOUND"
        })
        const webauthn = yield* passkeyProof(token, authenticator)
        assert.strictEqual((yield* remove({ current_password: password, webauthn })).status, 204)
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
          const second = authenticator.create((yield* creationOptions(token, authenticator)).body)
          const added = yield* request("/users/me/passkeys", {
            headers: bearer(token),
            json: { response: second.response }
          })
          assert.strictEqual(added.status, 201)
          const sql = yield* Sql.SqlClient
          yield* sql`UPDATE ${sql("user")} SET password_set = ${sql.onDialectOrElse({ sqlite: () => 0, orElse: () => false })} WHERE id = ${user.id}`
          // Without a password of their own, a recent sign-in stands in for it (this session's); their passkey is
          // a second factor, so a proof of it is asked for too.
          const remove = (id: string, body: object = {}) =>
            request(`/users/me/passkeys/${id}`, { method: "DELETE", headers: bearer(token), json: body })
          assert.deepStrictEqual((yield* remove(passkeyId)).body, { detail: "MFA_CODE_REQUIRED" })
          const proof = yield* passkeyProof(token, authenticator)
          assert.strictEqual((yield* remove(passkeyId, { webauthn: proof })).status, 204)
          const last = yield* remove(added.body.id, { webauthn: yield* passkeyProof(token, authenticator) })
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

    it.effect(
      "a passkey is the second factor of a password login: webauthn in methods, options for the user's passkeys, the login answer, amr",
      () =>
        Effect.gen(function* () {
          const { authenticator, email, passkeyId } = yield* withPasskey
          const first = yield* request("/auth/jwt/login", { form: { username: email, password } })
          assert.strictEqual(first.status, 401)
          assert.strictEqual(first.body.detail.code, "LOGIN_MFA_REQUIRED")
          // A passkey alone is a factor: no recovery codes beside it (they come with TOTP).
          assert.deepStrictEqual(first.body.detail.methods, ["webauthn"])
          assert.isNull(first.headers.get("set-cookie"))
          const options = yield* request("/auth/jwt/login/mfa/webauthn/options", {
            json: { mfa_token: first.body.detail.mfa_token }
          })
          assert.strictEqual(options.status, 200)
          assert.deepStrictEqual(
            options.body.allowCredentials.map((each: { id: string }) => each.id),
            [passkeyId]
          )
          assert.strictEqual(options.body.userVerification, "preferred")
          assert.strictEqual(options.body.rpId, rpId)
          const finished = yield* request("/auth/jwt/login/mfa", {
            json: { mfa_token: first.body.detail.mfa_token, webauthn: authenticator.get(options.body) }
          })
          assert.strictEqual(finished.status, 200, JSON.stringify(finished.body))
          const claims = payloadOf(finished.body.access_token)
          assert.deepStrictEqual([claims.mth, claims.amr], ["password", ["pwd", "hwk", "mfa"]])
          const me = yield* request("/users/me", { headers: bearer(finished.body.access_token) })
          assert.deepStrictEqual([me.status, me.body.email], [200, email])

          const cookie = yield* loginWithPasskey(email, authenticator, "cookie")
          assert.strictEqual(cookie.status, 204)
          assert.match(cookie.headers.get("set-cookie") ?? "", /fastapiusersauth=[^;]+/)
          // The options of an unknown mfa_token, or of another backend's: LOGIN_MFA_TOKEN_INVALID.
          const unknown = yield* request("/auth/jwt/login/mfa/webauthn/options", {
            json: { mfa_token: "x".repeat(43) }
          })
          assert.deepStrictEqual([unknown.status, unknown.body], [400, { detail: "LOGIN_MFA_TOKEN_INVALID" }])
          const jwtToken = (yield* request("/auth/jwt/login", { form: { username: email, password } })).body.detail
            .mfa_token
          const elsewhere = yield* request("/auth/cookie/login/mfa/webauthn/options", { json: { mfa_token: jwtToken } })
          assert.deepStrictEqual(elsewhere.body, { detail: "LOGIN_MFA_TOKEN_INVALID" })
        })
    )

    it.effect("TOTP and a passkey: methods totp, recovery_code, webauthn; each one finishes the login", () =>
      Effect.gen(function* () {
        const { authenticator, email, token } = yield* withPasskey
        // The passkey is a factor already: enrolling TOTP takes a proof of it beside the password.
        const started = yield* request("/users/me/mfa/totp", {
          headers: bearer(token),
          json: { current_password: password, webauthn: yield* passkeyProof(token, authenticator) }
        })
        assert.strictEqual(started.status, 200, JSON.stringify(started.body))
        const secret = started.body.secret as string
        const confirmed = yield* request("/users/me/mfa/totp/confirm", {
          headers: bearer(token),
          json: { code: codeAt(secret, -1) }
        })
        assert.strictEqual(confirmed.status, 200, JSON.stringify(confirmed.body))
        const recoveryCode = confirmed.body.recovery_codes[0] as string
        const first = () =>
          Effect.map(request("/auth/jwt/login", { form: { username: email, password } }), (reply) => {
            assert.strictEqual(reply.status, 401, JSON.stringify(reply.body))
            assert.deepStrictEqual(reply.body.detail.methods, ["totp", "recovery_code", "webauthn"])
            return reply.body.detail.mfa_token as string
          })
        const amrOf = (reply: { status: number; body: { access_token: string } }) => {
          assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
          return payloadOf(reply.body.access_token).amr
        }
        const byTotp = yield* request("/auth/jwt/login/mfa", {
          json: { mfa_token: yield* first(), code: codeAt(secret) }
        })
        assert.deepStrictEqual(amrOf(byTotp), ["pwd", "otp", "mfa"])
        const byRecovery = yield* request("/auth/jwt/login/mfa", {
          json: { mfa_token: yield* first(), recovery_code: recoveryCode }
        })
        assert.deepStrictEqual(amrOf(byRecovery), ["pwd", "otp", "mfa"])
        const byPasskey = yield* loginWithPasskey(email, authenticator)
        assert.deepStrictEqual(amrOf(byPasskey), ["pwd", "hwk", "mfa"])
        // The passkey alone still signs in, complete on its own.
        const options = yield* signInOptions()
        const alone = yield* passkeyLogin(options.body.challenge_token, authenticator.get(options.body.options))
        assert.deepStrictEqual(amrOf(alone), ["hwk", "user"])
      })
    )

    it.effect("the second step refuses a wrong, replayed or foreign assertion with LOGIN_MFA_BAD_CODE", () =>
      Effect.gen(function* () {
        const { authenticator, email, token } = yield* withPasskey
        const bad = [400, { detail: "LOGIN_MFA_BAD_CODE" }]
        const reply = (r: { status: number; body: unknown }) => [r.status, r.body]
        const start = Effect.gen(function* () {
          const first = yield* request("/auth/jwt/login", { form: { username: email, password } })
          const mfaToken = first.body.detail.mfa_token as string
          const options = yield* request("/auth/jwt/login/mfa/webauthn/options", { json: { mfa_token: mfaToken } })
          return { mfaToken, options: options.body }
        })
        const finish = (mfaToken: string, webauthn: unknown) =>
          request("/auth/jwt/login/mfa", { json: { mfa_token: mfaToken, webauthn } })

        const a = yield* start
        // Signed for another origin, without a valid signature, or for a challenge of another login.
        assert.deepStrictEqual(
          reply(yield* finish(a.mfaToken, authenticator.get(a.options, { origin: "https://evil.example" }))),
          bad
        )
        const b = yield* start
        assert.deepStrictEqual(reply(yield* finish(a.mfaToken, authenticator.get(b.options))), bad)
        // A step-up's challenge does not finish a login either.
        const stepUpOptions = yield* request("/users/me/mfa/webauthn/options", { headers: bearer(token), json: {} })
        assert.deepStrictEqual(reply(yield* finish(a.mfaToken, authenticator.get(stepUpOptions.body))), bad)
        // A malformed assertion is a 422. The first refusal spent a's challenge (any attempt does): a right
        // assertion to it is refused too, and new options finish the login (the fifth wrong one would end it).
        assert.strictEqual((yield* finish(a.mfaToken, { id: "x" })).status, 422)
        assert.deepStrictEqual(reply(yield* finish(a.mfaToken, authenticator.get(a.options))), bad)
        const again = yield* request("/auth/jwt/login/mfa/webauthn/options", { json: { mfa_token: a.mfaToken } })
        const assertion = authenticator.get(again.body)
        assert.strictEqual((yield* finish(a.mfaToken, assertion)).status, 200)
        // Replayed: the login is spent, and the challenge with it.
        assert.deepStrictEqual(reply(yield* finish(a.mfaToken, assertion)), [
          400,
          { detail: "LOGIN_MFA_TOKEN_INVALID" }
        ])
        assert.deepStrictEqual(reply(yield* finish(b.mfaToken, assertion)), bad)
        // Another user's passkey answering this login's challenge.
        const stranger = yield* withPasskey
        const theirs = stranger.authenticator.get(b.options, { credential: stranger.authenticator.credentials[0]! })
        assert.deepStrictEqual(reply(yield* finish(b.mfaToken, theirs)), bad)
        const fresh = yield* request("/auth/jwt/login/mfa/webauthn/options", { json: { mfa_token: b.mfaToken } })
        assert.strictEqual((yield* finish(b.mfaToken, authenticator.get(fresh.body))).status, 200)
      })
    )

    it.effect("of six concurrent second steps with one passkey challenge, exactly one succeeds", () =>
      Effect.gen(function* () {
        const { authenticator, email } = yield* withPasskey
        const first = yield* request("/auth/jwt/login", { form: { username: email, password } })
        const mfaToken = first.body.detail.mfa_token as string
        const options = yield* request("/auth/jwt/login/mfa/webauthn/options", { json: { mfa_token: mfaToken } })
        const responses = Array.from({ length: 6 }, () => authenticator.get(options.body))
        const replies = yield* Effect.all(
          responses.map((webauthn) => request("/auth/jwt/login/mfa", { json: { mfa_token: mfaToken, webauthn } })),
          { concurrency: "unbounded" }
        )
        const statuses = replies.map((r) => r.status)
        assert.strictEqual(statuses.filter((status) => status === 200).length, 1, JSON.stringify(statuses))
        for (const refused of replies.filter((r) => r.status !== 200)) {
          assert.include(["LOGIN_MFA_BAD_CODE", "LOGIN_MFA_TOKEN_INVALID", "TOO_MANY_REQUESTS"], refused.body.detail)
        }
      })
    )

    it.effect(
      "step-up by passkey: options for the user's passkeys, MFA_CODE_REQUIRED without, MFA_BAD_CODE for a replayed or foreign proof",
      () =>
        Effect.gen(function* () {
          const { authenticator, email, token } = yield* withPasskey
          const options = (json: object) =>
            request("/users/me/passkeys/options", {
              headers: bearer(token),
              json: { current_password: password, ...json }
            })
          assert.deepStrictEqual((yield* options({})).body, { detail: "MFA_CODE_REQUIRED" })
          const proof = yield* passkeyProof(token, authenticator)
          assert.strictEqual((yield* options({ webauthn: proof })).status, 200)
          assert.deepStrictEqual((yield* options({ webauthn: proof })).body, { detail: "MFA_BAD_CODE" })
          // The password is still asked for beside the passkey.
          const withoutPassword = yield* request("/users/me/passkeys/options", {
            headers: bearer(token),
            json: { webauthn: yield* passkeyProof(token, authenticator) }
          })
          assert.deepStrictEqual(withoutPassword.body, { detail: "CURRENT_PASSWORD_REQUIRED" })
          // A login's challenge is no step-up's.
          const first = yield* request("/auth/jwt/login", { form: { username: email, password } })
          const loginOptions = yield* request("/auth/jwt/login/mfa/webauthn/options", {
            json: { mfa_token: first.body.detail.mfa_token }
          })
          assert.deepStrictEqual((yield* options({ webauthn: authenticator.get(loginOptions.body) })).body, {
            detail: "MFA_BAD_CODE"
          })
          // Another user's step-up challenge, answered by this user's passkey.
          const other = yield* withPasskey
          const theirs = yield* request("/users/me/mfa/webauthn/options", { headers: bearer(other.token), json: {} })
          const foreign = authenticator.get(theirs.body, { credential: authenticator.credentials[0]! })
          assert.deepStrictEqual((yield* options({ webauthn: foreign })).body, { detail: "MFA_BAD_CODE" })
          // No passkey, no options.
          const plain = yield* signedUp
          const none = yield* request("/users/me/mfa/webauthn/options", { headers: bearer(plain.token), json: {} })
          assert.deepStrictEqual([none.status, none.body], [404, { detail: "PASSKEY_NOT_FOUND" }])
        })
    )

    it.effect(
      "a session made with both factors within the window needs no step-up: a passkey sign-in, or password + passkey",
      () =>
        Effect.gen(function* () {
          const { authenticator, email } = yield* withPasskey
          const signInOptionsReply = yield* signInOptions()
          const byPasskey = yield* passkeyLogin(
            signInOptionsReply.body.challenge_token,
            authenticator.get(signInOptionsReply.body.options)
          )
          const twoStep = yield* loginWithPasskey(email, authenticator)
          for (const session of [byPasskey, twoStep]) {
            const options = yield* request("/users/me/passkeys/options", {
              headers: bearer(session.body.access_token),
              json: {}
            })
            assert.strictEqual(options.status, 200, JSON.stringify(options.body))
          }
        })
    )

    it.effect(
      "a user without a password of their own: a recent sign-in instead of it, a stale one is REAUTHENTICATION_REQUIRED",
      () =>
        Effect.gen(function* () {
          const { token, user } = yield* signedUp
          const sql = yield* Sql.SqlClient
          yield* sql`UPDATE ${sql("user")} SET password_set = ${sql.onDialectOrElse({ sqlite: () => 0, orElse: () => false })} WHERE id = ${user.id}`
          // No factor yet: this recent session is the whole step-up for the first passkey.
          const options = yield* request("/users/me/passkeys/options", { headers: bearer(token), json: {} })
          assert.strictEqual(options.status, 200)
          const sessions = yield* Sessions.Sessions
          const epoch = Option.getOrThrow(yield* sessions.lookup(String(user.id))).sessionEpoch
          const now = Math.floor(Date.now() / 1000)
          const stale = signJwt(
            {
              sub: String(user.id),
              aud: ["effect-users:auth"],
              iat: now - 600,
              exp: now + 600,
              jti: randomBytes(16).toString("base64url"),
              sep: epoch,
              mth: "oauth:oidc",
              auth_time: now - 600,
              amr: ["oauth"]
            },
            authSecret
          )
          const refused = yield* request("/users/me/passkeys/options", { headers: bearer(stale), json: {} })
          assert.deepStrictEqual([refused.status, refused.body], [403, { detail: "REAUTHENTICATION_REQUIRED" }])
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
        for (const path of ["/auth/jwt/login/mfa/webauthn/options", "/users/me/mfa/webauthn/options"]) {
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

const nist = makeServer(SqliteClient.layer({ filename: ":memory:" }), { webauthn: { rpId, origins: [origin] } })
layer(nist.layer.pipe(Layer.provide(PasswordValidator.layer(PasswordValidator.nist))), { excludeTestServices: true })(
  "A passkey and the password policy (nist)",
  (it) => {
    it.effect("with a passkey 8 characters are enough; without a factor 15", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const strong = "a long enough passphrase here"
        const email = freshEmail("policy")
        yield* Effect.orDie(users.create({ email, password: Redacted.make(strong) }))
        const token = (yield* request("/auth/jwt/login", { form: { username: email, password: strong } })).body
          .access_token as string
        const change = (as: string, json: object) =>
          request("/users/me", { method: "PATCH", headers: bearer(as), json })
        const short = yield* change(token, { password: "eight ch", current_password: strong })
        assert.strictEqual(short.status, 400)
        assert.include(short.body.detail.reason, "15")

        const authenticator = makeSoftAuthenticator({ origin, rpId })
        const options = yield* request("/users/me/passkeys/options", {
          headers: bearer(token),
          json: { current_password: strong }
        })
        const { response } = authenticator.create(options.body)
        assert.strictEqual(
          (yield* request("/users/me/passkeys", { headers: bearer(token), json: { response } })).status,
          201
        )
        // A passkey sign-in is both factors at once: the fresh session needs no step-up, and 8 characters pass.
        const started = yield* request("/auth/jwt/passkey/options", { json: {} })
        const signedIn = yield* request("/auth/jwt/passkey/login", {
          json: { challenge_token: started.body.challenge_token, response: authenticator.get(started.body.options) }
        })
        const changed = yield* change(signedIn.body.access_token, { password: "eight ch" })
        assert.strictEqual(changed.status, 200, JSON.stringify(changed.body))
      })
    )
  }
)

/**
 * The default mails over HTTP, delivered by the outbox's worker to a real SMTP server and read back from it, on
 * SQLite and PostgreSQL: each arrives with a working link, the notices reach the right address (a new password, a
 * new e-mail, a sign-in method linked: OAuth, TOTP on and off, a passkey added and removed, an admin's reset of the
 * second factors), the app's own hooks still get their tokens, and no request waits for the mail server.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, assert, beforeAll, layer } from "@effect/vitest"
import { Effect, type Layer, Redacted } from "effect"
import { UserManager } from "effect-users"
import * as OTPAuth from "otpauth"
import { lastToken, makeServer, request } from "../utils/HttpTest.js"
import { publicUrl, smtpMailer, sqlMail } from "../utils/MailTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { type SmtpServer, startSmtpServer, tokenIn } from "../utils/SmtpServer.js"
import { makeSoftAuthenticator } from "../utils/SoftAuthenticator.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"
const rpId = "localhost"
const origin = "http://localhost:8000"

/** The code of a TOTP secret for the time step `steps` away from now. */
const codeAt = (secret: string, steps = 0) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 })

const mailOverHttp = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  let smtp: SmtpServer
  beforeAll(async () => {
    smtp = await startSmtpServer()
  })
  afterAll(() => smtp?.stop())
  const server = makeServer(client, { mail: sqlMail(smtpMailer(() => smtp)), webauthn: { rpId, origins: [origin] } })
  const wait = (email: string, count = 1) => Effect.promise(() => smtp.waitFor(email, count))
  const register = (email: string) =>
    Effect.tap(request("/auth/register", { json: { email, password } }), (reply) =>
      assert.strictEqual(reply.status, 201)
    )
  const bearer = (email: string, secret = password) =>
    Effect.map(
      request("/auth/jwt/login", { form: { username: email, password: secret } }),
      (reply) => ({ authorization: `Bearer ${reply.body.access_token}` }) as Record<string, string>
    )
  /** Turns TOTP on for a logged-in user (confirmed with the previous step's code): the secret. */
  const totpOn = (headers: Record<string, string>) =>
    Effect.gen(function* () {
      const started = yield* request("/users/me/mfa/totp", { headers, json: { current_password: password } })
      assert.strictEqual(started.status, 200, JSON.stringify(started.body))
      const secret = started.body.secret as string
      const confirmed = yield* request("/users/me/mfa/totp/confirm", { headers, json: { code: codeAt(secret, -1) } })
      assert.strictEqual(confirmed.status, 200, JSON.stringify(confirmed.body))
      return secret
    })

  layer(server.layer, { excludeTestServices: true })(name, (it) => {
    it.effect("registration mails a verification link that verifies; the app's hook got the same kind of token", () =>
      Effect.gen(function* () {
        const email = freshEmail("register")
        yield* register(email)
        const [mail] = yield* wait(email)
        assert.strictEqual(mail!.subject, "Confirm your e-mail address")
        assert.strictEqual(mail!.from, "no-reply@camelot.bt")
        const token = tokenIn(mail!.text, "verify")
        assert.include(mail!.html, `${publicUrl}/verify?token=`)
        const verified = yield* request("/auth/verify", { json: { token } })
        assert.strictEqual(verified.status, 200)
        assert.isTrue(verified.body.is_verified)
      })
    )

    it.effect("request-verify-token mails a new link, and FastAPI Users' hook still receives its token", () =>
      Effect.gen(function* () {
        const email = freshEmail("again")
        yield* register(email)
        yield* wait(email)
        const before = server.hooks.named("onAfterRequestVerify").length
        assert.strictEqual((yield* request("/auth/request-verify-token", { json: { email } })).status, 202)
        const mails = yield* wait(email, 2)
        const token = tokenIn(mails[1]!.text, "verify")
        yield* Effect.promise(async () => {
          while (server.hooks.named("onAfterRequestVerify").length === before)
            await new Promise((r) => setTimeout(r, 10))
        })
        assert.isString(lastToken(server.hooks, "onAfterRequestVerify"))
        assert.strictEqual((yield* request("/auth/verify", { json: { token } })).status, 200)
      })
    )

    it.effect("forgot-password mails a reset link that resets; then a password-changed notice arrives", () =>
      Effect.gen(function* () {
        const email = freshEmail("reset")
        yield* register(email)
        yield* wait(email)
        assert.strictEqual((yield* request("/auth/forgot-password", { json: { email } })).status, 202)
        const mails = yield* wait(email, 2)
        assert.strictEqual(mails[1]!.subject, "Reset your password")
        const token = tokenIn(mails[1]!.text, "reset-password")
        const reset = yield* request("/auth/reset-password", { json: { token, password: "a-brand-new-password" } })
        assert.strictEqual(reset.status, 200)
        const after = yield* wait(email, 3)
        assert.strictEqual(after[2]!.subject, "Your password was changed")
        assert.notInclude(after[2]!.text, token)
      })
    )

    it.effect("a new e-mail: the notice goes to the old address; a new password: a notice", () =>
      Effect.gen(function* () {
        const email = freshEmail("old")
        const next = freshEmail("new")
        yield* register(email)
        yield* wait(email)
        const headers = yield* bearer(email)
        const changed = yield* request("/users/me", {
          method: "PATCH",
          headers,
          json: { email: next, current_password: password }
        })
        assert.strictEqual(changed.status, 200)
        const old = yield* wait(email, 2)
        assert.strictEqual(old[1]!.subject, "Your e-mail address was changed")
        assert.include(old[1]!.text, next)
        const again = yield* bearer(next)
        const patched = yield* request("/users/me", {
          method: "PATCH",
          headers: again,
          json: { password: "another-long-password", current_password: password }
        })
        assert.strictEqual(patched.status, 200)
        const notices = yield* wait(next, 1)
        assert.strictEqual(notices[0]!.subject, "Your password was changed")
      })
    )

    it.effect("a linked OAuth account: a sign-in method notice", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const email = freshEmail("linked")
        const user = yield* users.create({ email, password: Redacted.make(password) }).pipe(Effect.orDie)
        yield* wait(email)
        yield* users
          .oauthAssociateCallback(user, {
            oauthName: "github",
            accessToken: "gho_x",
            accountId: `${Date.now()}`,
            accountEmail: email
          })
          .pipe(Effect.orDie)
        const mails = yield* wait(email, 2)
        assert.strictEqual(mails[1]!.subject, "A sign-in method was added")
        assert.include(mails[1]!.text, "a github account")
      })
    )

    it.effect("TOTP on, then off: a sign-in method notice each, to the user", () =>
      Effect.gen(function* () {
        const email = freshEmail("totp")
        yield* register(email)
        yield* wait(email)
        const headers = yield* bearer(email)
        const secret = yield* totpOn(headers)
        const on = yield* wait(email, 2)
        assert.strictEqual(on[1]!.subject, "A sign-in method was added")
        assert.include(
          on[1]!.text,
          "You can now sign in to your account with two-step sign-in with an authenticator app."
        )
        assert.notInclude(on[1]!.text, secret)
        const off = yield* request("/users/me/mfa/totp", {
          method: "DELETE",
          headers,
          json: { current_password: password, code: codeAt(secret) }
        })
        assert.strictEqual(off.status, 204, JSON.stringify(off.body))
        const mails = yield* wait(email, 3)
        assert.strictEqual(mails[2]!.subject, "A sign-in method was removed")
        assert.include(mails[2]!.text, "Two-step sign-in with an authenticator app no longer signs in to your account.")
      })
    )

    it.effect("a passkey added, then removed: a sign-in method notice each, naming it", () =>
      Effect.gen(function* () {
        const email = freshEmail("passkey")
        yield* register(email)
        yield* wait(email)
        const headers = yield* bearer(email)
        const authenticator = makeSoftAuthenticator({ origin, rpId })
        const options = yield* request("/users/me/passkeys/options", { headers, json: { current_password: password } })
        assert.strictEqual(options.status, 200, JSON.stringify(options.body))
        const { response } = authenticator.create(options.body)
        const added = yield* request("/users/me/passkeys", { headers, json: { response, name: "Laptop" } })
        assert.strictEqual(added.status, 201, JSON.stringify(added.body))
        const on = yield* wait(email, 2)
        assert.strictEqual(on[1]!.subject, "A sign-in method was added")
        assert.include(on[1]!.text, 'You can now sign in to your account with the passkey "Laptop".')
        assert.include(on[1]!.html, "the passkey &#34;Laptop&#34;")
        // The passkey is a factor now: the step-up takes a proof of it beside the password.
        const proofOptions = yield* request("/users/me/mfa/webauthn/options", { headers, json: {} })
        const removed = yield* request(`/users/me/passkeys/${added.body.id}`, {
          method: "DELETE",
          headers,
          json: { current_password: password, webauthn: authenticator.get(proofOptions.body) }
        })
        assert.strictEqual(removed.status, 204, JSON.stringify(removed.body))
        const mails = yield* wait(email, 3)
        assert.strictEqual(mails[2]!.subject, "A sign-in method was removed")
        assert.include(mails[2]!.text, 'The passkey "Laptop" no longer signs in to your account.')
      })
    )

    it.effect("an admin's reset of a user's second factors: a notice to the user; none for a user without any", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const adminEmail = freshEmail("admin")
        yield* users
          .create({ email: adminEmail, password: Redacted.make(password), isSuperuser: true, isVerified: true })
          .pipe(Effect.orDie)
        const admin = yield* bearer(adminEmail)
        const email = freshEmail("reset")
        const created = yield* register(email)
        yield* wait(email)
        yield* totpOn(yield* bearer(email))
        yield* wait(email, 2)
        const bare = freshEmail("bare")
        const plain = yield* register(bare)
        yield* wait(bare)
        const reset = (id: string) => request(`/users/${id}/mfa`, { method: "DELETE", headers: admin })
        assert.strictEqual((yield* reset(plain.body.id)).status, 204)
        assert.strictEqual((yield* reset(created.body.id)).status, 204)
        const mails = yield* wait(email, 3)
        assert.strictEqual(mails[2]!.subject, "A sign-in method was removed")
        assert.include(mails[2]!.text, "reset by an administrator")
        // The user without a factor got nothing: a later mail to them arrives alone.
        assert.strictEqual((yield* request("/auth/forgot-password", { json: { email: bare } })).status, 202)
        const theirs = yield* wait(bare, 2)
        assert.strictEqual(theirs[1]!.subject, "Reset your password")
        yield* Effect.sleep("200 millis")
        assert.lengthOf(smtp.to(bare), 2)
      })
    )

    it.effect("no request waits for the mail server: answers come while it still holds the mail", () =>
      Effect.gen(function* () {
        smtp.delayMillis = 2000
        const email = freshEmail("slow")
        yield* register(email)
        assert.strictEqual((yield* request("/auth/forgot-password", { json: { email } })).status, 202)
        // The server has not accepted the verification mail yet: the answers came first.
        assert.lengthOf(smtp.to(email), 0)
        smtp.delayMillis = 0
        const mails = yield* wait(email, 2)
        assert.sameMembers(
          mails.map((mail) => mail.subject),
          ["Confirm your e-mail address", "Reset your password"]
        )
      })
    )
  })
}

mailOverHttp("mails over HTTP on SQLite", SqliteClient.layer({ filename: ":memory:" }))

describePg("mails over HTTP on PostgreSQL", () => {
  mailOverHttp("PostgreSQL", freshDatabase().client)
})

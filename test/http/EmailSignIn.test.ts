/**
 * Sign-in by e-mail link and by e-mail code over HTTP, end to end through a real SMTP server, on the bearer and the
 * cookie backends, on SQLite and PostgreSQL: single use under concurrent requests, replacement, a changed e-mail,
 * wrong-code limits on the throttle, unknown addresses (202, nothing sent), the second step of a user with TOTP (401
 * LOGIN_MFA_REQUIRED, then `/login/mfa`; `amr` `otp` and `mfa` in the token and the session list), and sign-up by
 * link when allowed (recorded as a `magic-link` registration).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, assert, beforeAll, describe, layer } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { AuditLog, Throttle } from "effect-users"
import * as OTPAuth from "otpauth"
import { eventually } from "../utils/Eventually.js"
import { makeServer, type Reply, request } from "../utils/HttpTest.js"
import { payloadOf } from "../utils/Jwt.js"
import { smtpMailer, sqlMail } from "../utils/MailTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { codeIn, type SmtpServer, startSmtpServer, tokenIn } from "../utils/SmtpServer.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"
const parallel = <A, E, R>(effects: ReadonlyArray<Effect.Effect<A, E, R>>) =>
  Effect.all(effects, { concurrency: "unbounded" })
/** The code of a TOTP secret for the time step `steps` away from now. */
const codeAt = (secret: string, steps = 0) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 })
const statuses = (replies: ReadonlyArray<Reply>) => replies.map((reply) => reply.status).sort()

const emailSignInOverHttp = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  let smtp: SmtpServer
  beforeAll(async () => {
    smtp = await startSmtpServer()
  })
  afterAll(() => smtp?.stop())
  const server = makeServer(client, {
    mail: sqlMail(
      smtpMailer(() => smtp),
      { verifyOnRegister: false }
    ),
    // Every request comes from 127.0.0.1: the per-client limits of the mail routes hold this suite's requests.
    throttle: Throttle.layerMemory({
      clients: { magicLink: { limit: 100, window: "15 minutes" }, emailCode: { limit: 100, window: "15 minutes" } }
    })
  })
  const wait = (email: string, count = 1) => Effect.promise(() => smtp.waitFor(email, count))
  const register = (email: string) =>
    Effect.tap(request("/auth/register", { json: { email, password } }), (reply) =>
      assert.strictEqual(reply.status, 201)
    )
  const me = (headers: Record<string, string>) => request("/users/me", { headers })
  /** Requests a link and returns its token (the `count`-th mail to the address). */
  const link = (email: string, count = 1) =>
    Effect.gen(function* () {
      assert.strictEqual((yield* request("/auth/magic-link", { json: { email } })).status, 202)
      const mails = yield* wait(email, count)
      assert.strictEqual(mails[count - 1]!.subject, "Your sign-in link")
      return tokenIn(mails[count - 1]!.text, "magic-link")
    })
  const code = (email: string, count = 1) =>
    Effect.gen(function* () {
      assert.strictEqual((yield* request("/auth/email-code", { json: { email } })).status, 202)
      const mails = yield* wait(email, count)
      assert.match(mails[count - 1]!.subject, /^Your sign-in code: \d{6}$/)
      return codeIn(mails[count - 1]!.text)
    })
  const linkLogin = (backend: string, token: string) =>
    request(`/auth/${backend}/magic-link/login`, { json: { token } })
  const codeLogin = (backend: string, email: string, value: string) =>
    request(`/auth/${backend}/email-code/login`, { json: { email, code: value } })
  const cookieOf = (reply: Reply) => ({ cookie: (reply.headers.get("set-cookie") ?? "").split(";")[0]! })

  layer(server.layer, { excludeTestServices: true })(name, (it) => {
    it.effect("a link signs in on the bearer backend, marks the address verified, and works once", () =>
      Effect.gen(function* () {
        const email = freshEmail("link")
        yield* register(email)
        const token = yield* link(email)
        const reply = yield* linkLogin("jwt", token)
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(reply.body.token_type, "bearer")
        const user = yield* me({ authorization: `Bearer ${reply.body.access_token}` })
        assert.strictEqual(user.status, 200)
        assert.isTrue(user.body.is_verified)
        const again = yield* linkLogin("jwt", token)
        assert.strictEqual(again.status, 400)
        assert.deepStrictEqual(again.body, { detail: "MAGIC_LINK_BAD_TOKEN" })
      })
    )

    it.effect("a link signs in on the cookie backend (204 and the cookie)", () =>
      Effect.gen(function* () {
        const email = freshEmail("cookie")
        yield* register(email)
        const reply = yield* linkLogin("cookie", yield* link(email))
        assert.strictEqual(reply.status, 204)
        assert.strictEqual((yield* me(cookieOf(reply))).status, 200)
      })
    )

    it.effect("6 concurrent uses of one link: exactly one 200", () =>
      Effect.gen(function* () {
        const email = freshEmail("race")
        yield* register(email)
        const token = yield* link(email)
        const replies = yield* parallel(Array.from({ length: 6 }, () => linkLogin("jwt", token)))
        assert.deepStrictEqual(statuses(replies), [200, 400, 400, 400, 400, 400])
      })
    )

    it.effect("a new link replaces the old one; a link dies when the user's e-mail changes", () =>
      Effect.gen(function* () {
        const email = freshEmail("replace")
        yield* register(email)
        const first = yield* link(email)
        const second = yield* link(email, 2)
        assert.strictEqual((yield* linkLogin("jwt", first)).status, 400)
        assert.strictEqual((yield* linkLogin("jwt", second)).status, 200)
        const third = yield* link(email, 3)
        const login = yield* request("/auth/jwt/login", { form: { username: email, password } })
        const changed = yield* request("/users/me", {
          method: "PATCH",
          headers: { authorization: `Bearer ${login.body.access_token}` },
          json: { email: freshEmail("moved"), current_password: password }
        })
        assert.strictEqual(changed.status, 200)
        assert.deepStrictEqual((yield* linkLogin("jwt", third)).body, { detail: "MAGIC_LINK_BAD_TOKEN" })
      })
    )

    it.effect("a code signs in on both backends, once; 6 concurrent tries of the right code: exactly one 200", () =>
      Effect.gen(function* () {
        const email = freshEmail("code")
        yield* register(email)
        const first = yield* code(email)
        const bearer = yield* codeLogin("jwt", email, first)
        assert.strictEqual(bearer.status, 200)
        assert.isTrue((yield* me({ authorization: `Bearer ${bearer.body.access_token}` })).body.is_verified)
        assert.deepStrictEqual((yield* codeLogin("jwt", email, first)).body, { detail: "EMAIL_CODE_BAD_CODE" })
        const second = yield* code(email, 2)
        const cookie = yield* codeLogin("cookie", email, second)
        assert.strictEqual(cookie.status, 204)
        assert.strictEqual((yield* me(cookieOf(cookie))).status, 200)
        // A fresh account: the losers' tries are failed attempts on its back-off (the 6th may be held back: 429).
        const racer = freshEmail("coderace")
        yield* register(racer)
        const third = yield* code(racer)
        const replies = yield* parallel(Array.from({ length: 6 }, () => codeLogin("jwt", racer, third)))
        assert.strictEqual(replies.filter((reply) => reply.status === 200).length, 1)
        for (const reply of replies.filter((reply) => reply.status !== 200)) assert.oneOf(reply.status, [400, 429])
      })
    )

    it.effect("a new code replaces the old one", () =>
      Effect.gen(function* () {
        const email = freshEmail("newcode")
        yield* register(email)
        const first = yield* code(email)
        const second = yield* code(email, 2)
        if (first !== second) assert.strictEqual((yield* codeLogin("jwt", email, first)).status, 400)
        assert.strictEqual((yield* codeLogin("jwt", email, second)).status, 200)
      })
    )

    it.effect("5 wrong codes spend the code; they count on the throttle (the next try waits: 429)", () =>
      Effect.gen(function* () {
        const email = freshEmail("guess")
        yield* register(email)
        const right = yield* code(email)
        const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0")
        for (let i = 0; i < 5; i++) {
          assert.deepStrictEqual((yield* codeLogin("jwt", email, wrong)).body, { detail: "EMAIL_CODE_BAD_CODE" })
        }
        const throttled = yield* codeLogin("jwt", email, right)
        assert.strictEqual(throttled.status, 429)
        yield* Effect.sleep(`${Number(throttled.headers.get("retry-after")) * 1000 + 100} millis`)
        assert.deepStrictEqual((yield* codeLogin("jwt", email, right)).body, { detail: "EMAIL_CODE_BAD_CODE" })
      })
    )

    it.effect(
      "a user with TOTP: a link and a code answer 401 LOGIN_MFA_REQUIRED; /login/mfa with a code signs in",
      () =>
        Effect.gen(function* () {
          const email = freshEmail("twostep")
          yield* register(email)
          const session = yield* request("/auth/jwt/login", { form: { username: email, password } })
          const headers = { authorization: `Bearer ${session.body.access_token}` }
          const started = yield* request("/users/me/mfa/totp", { headers, json: { current_password: password } })
          const secret = started.body.secret as string
          const confirmed = yield* request("/users/me/mfa/totp/confirm", {
            headers,
            json: { code: codeAt(secret, -1) }
          })
          assert.strictEqual(confirmed.status, 200, JSON.stringify(confirmed.body))
          // The notice of the new factor comes first.
          assert.strictEqual((yield* wait(email))[0]!.subject, "A sign-in method was added")

          // By link, on the bearer backend: no token before the second step.
          const byLink = yield* linkLogin("jwt", yield* link(email, 2))
          assert.strictEqual(byLink.status, 401, JSON.stringify(byLink.body))
          assert.deepStrictEqual(Object.keys(byLink.body.detail).sort(), ["code", "methods", "mfa_token"])
          assert.strictEqual(byLink.body.detail.code, "LOGIN_MFA_REQUIRED")
          assert.deepStrictEqual(byLink.body.detail.methods, ["totp", "recovery_code"])
          const finished = yield* request("/auth/jwt/login/mfa", {
            json: { mfa_token: byLink.body.detail.mfa_token, code: codeAt(secret) }
          })
          assert.strictEqual(finished.status, 200, JSON.stringify(finished.body))
          const claims = payloadOf(finished.body.access_token)
          assert.deepStrictEqual([claims.mth, claims.amr], ["magic-link", ["otp", "mfa"]])

          // By code, on the cookie backend (its sessions are listed): no cookie before the second step.
          const byCode = yield* codeLogin("cookie", email, yield* code(email, 3))
          assert.strictEqual(byCode.status, 401, JSON.stringify(byCode.body))
          assert.strictEqual(byCode.body.detail.code, "LOGIN_MFA_REQUIRED")
          assert.isNull(byCode.headers.get("set-cookie"))
          // The mfa_token is bound to its backend, and the step of the code above is spent.
          const elsewhere = yield* request("/auth/jwt/login/mfa", {
            json: { mfa_token: byCode.body.detail.mfa_token, code: codeAt(secret, 1) }
          })
          assert.deepStrictEqual(elsewhere.body, { detail: "LOGIN_MFA_TOKEN_INVALID" })
          const again = yield* codeLogin("cookie", email, yield* code(email, 4))
          const cookie = yield* request("/auth/cookie/login/mfa", {
            json: { mfa_token: again.body.detail.mfa_token, code: codeAt(secret, 1) }
          })
          assert.strictEqual(cookie.status, 204, JSON.stringify(cookie.body))
          const viaCookie = yield* request("/users/me/sessions", { headers: cookieOf(cookie) })
          const listed = (viaCookie.body as ReadonlyArray<{ current: boolean; method: string; amr: unknown }>).find(
            (each) => each.current
          )
          assert.deepStrictEqual([listed?.method, listed?.amr], ["email-code", ["otp", "mfa"]])
        })
    )

    it.effect("an unknown address: 202 and nothing sent; a malformed code or token: 400", () =>
      Effect.gen(function* () {
        const unknown = freshEmail("nobody")
        const known = freshEmail("somebody")
        yield* register(known)
        assert.strictEqual((yield* request("/auth/magic-link", { json: { email: unknown } })).status, 202)
        assert.strictEqual((yield* request("/auth/email-code", { json: { email: unknown } })).status, 202)
        // Mail of a later request has arrived: the unknown address's, had there been any, would have too.
        yield* link(known)
        yield* code(known, 2)
        assert.lengthOf(smtp.to(unknown), 0)
        assert.strictEqual((yield* codeLogin("jwt", unknown, "12345x")).status, 400)
        assert.deepStrictEqual((yield* linkLogin("jwt", "not-a-token")).body, { detail: "MAGIC_LINK_BAD_TOKEN" })
        assert.strictEqual((yield* linkLogin("nowhere", "x")).status, 422)
      })
    )

    it.effect("the answers never wait for the mail server", () =>
      Effect.gen(function* () {
        const email = freshEmail("waiting")
        yield* register(email)
        smtp.delayMillis = 2000
        assert.strictEqual((yield* request("/auth/magic-link", { json: { email } })).status, 202)
        assert.strictEqual((yield* request("/auth/email-code", { json: { email } })).status, 202)
        assert.lengthOf(smtp.to(email), 0)
        smtp.delayMillis = 0
        yield* wait(email, 2)
      })
    )
  })
}

emailSignInOverHttp("sign-in by e-mail on SQLite", SqliteClient.layer({ filename: ":memory:" }))

describePg("sign-in by e-mail on PostgreSQL", () => {
  emailSignInOverHttp("PostgreSQL", freshDatabase().client)
})

describePg("sign-up by link", () => {
  let smtp: SmtpServer
  beforeAll(async () => {
    smtp = await startSmtpServer()
  })
  afterAll(() => smtp?.stop())
  const server = makeServer(freshDatabase().client, {
    mail: sqlMail(smtpMailer(() => smtp)),
    emailSignIn: { signUp: true }
  })
  layer(server.layer, { excludeTestServices: true })("signUp: true", (it) => {
    it.effect("an unknown address's link signs it up, verified; the link works once", () =>
      Effect.gen(function* () {
        const email = freshEmail("newcomer")
        assert.strictEqual((yield* request("/auth/magic-link", { json: { email } })).status, 202)
        const [mail] = yield* Effect.promise(() => smtp.waitFor(email))
        const token = tokenIn(mail!.text, "magic-link")
        const replies = yield* parallel(
          Array.from({ length: 4 }, () => request("/auth/jwt/magic-link/login", { json: { token } }))
        )
        assert.deepStrictEqual(statuses(replies), [200, 400, 400, 400])
        const winner = replies.find((reply) => reply.status === 200)!
        const user = yield* request("/users/me", { headers: { authorization: `Bearer ${winner.body.access_token}` } })
        assert.strictEqual(user.body.email, email)
        assert.isTrue(user.body.is_verified)
        // No verification mail for an address its own link proved.
        yield* Effect.sleep("300 millis")
        assert.lengthOf(smtp.to(email), 1)
        // Recorded as it came: a registration by link, not by password.
        const registered = yield* eventually(
          Effect.flatMap(AuditLog.AuditLog, (log) =>
            log.query({ userId: user.body.id, kinds: ["Registered"], limit: 10 })
          ).pipe(
            Effect.flatMap((page) =>
              page.entries.length === 0 ? Effect.fail(new Error("no Registered yet")) : Effect.succeed(page.entries)
            )
          )
        )
        assert.deepStrictEqual(
          registered.map((entry) => entry.event.method),
          ["magic-link"]
        )
      })
    )
  })
})

describe("logs of the sign-ins by e-mail", () => {
  let smtp: SmtpServer
  beforeAll(async () => {
    smtp = await startSmtpServer()
  })
  afterAll(() => smtp?.stop())
  const lines: Array<string> = []
  const server = makeServer(SqliteClient.layer({ filename: ":memory:" }), {
    mail: sqlMail(
      smtpMailer(() => smtp),
      { verifyOnRegister: false }
    )
  })
  const logged = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, cause, message }) => {
      lines.push(`${String(message)} ${JSON.stringify(Object.fromEntries(annotations))} ${String(cause)}`)
    })
  )
  layer(server.layer.pipe(Layer.provide(logged)), { excludeTestServices: true })("SQLite", (it) => {
    it.effect("no link token and no code reaches a log line, used, wrong or replayed", () =>
      Effect.gen(function* () {
        const email = freshEmail("quiet")
        assert.strictEqual((yield* request("/auth/register", { json: { email, password } })).status, 201)
        yield* request("/auth/magic-link", { json: { email } })
        const [linkMail] = yield* Effect.promise(() => smtp.waitFor(email))
        const token = tokenIn(linkMail!.text, "magic-link")
        yield* request("/auth/jwt/magic-link/login", { json: { token } })
        yield* request("/auth/jwt/magic-link/login", { json: { token } })
        yield* request("/auth/email-code", { json: { email } })
        const mails = yield* Effect.promise(() => smtp.waitFor(email, 2))
        const code = codeIn(mails[1]!.text)
        yield* request("/auth/jwt/email-code/login", { json: { email, code: "000000" === code ? "111111" : "000000" } })
        yield* request("/auth/jwt/email-code/login", { json: { email, code } })
        assert.isAbove(lines.length, 0)
        const written = lines.join("\n")
        assert.notInclude(written, token)
        assert.notInclude(written, code)
      })
    )
  })
})

/**
 * Security events over a full HTTP run of `examples/app.ts`, for any audit-log store (memory, SQLite, PostgreSQL):
 * each kind is emitted by the route or operation that causes it and lands in the log with the client's address
 * and user agent; no event or log line holds a password or token the run used; the audit routes filter, page,
 * refuse non-superusers (403) and malformed filters (422); `GET /users/me` writes no event.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, HashMap, Layer, Logger, Redacted } from "effect"
import { AuditLog, AuthEvents, Throttle, UserManager } from "effect-users"
import { eventually } from "../utils/Eventually.js"
import { makeServer, nextToken, request } from "../utils/HttpTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const agent = "events-suite/1.0"
const password = "correct-horse-battery-staple"
const newPassword = "another-horse-battery-staple"
const wrongPassword = "wrong-horse-battery-staple"

export const authEventsSuite = (
  name: string,
  client: Layer.Layer<SqlClient.SqlClient, unknown>,
  auditLog: Layer.Layer<AuditLog.AuditLog, never, SqlClient.SqlClient>
) => {
  const logLines: Array<string> = []
  const capture = Logger.make(({ annotations, message }) => {
    logLines.push(JSON.stringify([message, [...HashMap.toEntries(annotations)]]))
  })
  // Every secret the run sends or receives: none may appear in an event or a log line.
  const secrets = new Set<string>([password, newPassword, wrongPassword])
  const server = makeServer(client, {
    auditLog,
    // Lockout after two wrong passwords in a row; no per-client limit (one address runs the whole suite).
    throttle: Throttle.layerMemory({
      accounts: { maxAttempts: 2, freeAttempts: 10 },
      clients: { login: false, register: false, forgotPassword: false, requestVerifyToken: false, verify: false }
    })
  })
  const served = server.layer.pipe(Layer.provide(Logger.add(capture)))

  layer(served, { excludeTestServices: true, timeout: 60_000 })(name, (it) => {
    const headers = (token?: string) => ({
      "user-agent": agent,
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    })
    const register = (email: string) =>
      request("/auth/register", { json: { email, password }, headers: headers() }).pipe(
        Effect.map((reply) => String(reply.body.id))
      )
    const login = (email: string, secret = password) =>
      Effect.map(
        request("/auth/jwt/login", { form: { username: email, password: secret }, headers: headers() }),
        (r) => {
          if (r.body?.access_token !== undefined) secrets.add(r.body.access_token)
          return r
        }
      )
    const tokenOf = (email: string, secret = password) =>
      Effect.map(login(email, secret), (reply) => reply.body.access_token as string)
    const eventsOf = (userId: string) =>
      Effect.flatMap(AuditLog.AuditLog, (log) => log.query({ userId, limit: 100 })).pipe(
        Effect.map((page) => page.entries.map((entry) => entry.event))
      )
    /** Waits until the user's log holds an event of this kind (the writer is asynchronous), and returns it. */
    const awaitEvent = <K extends AuthEvents.Kind>(userId: string, kind: K) =>
      eventually(
        Effect.flatMap(eventsOf(userId), (events) => {
          const found = events.find((event) => event._tag === kind)
          return found === undefined ? Effect.fail(new Error(`no ${kind} for ${userId}`)) : Effect.succeed(found)
        })
      ) as Effect.Effect<Extract<AuthEvents.AuthEvent, { _tag: K }>, Error, AuditLog.AuditLog>
    /** Waits for an event of this kind about this e-mail: the events stored without a user ID. */
    const awaitByEmail = <K extends "LoginFailed" | "PasswordCheckFailed">(email: string, kind: K) =>
      eventually(
        Effect.flatMap(AuditLog.AuditLog, (log) => log.query({ kinds: [kind], limit: 100 })).pipe(
          Effect.flatMap((page) => {
            const found = page.entries.find((entry) => entry.event._tag === kind && entry.event.email === email)
            return found === undefined ? Effect.fail(new Error(`no ${kind} for ${email}`)) : Effect.succeed(found.event)
          })
        )
      ) as Effect.Effect<Extract<AuthEvents.AuthEvent, { _tag: K }>, Error, AuditLog.AuditLog>
    const superuser = Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const email = freshEmail("admin")
      const admin = yield* users
        .create({ email, password: Redacted.make(password), isSuperuser: true })
        .pipe(Effect.orDie)
      return { id: String(admin.id), token: yield* tokenOf(email) }
    })

    it.effect("register, login (success, wrong password, inactive), logout and logout-all", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        const id = yield* register(email)
        const registered = yield* awaitEvent(id, "Registered")
        assert.strictEqual(registered.method, "password")
        assert.strictEqual(registered.userAgent, agent)
        assert.strictEqual(registered.address, "127.0.0.1")

        const token = yield* tokenOf(email)
        const succeeded = yield* awaitEvent(id, "LoginSucceeded")
        assert.deepStrictEqual(
          [succeeded.backend, succeeded.method, succeeded.userAgent, succeeded.address],
          ["jwt", "password", agent, "127.0.0.1"]
        )

        assert.strictEqual((yield* login(email, wrongPassword)).status, 400)
        yield* request("/auth/jwt/logout", { method: "POST", headers: headers(token) })
        assert.strictEqual((yield* awaitEvent(id, "LoggedOut")).backend, "jwt")
        const again = yield* tokenOf(email)
        assert.strictEqual(
          (yield* request("/auth/logout-all", { method: "POST", headers: headers(again) })).status,
          204
        )
        yield* awaitEvent(id, "LoggedOutEverywhere")
        // A failed login is stored without a user ID (the password proved nothing): found by kind and e-mail.
        assert.strictEqual((yield* awaitByEmail(email, "LoginFailed")).reason, "badCredentials")
      })
    )

    it.effect("an inactive user's right password: LoginFailed inactive, with the user", () =>
      Effect.gen(function* () {
        const admin = yield* superuser
        const email = freshEmail()
        const id = yield* register(email)
        yield* request(`/users/${id}`, { method: "PATCH", json: { is_active: false }, headers: headers(admin.token) })
        const updated = yield* awaitEvent(id, "UserUpdatedByAdmin")
        assert.deepStrictEqual([updated.fields, updated.actorId], [["isActive"], admin.id])
        assert.strictEqual((yield* login(email)).status, 400)
        assert.strictEqual((yield* awaitEvent(id, "LoginFailed")).reason, "inactive")
        // The route shows the kind's own fields in details.
        const failed = yield* request(`/admin/events?user_id=${id}&type=LoginFailed`, { headers: headers(admin.token) })
        assert.strictEqual(failed.body.items[0].details.reason, "inactive")
        assert.notProperty(failed.body.items[0].details, "userId")
      })
    )

    it.effect("two wrong passwords start the lockout; the next attempt fails as throttled", () =>
      Effect.gen(function* () {
        const email = freshEmail("locked")
        yield* register(email)
        yield* login(email, wrongPassword)
        yield* login(email, wrongPassword)
        assert.strictEqual((yield* login(email)).status, 429)
        const kinds = yield* eventually(
          Effect.flatMap(AuditLog.AuditLog, (log) => log.query({ limit: 100 })).pipe(
            Effect.map((page) =>
              page.entries
                .map((entry) => entry.event)
                .filter((event) => "email" in event && event.email === email)
                .map((event) => (event._tag === "LoginFailed" ? `LoginFailed:${event.reason}` : event._tag))
            ),
            Effect.filterOrFail(
              (kinds) => kinds.length === 5,
              () => new Error("not yet")
            )
          )
        )
        assert.deepStrictEqual(kinds, [
          "LoginFailed:throttled",
          "RequestThrottled",
          "LockoutStarted",
          "LoginFailed:badCredentials",
          "LoginFailed:badCredentials"
        ])
      })
    )

    it.effect("password and e-mail changes, reset requested, password reset, verified", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        const id = yield* register(email)
        const token = yield* tokenOf(email)
        const wrongCheck = yield* request("/users/me", {
          method: "PATCH",
          json: { password: newPassword, current_password: wrongPassword },
          headers: headers(token)
        })
        assert.strictEqual(wrongCheck.status, 400)
        // Counted like a login on the account; stored by e-mail (the throttle does not look users up).
        const checkFailed = yield* awaitByEmail(email, "PasswordCheckFailed")
        assert.deepInclude(checkFailed, { attempts: 1, address: "127.0.0.1", userAgent: agent })
        yield* request("/users/me", {
          method: "PATCH",
          json: { password: newPassword, current_password: password },
          headers: headers(token)
        })
        yield* awaitEvent(id, "PasswordChanged")
        const newEmail = freshEmail("moved")
        yield* request("/users/me", {
          method: "PATCH",
          json: { email: newEmail, current_password: newPassword },
          headers: headers(token)
        })
        yield* awaitEvent(id, "EmailChanged")

        const resets = server.hooks.named("onAfterForgotPassword").length
        yield* request("/auth/forgot-password", { json: { email: newEmail }, headers: headers() })
        const resetToken = yield* nextToken(server.hooks, "onAfterForgotPassword", resets)
        secrets.add(resetToken)
        assert.strictEqual((yield* awaitEvent(id, "ResetRequested")).userAgent, agent)
        yield* request("/auth/reset-password", { json: { token: resetToken, password }, headers: headers() })
        yield* awaitEvent(id, "PasswordReset")

        const verifies = server.hooks.named("onAfterRequestVerify").length
        yield* request("/auth/request-verify-token", { json: { email: newEmail }, headers: headers() })
        const verifyToken = yield* nextToken(server.hooks, "onAfterRequestVerify", verifies)
        secrets.add(verifyToken)
        yield* request("/auth/verify", { json: { token: verifyToken }, headers: headers() })
        yield* awaitEvent(id, "Verified")
      })
    )

    it.effect("sessions: revoking one from the list", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        const id = yield* register(email)
        const cookieLogin = yield* request("/auth/cookie/login", {
          form: { username: email, password },
          headers: headers()
        })
        const cookie = cookieLogin.headers.get("set-cookie")!.split(";")[0]!
        secrets.add(cookie.split("=")[1]!)
        const listed = yield* request("/users/me/sessions", { headers: { ...headers(), cookie } })
        const session = String(listed.body[0].id)
        const revoked = yield* request(`/users/me/sessions/${encodeURIComponent(session)}`, {
          method: "DELETE",
          headers: { ...headers(yield* tokenOf(email)) }
        })
        assert.strictEqual(revoked.status, 204)
        assert.strictEqual((yield* awaitEvent(id, "SessionRevoked")).sessionId, session)
      })
    )

    it.effect("OAuth link and unlink, admin deletion", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const admin = yield* superuser
        const email = freshEmail()
        const id = yield* register(email)
        const user = yield* users.get(id as never)
        const account = {
          oauthName: "forge",
          accountId: "forge-42",
          accountEmail: email,
          accessToken: "oauth-access-token-secret",
          refreshToken: "oauth-refresh-token-secret"
        }
        secrets.add(account.accessToken).add(account.refreshToken)
        yield* users.oauthAssociateCallback(user, account)
        const linked = yield* awaitEvent(id, "OAuthLinked")
        assert.deepStrictEqual([linked.provider, linked.accountId], ["forge", "forge-42"])
        yield* users.oauthUnlink(user, "forge", "forge-42")
        assert.strictEqual((yield* awaitEvent(id, "OAuthUnlinked")).reason, "unlinked")
        assert.strictEqual(
          (yield* request(`/users/${id}`, { method: "DELETE", headers: headers(admin.token) })).status,
          204
        )
        assert.strictEqual((yield* awaitEvent(id, "UserDeleted")).actorId, admin.id)
      })
    )

    it.effect("admin controls: logout-all, a timed deactivation and an activation, each with the admin as actor", () =>
      Effect.gen(function* () {
        const admin = yield* superuser
        const id = yield* register(freshEmail())
        const post = (path: string, json?: unknown) =>
          request(`/users/${id}/${path}`, { method: "POST", headers: headers(admin.token), json })
        assert.strictEqual((yield* post("logout-all")).status, 204)
        assert.strictEqual((yield* awaitEvent(id, "LoggedOutEverywhere")).actorId, admin.id)
        const until = new Date(Date.now() + 3_600_000)
        assert.strictEqual(
          (yield* post("deactivate", { reason: "chargeback", until: until.toISOString() })).status,
          200
        )
        const deactivated = yield* awaitEvent(id, "UserDeactivated")
        assert.deepStrictEqual(
          [deactivated.reason, deactivated.until, deactivated.actorId],
          ["chargeback", until.getTime(), admin.id]
        )
        assert.strictEqual((yield* post("activate")).status, 200)
        assert.strictEqual((yield* awaitEvent(id, "UserActivated")).actorId, admin.id)
      })
    )

    it.effect("GET /users/me writes no event", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        const id = yield* register(email)
        const token = yield* tokenOf(email)
        yield* awaitEvent(id, "LoginSucceeded")
        const before = (yield* eventsOf(id)).length
        for (let i = 0; i < 3; i++)
          assert.strictEqual((yield* request("/users/me", { headers: headers(token) })).status, 200)
        // A marker event after the reads: once it is written, anything the reads emitted is written too.
        yield* request("/auth/logout-all", { method: "POST", headers: headers(token) })
        yield* awaitEvent(id, "LoggedOutEverywhere")
        assert.strictEqual((yield* eventsOf(id)).length, before + 1)
      })
    )

    it.effect("GET /admin/events: filters, newest first, cursor paging; 403 for users; 422 for bad filters", () =>
      Effect.gen(function* () {
        const admin = yield* superuser
        const email = freshEmail()
        const id = yield* register(email)
        for (let i = 0; i < 3; i++) yield* tokenOf(email)
        yield* eventually(
          Effect.filterOrFail(
            eventsOf(id),
            (events) => events.length === 4,
            () => new Error("not yet")
          )
        )
        const first = yield* request(`/admin/events?user_id=${id}&limit=2`, { headers: headers(admin.token) })
        assert.strictEqual(first.status, 200)
        assert.deepStrictEqual(
          first.body.items.map((item: { type: string }) => item.type),
          ["LoginSucceeded", "LoginSucceeded"]
        )
        assert.strictEqual(first.body.items[0].client_address, "127.0.0.1")
        // The common fields at the top level, and only the kind's own in details (a sign-in has none).
        assert.deepStrictEqual(
          [first.body.items[0].method, first.body.items[0].user_agent, first.body.items[0].details],
          ["password", agent, {}]
        )
        assert.isTrue(first.body.items[0].at >= first.body.items[1].at)
        const second = yield* request(`/admin/events?user_id=${id}&limit=2&cursor=${first.body.next_cursor}`, {
          headers: headers(admin.token)
        })
        assert.deepStrictEqual(
          second.body.items.map((item: { type: string }) => item.type),
          ["LoginSucceeded", "Registered"]
        )
        assert.isNull(second.body.next_cursor)
        const ids = [...first.body.items, ...second.body.items].map((item: { id: string }) => item.id)
        assert.strictEqual(new Set(ids).size, 4)

        const registered = yield* request(`/admin/events?user_id=${id}&type=Registered`, {
          headers: headers(admin.token)
        })
        assert.deepStrictEqual(
          registered.body.items.map((item: { type: string; user_id: string }) => [item.type, item.user_id]),
          [["Registered", id]]
        )
        const future = new Date(Date.now() + 3_600_000).toISOString()
        const none = yield* request(`/admin/events?user_id=${id}&since=${future}`, { headers: headers(admin.token) })
        assert.deepStrictEqual(none.body, { items: [], next_cursor: null })
        const past = new Date(Date.now() - 3_600_000).toISOString()
        const until = yield* request(`/admin/events?user_id=${id}&until=${past}`, { headers: headers(admin.token) })
        assert.deepStrictEqual(until.body.items, [])
        // A window of one instant is a window: since equal to until is no error.
        const instant = yield* request(`/admin/events?user_id=${id}&since=${past}&until=${past}`, {
          headers: headers(admin.token)
        })
        assert.deepStrictEqual([instant.status, instant.body.items], [200, []])

        const user = yield* tokenOf(email)
        assert.strictEqual((yield* request("/admin/events", { headers: headers(user) })).status, 403)
        assert.strictEqual((yield* request("/admin/events")).status, 401)
        for (const query of [
          "type=Nonsense",
          "limit=0",
          "limit=101",
          "limit=ten",
          "since=yesterday",
          "cursor=not-a-cursor",
          `since=${future}&until=${past}`
        ]) {
          const reply = yield* request(`/admin/events?${query}`, { headers: headers(admin.token) })
          assert.strictEqual(reply.status, 422, query)
        }
      })
    )

    it.effect("GET /users/me/events: the caller's own history only", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        const id = yield* register(email)
        const other = freshEmail()
        yield* register(other)
        yield* tokenOf(other)
        const token = yield* tokenOf(email)
        yield* login(email, wrongPassword)
        yield* awaitEvent(id, "LoginSucceeded")
        const own = yield* request("/users/me/events", { headers: headers(token) })
        assert.strictEqual(own.status, 200)
        assert.deepStrictEqual(
          own.body.items.map((item: { type: string; user_id: string }) => [item.type, item.user_id]),
          [["LoginSucceeded", id]]
        )
        assert.strictEqual((yield* request("/users/me/events")).status, 401)
        assert.strictEqual((yield* request("/users/me/events?limit=0", { headers: headers(token) })).status, 422)
      })
    )

    it.effect("both routes are in the OpenAPI document", () =>
      Effect.gen(function* () {
        const paths = Object.keys((yield* request("/openapi.json")).body.paths)
        assert.includeMembers(paths, ["/admin/events", "/users/me/events"])
      })
    )

    it.effect("retention: events older than it are purged in bounded batches, newer ones stay", () =>
      Effect.gen(function* () {
        const log = yield* AuditLog.AuditLog
        const userId = `purged-${freshEmail()}`
        const old = new Date(Date.now() - 2 * 3_600_000)
        yield* log.append(Array.from({ length: 5 }, () => new AuthEvents.PasswordChanged({ at: old, userId })))
        yield* log.append([new AuthEvents.PasswordChanged({ at: new Date(), userId })])
        assert.strictEqual(yield* log.purge(new Date(Date.now() - 3_600_000), 2), 2)
        assert.strictEqual(yield* AuditLog.purgeExpired(log, "1 hour", 2), 3)
        const left = yield* log.query({ userId, limit: 10 })
        assert.strictEqual(left.entries.length, 1)
        assert.strictEqual(yield* AuditLog.purgeExpired(log, Duration.infinity, 2), 0)
      })
    )

    it.effect("no event and no log line holds a password or token the run used", () =>
      Effect.gen(function* () {
        const everything = yield* Effect.flatMap(AuditLog.AuditLog, (log) => log.query({ limit: 100_000 }))
        assert.isAbove(everything.entries.length, 20)
        const texts = [...everything.entries.map((entry) => AuditLog.toJson(entry.event)), ...logLines]
        for (const secret of secrets) {
          const leaked = texts.find((text) => text.includes(secret))
          assert.isUndefined(leaked, `a secret appears in: ${leaked}`)
        }
        const kinds = new Set(everything.entries.map((entry) => entry.event._tag))
        assert.isAtLeast(kinds.size, 18)
      })
    )
  })
}

/**
 * Outages are 503, not 401 or 500 (issue 8, item 5), against a real PostgreSQL that the test stops and
 * starts itself: every route answers 503 `{"detail": "SERVICE_UNAVAILABLE"}` with `Retry-After` while the
 * database is down (a valid token included), logs the cause once per failure without secrets, and the same
 * requests succeed again once the database is back, without restarting the app. Also: a pool that stays
 * exhausted answers 503 within its connect timeout instead of hanging; and a frozen database (SIGSTOP: connections
 * open, no answer, like a network partition) answers 503 within `PgStorage`'s query timeout instead of hanging
 * until it is resumed.
 */

import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Redacted } from "effect"
import { PgStorage } from "effect-users/pg"
import { type Reply, request } from "../utils/HttpTest.js"
import { makeOpsServer, pollUntil } from "../utils/OpsServer.js"
import * as PgCluster from "../utils/PgCluster.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"

const assertUnavailable = (reply: Reply, what: string) => {
  assert.strictEqual(reply.status, 503, `${what}: ${reply.status} ${JSON.stringify(reply.body)}`)
  assert.deepStrictEqual(reply.body, { detail: "SERVICE_UNAVAILABLE" }, what)
  assert.match(reply.headers.get("retry-after") ?? "", /^[1-9]\d*$/, what)
}

// biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
const timed = (effect: Effect.Effect<Reply, never, any>) =>
  Effect.map(Effect.timed(effect), ([duration, reply]) => ({ reply, ms: Duration.toMillis(duration) }))

describe.skipIf(!PgCluster.available)("outage: PostgreSQL stopped and restarted under a running server", () => {
  const client = Layer.unwrapEffect(
    Effect.map(PgCluster.PgCluster, (cluster) =>
      PgClient.layer({ url: Redacted.make(cluster.url), connectTimeout: "2 seconds" })
    )
  )
  const server = makeOpsServer(client)
  const { hooks, logs } = server

  layer(Layer.provideMerge(server.layer, PgCluster.layer), { excludeTestServices: true, timeout: 60_000 })(
    "every route",
    (it) => {
      it.effect(
        "503 with Retry-After on every route while down (a valid token is never a 401), logged once each; back by itself",
        () =>
          Effect.gen(function* () {
            const cluster = yield* PgCluster.PgCluster
            const email = freshEmail()
            assert.strictEqual((yield* request("/auth/register", { json: { email, password } })).status, 201)
            const jwt = yield* request("/auth/jwt/login", { form: { username: email, password } })
            const bearer = { authorization: `Bearer ${jwt.body.access_token}` }
            const cookieLogin = yield* request("/auth/cookie/login", { form: { username: email, password } })
            const cookieValue = /^fastapiusersauth=([^;]*)/.exec(cookieLogin.headers.get("set-cookie") ?? "")?.[1] ?? ""
            const cookie = { cookie: `fastapiusersauth=${cookieValue}` }
            assert.strictEqual((yield* request("/users/me", { headers: bearer })).status, 200)
            assert.strictEqual((yield* request("/users/me", { headers: cookie })).status, 200)
            assert.strictEqual((yield* request("/auth/forgot-password", { json: { email } })).status, 202)
            const resetToken = yield* pollUntil(
              Effect.sync(() => hooks.named("onAfterForgotPassword").at(-1)?.args[1] as string | undefined),
              (token) => token !== undefined
            )

            yield* cluster.stop
            const logsBefore = logs.length
            const down = {
              register: request("/auth/register", { json: { email: freshEmail(), password } }),
              "jwt login": request("/auth/jwt/login", { form: { username: email, password } }),
              "cookie login": request("/auth/cookie/login", { form: { username: email, password } }),
              "/users/me (bearer JWT)": request("/users/me", { headers: bearer }),
              "/users/me (cookie, database token)": request("/users/me", { headers: cookie }),
              "PATCH /users/me": request("/users/me", { method: "PATCH", json: { is_active: true }, headers: bearer }),
              "reset-password": request("/auth/reset-password", {
                json: { token: resetToken, password: `${password}!` }
              }),
              "the app's own route": request("/greetings/hello", { headers: bearer }),
              "optional authentication": request("/greetings/welcome", { headers: bearer }),
              "logout (cookie)": request("/auth/cookie/logout", { method: "POST", headers: cookie })
            }
            for (const [what, send] of Object.entries(down)) {
              const { ms, reply } = yield* timed(send)
              assertUnavailable(reply, what)
              assert.strictEqual(reply.headers.get("retry-after"), "5", what)
              assert.isBelow(ms, 3000, `${what} answered in ${ms} ms`)
            }
            // forgot-password answers 202 before its lookup runs; once that background lookup has met the
            // outage, new requests get 503 until Retry-After has passed.
            const forgot = yield* pollUntil(
              request("/auth/forgot-password", { json: { email } }),
              (reply) => reply.status === 503
            )
            assertUnavailable(forgot, "forgot-password")
            assertUnavailable(yield* request("/auth/request-verify-token", { json: { email } }), "request-verify-token")

            const during = logs.slice(logsBefore)
            const answered = during.filter((entry) => entry.message.startsWith("Service unavailable, answered 503"))
            const storage = answered.filter((entry) => entry.message.includes("storage unavailable: SqlError"))
            assert.strictEqual(storage.length, Object.keys(down).length)
            for (const entry of answered) assert.strictEqual(entry.level, "ERROR")
            for (const entry of storage)
              assert.match(entry.message, /SqlError.*ECONNREFUSED|SqlError.*57P01|SqlError.*terminat/i)
            assert.isTrue(
              during.some((entry) => entry.message.startsWith("Background forgotPassword failed: storage unavailable")),
              "the background lookup's failure is logged"
            )
            // Once per failure: every 503 answered has one log line, and nothing else logged an error.
            const errors = during.filter((entry) => entry.level === "ERROR")
            assert.strictEqual(
              errors.length,
              answered.length + during.filter((entry) => entry.message.startsWith("Background")).length
            )
            const text = server.logText()
            for (const secret of [password, resetToken!, cookieValue, jwt.body.access_token as string, "fake$"]) {
              assert.notInclude(text, secret)
            }

            yield* cluster.start
            const me = yield* pollUntil(
              request("/users/me", { headers: bearer }),
              (reply) => reply.status !== 503,
              20_000
            )
            assert.strictEqual(me.status, 200)
            assert.strictEqual((yield* request("/users/me", { headers: cookie })).status, 200)
            assert.strictEqual((yield* request("/greetings/hello", { headers: bearer })).status, 200)
            assert.strictEqual((yield* request("/auth/jwt/login", { form: { username: email, password } })).status, 200)
            assert.strictEqual(
              (yield* request("/auth/register", { json: { email: freshEmail(), password } })).status,
              201
            )
            const reset = yield* request("/auth/reset-password", {
              json: { token: resetToken, password: `${password}!` }
            })
            assert.strictEqual(reset.status, 200)
            const forgotAgain = yield* pollUntil(
              request("/auth/forgot-password", { json: { email } }),
              (reply) => reply.status === 202,
              20_000
            )
            assert.strictEqual(forgotAgain.status, 202)
          })
      )
    }
  )
})

describePg("outage: a pool that stays exhausted", () => {
  const database = freshDatabase()
  const client = PgClient.layer({ url: Redacted.make(database.url), maxConnections: 2, connectTimeout: "1 second" })
  const server = makeOpsServer(client)

  layer(server.layer, { excludeTestServices: true })("pool", (it) => {
    it.effect("answers 503 within the connect timeout instead of waiting for a connection", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        yield* request("/auth/register", { json: { email, password } })
        const jwt = yield* request("/auth/jwt/login", { form: { username: email, password } })
        const bearer = { authorization: `Bearer ${jwt.body.access_token}` }
        const sql = yield* SqlClient.SqlClient
        // Both connections of the pool are busy for longer than the connect timeout.
        const holders = yield* Effect.forEach([1, 2], () => Effect.fork(Effect.ignore(sql`SELECT pg_sleep(4)`)))
        yield* Effect.sleep(300)
        const { ms, reply } = yield* timed(request("/users/me", { headers: bearer }))
        assertUnavailable(reply, "/users/me with the pool exhausted")
        assert.isBelow(ms, 3000)
        assert.isTrue(server.logs.some((entry) => /timeout exceeded when trying to connect/.test(entry.message)))
        yield* Fiber.joinAll(holders)
        assert.strictEqual((yield* request("/users/me", { headers: bearer })).status, 200)
      })
    )
  })
})

describe.skipIf(!PgCluster.available)("outage: PostgreSQL frozen under a running server", () => {
  const queryTimeout = 1000
  const connectTimeout = 1000
  // A request may meet both bounds (a query that times out, then a new connection that does), plus a loaded machine.
  const bound = queryTimeout + connectTimeout + 2000
  const client = Layer.unwrapEffect(
    Effect.map(PgCluster.PgCluster, (cluster) =>
      PgStorage.layer({ url: Redacted.make(cluster.url), maxConnections: 4, queryTimeout, connectTimeout })
    )
  )
  const server = makeOpsServer(client)
  const { logs } = server

  layer(Layer.provideMerge(server.layer, PgCluster.layer), { excludeTestServices: true, timeout: 60_000 })(
    "frozen",
    (it) => {
      it.effect("503 with Retry-After within the query timeout while frozen, logged once each; back by itself", () =>
        Effect.gen(function* () {
          const cluster = yield* PgCluster.PgCluster
          const email = freshEmail()
          assert.strictEqual((yield* request("/auth/register", { json: { email, password } })).status, 201)
          const jwt = yield* request("/auth/jwt/login", { form: { username: email, password } })
          const bearer = { authorization: `Bearer ${jwt.body.access_token}` }
          const me = request("/users/me", { headers: bearer })
          // Every pooled connection open and used, as in a server under load when the database stalls.
          const warm = yield* Effect.all(
            Array.from({ length: 8 }, () => me),
            { concurrency: "unbounded" }
          )
          for (const reply of warm) assert.strictEqual(reply.status, 200)

          const logsBefore = logs.length
          const answers = yield* Effect.gen(function* () {
            yield* cluster.freeze
            // The pooled connections first (their queries time out), then more than the pool holds at once.
            const burst = yield* Effect.all(
              [
                ...Array.from({ length: 8 }, () => timed(me)),
                timed(request("/auth/register", { json: { email: freshEmail(), password } })),
                timed(request("/auth/jwt/login", { form: { username: email, password } }))
              ],
              { concurrency: "unbounded" }
            )
            // Then one at a time, once the connections that timed out are gone.
            const after = yield* Effect.forEach([1, 2, 3], () => timed(me))
            return [...burst, ...after]
          }).pipe(Effect.ensuring(cluster.thaw))
          for (const [i, { ms, reply }] of answers.entries()) {
            assertUnavailable(reply, `request ${i} while frozen`)
            assert.strictEqual(reply.headers.get("retry-after"), "5")
            assert.isBelow(ms, bound, `request ${i} answered in ${ms} ms`)
          }

          const answered = logs
            .slice(logsBefore)
            .filter((entry) => entry.message.startsWith("Service unavailable, answered 503"))
          assert.strictEqual(answered.length, answers.length, "one log line per 503")
          for (const entry of answered) {
            assert.strictEqual(entry.level, "ERROR")
            // A query that got no answer, a connection that could not be opened, or none free in the pool in time.
            assert.match(
              entry.message,
              /storage unavailable: SqlError.*(Query read timeout|connection timeout|timeout exceeded when trying to connect)/,
              entry.message
            )
          }
          assert.isTrue(answered.some((entry) => /Query read timeout/.test(entry.message)))
          assert.notInclude(server.logText(), password)

          const back = yield* pollUntil(me, (reply) => reply.status !== 503, 20_000)
          assert.strictEqual(back.status, 200)
          const again = yield* Effect.all(
            Array.from({ length: 8 }, () => timed(me)),
            { concurrency: "unbounded" }
          )
          for (const { ms, reply } of again) {
            assert.strictEqual(reply.status, 200)
            assert.isBelow(ms, bound)
          }
          assert.strictEqual((yield* request("/auth/jwt/login", { form: { username: email, password } })).status, 200)
        })
      )
    }
  )
})

describe("outage: an SQLite file locked by another connection", () => {
  const file = join(tmpdir(), `effect-users-locked-${crypto.randomUUID()}.db`)
  const server = makeOpsServer(SqliteClient.layer({ filename: file }))
  afterAll(() => {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true })
  })

  layer(server.layer, { excludeTestServices: true, timeout: 60_000 })("locked", (it) => {
    it.effect(
      "a write waits the busy timeout, then answers 503 with Retry-After; it succeeds once the lock is gone",
      () =>
        Effect.gen(function* () {
          assert.strictEqual(
            (yield* request("/auth/register", { json: { email: freshEmail(), password } })).status,
            201
          )
          const logsBefore = server.logs.length
          // Another client of the same file (a second connection, as another process would hold) takes the write lock.
          const { ms, reply } = yield* Effect.gen(function* () {
            const other = yield* SqliteClient.make({ filename: file })
            yield* Effect.acquireRelease(other.unsafe("BEGIN EXCLUSIVE"), () => Effect.ignore(other.unsafe("ROLLBACK")))
            return yield* timed(request("/auth/register", { json: { email: freshEmail(), password } }))
          }).pipe(Effect.scoped, Effect.provide(Reactivity.layer))
          assertUnavailable(reply, "register while the file is locked")
          // better-sqlite3's busy timeout (5 s), plus a loaded machine.
          assert.isBelow(ms, 9000, `answered in ${ms} ms`)
          const answered = server.logs
            .slice(logsBefore)
            .filter((entry) => entry.message.startsWith("Service unavailable, answered 503"))
          assert.strictEqual(answered.length, 1)
          assert.match(answered[0]!.message, /SQLITE_BUSY/)
          assert.strictEqual(
            (yield* request("/auth/register", { json: { email: freshEmail(), password } })).status,
            201
          )
        })
    )
  })
})

/**
 * The PostgreSQL adapter owns its outages (issue 18, item 4): `PgUnavailable` reads an `SqlError` of
 * `@effect/sql-pg` for SQLSTATE classes 08 and 53, 57P0x, 57014, 55P03, `pg`'s and `pg-pool`'s messages and
 * Node's socket errors; `SqlUnavailable`, which the SQL adapters use, agrees on every one. The errors are made for
 * real where that is cheap: a refused connection, a terminated backend, statement and lock timeouts, a pool that
 * stays exhausted, and the errors that are not outages (a constraint, a syntax error, a data exception).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option } from "effect"
import { Unavailable, UserError } from "effect-users"
import { PgUnavailable } from "effect-users/pg"
import { SqlAccessTokenStore, SqlUnavailable } from "effect-users/sql"
import pg from "pg"
import { freePort } from "../utils/LocalServer.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"

const sqlError = (cause: unknown, message = "Failed to execute statement") => new SqlError({ cause, message })
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code })

const defectOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

const codeOf = (error: SqlError) => (error.cause as { code?: unknown }).code

const assertOutage = (error: unknown, what: string) => {
  assert.isTrue(PgUnavailable.isUnavailable(error), `PgUnavailable: ${what}`)
  assert.isTrue(SqlUnavailable.isUnavailable(error), `SqlUnavailable: ${what}`)
}

const assertNotOutage = (error: unknown, what: string) => {
  assert.isFalse(PgUnavailable.isUnavailable(error), `PgUnavailable: ${what}`)
  assert.isFalse(SqlUnavailable.isUnavailable(error), `SqlUnavailable: ${what}`)
}

/** A client over a pool of `options`, not checked at start (as `PgClient.layer` is), so that queries meet the fault. */
const poolClient = (options: pg.PoolConfig) =>
  PgClient.layerFromPool({
    acquire: Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new pg.Pool(options)
        pool.on("error", () => undefined)
        return pool
      }),
      (pool) => Effect.promise(() => pool.end())
    )
  })

describe("PgUnavailable.isUnavailable", () => {
  it("SQLSTATE classes 08 and 53, 57P01-57P05, 57014, 55P03, pg's and pg-pool's messages are outages", () => {
    const outages = [
      sqlError(withCode("connection failure", "08006")),
      sqlError(withCode("could not connect", "08001")),
      sqlError(withCode("sorry, too many clients already", "53300")),
      sqlError(withCode("could not resize shared memory segment", "53100")),
      sqlError(withCode("terminating connection due to administrator command", "57P01")),
      sqlError(withCode("terminating connection because of crash of another server process", "57P02")),
      sqlError(withCode("the database system is starting up", "57P03")),
      sqlError(withCode("terminating connection due to idle-session timeout", "57P05")),
      sqlError(withCode("canceling statement due to statement timeout", "57014")),
      sqlError(withCode("canceling statement due to lock timeout", "55P03")),
      sqlError(new Error("Connection terminated unexpectedly")),
      sqlError(new Error("Connection terminated due to connection timeout", { cause: new Error("timeout expired") })),
      sqlError(new Error("timeout exceeded when trying to connect"), "Failed to acquire connection"),
      sqlError(new Error(PgUnavailable.queryTimeoutMessage)),
      sqlError(new Error("Client has encountered a connection error and is not queryable")),
      sqlError(new Error("No client returned"), "Failed to acquire connection for transaction"),
      sqlError(withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"), "Connection error")
    ]
    for (const error of outages) assertOutage(error, String(error.cause))
  })

  it("other SQLSTATEs, SQLite's codes and errors that are not SqlErrors are not", () => {
    const others = [
      sqlError(withCode("duplicate key value violates unique constraint", "23505")),
      sqlError(withCode("permission denied for table user", "42501")),
      sqlError(withCode("deadlock detected", "40P01")),
      withCode("terminating connection due to administrator command", "57P01"),
      new Error("Connection terminated unexpectedly")
    ]
    for (const error of others) assert.isFalse(PgUnavailable.isUnavailable(error), String(error))
    assert.isFalse(PgUnavailable.isUnavailable(sqlError(withCode("database is locked", "SQLITE_BUSY"))))
  })

  it.live(
    "a connection refused (nothing listens on the port) is an outage; an adapter on it dies with 503's error",
    () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const refused = yield* Effect.flip(sql`SELECT 1`)
        assert.strictEqual(refused.message, "Failed to acquire connection")
        assert.match(Unavailable.describe(refused), /ECONNREFUSED/)
        assertOutage(refused, "ECONNREFUSED")

        const store = yield* SqlAccessTokenStore.make()
        const defect = defectOf(yield* Effect.exit(store.read("digest")))
        assert.instanceOf(defect, UserError.ServiceUnavailable)
        assert.match((defect as UserError.ServiceUnavailable).reason, /^storage unavailable: SqlError: .*ECONNREFUSED/)
        assert.strictEqual((defect as UserError.ServiceUnavailable).retryAfter, 5)
      }).pipe(
        Effect.provide(
          Layer.unwrapEffect(
            Effect.map(Effect.promise(freePort), (port) => poolClient({ host: "127.0.0.1", port, user: "postgres" }))
          )
        )
      )
  )
})

describePg("PgUnavailable on a real PostgreSQL", () => {
  const database = freshDatabase()

  layer(database.client, { excludeTestServices: true })("errors of the server", (it) => {
    it.effect("a backend terminated by the administrator (57P01) is an outage", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const terminated = yield* Effect.flip(sql`SELECT pg_terminate_backend(pg_backend_pid())`)
        assert.strictEqual(codeOf(terminated), "57P01")
        assertOutage(terminated, "57P01")
        // The connection's end may still reach the next query on it (`Connection error`): an outage too.
        const next = yield* Effect.either(sql`SELECT 1 AS one`)
        if (next._tag === "Left") assertOutage(next.left, `after the termination: ${next.left.message}`)
        assert.deepStrictEqual(yield* sql`SELECT 1 AS one`, [{ one: 1 }])
      })
    )

    it.effect("a statement timeout (57014) and a lock timeout (55P03) are outages", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const statement = yield* Effect.flip(
          sql.withTransaction(Effect.zipRight(sql`SET LOCAL statement_timeout = '50ms'`, sql`SELECT pg_sleep(2)`))
        )
        assert.strictEqual(codeOf(statement), "57014")
        assertOutage(statement, "57014")

        yield* sql`CREATE TABLE locked (id integer)`
        const holder = new pg.Client({ connectionString: database.url })
        yield* Effect.acquireRelease(
          Effect.promise(async () => {
            await holder.connect()
            await holder.query("BEGIN")
            await holder.query("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")
          }),
          () => Effect.promise(() => holder.end())
        )
        const lock = yield* Effect.flip(
          sql.withTransaction(Effect.zipRight(sql`SET LOCAL lock_timeout = '50ms'`, sql`SELECT * FROM locked`))
        )
        assert.strictEqual(codeOf(lock), "55P03")
        assertOutage(lock, "55P03")
      }).pipe(Effect.scoped)
    )

    it.effect("a unique violation, a syntax error and a data exception are not outages", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE once (id integer PRIMARY KEY)`
        yield* sql`INSERT INTO once VALUES (1)`
        const unique = yield* Effect.flip(sql`INSERT INTO once VALUES (1)`)
        const syntax = yield* Effect.flip(sql.unsafe("SELEC 1"))
        const data = yield* Effect.flip(sql`SELECT ${"not a uuid"}::uuid`)
        assert.deepStrictEqual([unique, syntax, data].map(codeOf), ["23505", "42601", "22P02"])
        for (const error of [unique, syntax, data]) assertNotOutage(error, String(codeOf(error)))
      })
    )
  })

  it.live("a pool that stays exhausted (pg-pool's connect timeout) is an outage", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const holding = yield* Effect.fork(sql`SELECT pg_sleep(1)`)
      yield* Effect.sleep(100)
      const exhausted = yield* Effect.flip(sql`SELECT 1`)
      assert.strictEqual(exhausted.message, "Failed to acquire connection")
      assert.match(String(exhausted.cause), /timeout exceeded when trying to connect/)
      assertOutage(exhausted, "pool exhausted")
      yield* Fiber.join(holding)
    }).pipe(Effect.provide(poolClient({ connectionString: database.url, max: 1, connectionTimeoutMillis: 200 })))
  )
})

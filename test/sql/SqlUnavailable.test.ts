/**
 * The SQL adapters own their outages (issue 18, item 4): `SqlUnavailable` reads an `SqlError`'s causes for both
 * families (SQLite's codes, PostgreSQL's SQLSTATEs and `pg`'s messages, Node's socket errors), and an adapter that
 * gives up on an outage dies with `ServiceUnavailable` (its reason names the fault, `Retry-After` 5), on anything
 * else with the `SqlError` itself. SQLITE_BUSY is produced for real, by a second connection holding the write lock.
 */
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, ParseResult, Schema } from "effect"
import { UserError } from "effect-users"
import { Migrations, SqlAccessTokenStore, SqlUnavailable } from "effect-users/sql"

const sqlError = (cause: unknown, message = "Failed to execute statement") => new SqlError({ cause, message })
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code })

const defectOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

describe("SqlUnavailable.isUnavailable", () => {
  // Moved from test/http/Failures.test.ts: the edge no longer reads driver errors, the SQL adapters do.
  it("storage connection faults of either family are outages", () => {
    const outages = [
      sqlError(withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"), "Failed to acquire connection"),
      sqlError(withCode("terminating connection due to administrator command", "57P01")),
      sqlError(withCode("sorry, too many clients already", "53300")),
      sqlError(withCode("the database system is starting up", "57P03")),
      sqlError(new Error("Connection terminated unexpectedly")),
      sqlError(new Error("timeout exceeded when trying to connect"), "Failed to acquire connection"),
      sqlError(withCode("database is locked", "SQLITE_BUSY")),
      sqlError(Object.assign(new AggregateError([withCode("connect ECONNREFUSED ::1:5432", "ECONNREFUSED")]), {})),
      sqlError(withCode("disk I/O error", "SQLITE_IOERR_WRITE")),
      sqlError(withCode("database or disk is full", "SQLITE_FULL")),
      sqlError(withCode("unable to open database file", "SQLITE_CANTOPEN"))
    ]
    for (const error of outages) assert.isTrue(SqlUnavailable.isUnavailable(error), String(error.cause))
  })

  it("a constraint, a syntax error, a value that does not decode, or an error that is not an SqlError are not", () => {
    const parse = new ParseResult.ParseError({ issue: new ParseResult.Type(Schema.String.ast, 42) })
    const others = [
      sqlError(withCode('duplicate key value violates unique constraint "ix_user_email"', "23505")),
      sqlError(withCode("UNIQUE constraint failed: user.email", "SQLITE_CONSTRAINT_UNIQUE")),
      sqlError(withCode('syntax error at or near "SELEC"', "42601")),
      sqlError(withCode("no such table: nowhere", "SQLITE_ERROR")),
      sqlError(withCode('invalid input syntax for type uuid: "x"', "22P02")),
      sqlError(parse),
      parse,
      withCode("database is locked", "SQLITE_BUSY"),
      new Error("Connection terminated unexpectedly")
    ]
    for (const error of others) assert.isFalse(SqlUnavailable.isUnavailable(error), String(error))
  })
})

describe("an SQL adapter on an SQLite file another connection holds locked", () => {
  const file = join(tmpdir(), `effect-users-busy-${crypto.randomUUID()}.db`)
  afterAll(() => {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true })
  })

  it.live("dies with ServiceUnavailable (SQLITE_BUSY, Retry-After 5), and with the SqlError itself on a bug", () =>
    Effect.gen(function* () {
      const holder = yield* SqliteClient.make({ filename: file })
      const client = yield* SqliteClient.make({ filename: file })
      yield* Migrations.run().pipe(Effect.provideService(SqlClient.SqlClient, client), Effect.orDie)
      // Wait 50 ms for a lock, not better-sqlite3's 5 s; tokens of no user row.
      yield* client.unsafe("PRAGMA busy_timeout = 50")
      yield* client.unsafe("PRAGMA foreign_keys = OFF")
      const store = yield* SqlAccessTokenStore.make().pipe(Effect.provideService(SqlClient.SqlClient, client))
      const token = { userId: "42", createdAt: new Date() }

      const busy = yield* Effect.gen(function* () {
        yield* Effect.acquireRelease(holder.unsafe("BEGIN EXCLUSIVE"), () => Effect.ignore(holder.unsafe("ROLLBACK")))
        const raw = yield* Effect.flip(client.unsafe("INSERT INTO accesstoken (token, user_id) VALUES ('t', '42')"))
        assert.strictEqual((raw.cause as { code?: unknown }).code, "SQLITE_BUSY")
        assert.isTrue(SqlUnavailable.isUnavailable(raw))
        return defectOf(yield* Effect.exit(store.write("digest", token)))
      }).pipe(Effect.scoped)
      assert.instanceOf(busy, UserError.ServiceUnavailable)
      assert.match((busy as UserError.ServiceUnavailable).reason, /^storage unavailable: SqlError: .*SQLITE_BUSY/)
      assert.strictEqual((busy as UserError.ServiceUnavailable).retryAfter, 5)
      assert.notInclude((busy as UserError.ServiceUnavailable).reason, "digest")

      // The lock is gone: the same store writes.
      yield* store.write("digest", token)
      assert.isTrue(Option.isSome(yield* store.read("digest")))

      // A table that is not there is a bug, not an outage: the defect is the SqlError.
      const missing = yield* SqlAccessTokenStore.make({ table: "no_such_table" }).pipe(
        Effect.provideService(SqlClient.SqlClient, client)
      )
      const bug = defectOf(yield* Effect.exit(missing.read("digest")))
      assert.instanceOf(bug, SqlError)
      assert.isFalse(SqlUnavailable.isUnavailable(bug))
    }).pipe(Effect.scoped, Effect.provide(Reactivity.layer))
  )
})

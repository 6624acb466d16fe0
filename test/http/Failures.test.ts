/**
 * The HTTP edge's failure mapping (issue 8, item 5): any defect that is not an outage is a 500 with a
 * `detail` body and one error log line carrying the cause; the classifier that tells outages apart, which knows
 * one outage, `ServiceUnavailable` (issue 18, item 4: the adapters turn their drivers' outages into it).
 * The outage itself is tested against a real PostgreSQL in Outage.test.ts.
 */
import { SqlError } from "@effect/sql/SqlError"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Effect, ParseResult, Redacted, Schema } from "effect"
import { PasswordHasher, UserError } from "effect-users"
import { Failures } from "effect-users/http"
import { Redis } from "effect-users/redis"
import { request } from "../utils/HttpTest.js"
import { makeOpsServer } from "../utils/OpsServer.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"
const doomed = "doomed-password-0123"

describe("a defect that is not an outage", () => {
  const server = makeOpsServer(SqliteClient.layer({ filename: ":memory:" }), {
    validator: {
      validate: (candidate) =>
        Redacted.value(candidate) === doomed ? Effect.die(new Error("the password validator exploded")) : Effect.void
    }
  })

  layer(server.layer, { excludeTestServices: true })("HTTP", (it) => {
    it.effect("answers 500 {detail: INTERNAL_SERVER_ERROR} with one error log line naming the cause", () =>
      Effect.gen(function* () {
        const before = server.logs.length
        const reply = yield* request("/auth/register", { json: { email: freshEmail(), password: doomed } })
        assert.strictEqual(reply.status, 500)
        assert.deepStrictEqual(reply.body, { detail: "INTERNAL_SERVER_ERROR" })
        const errors = server.logs.slice(before).filter((entry) => entry.level === "ERROR")
        assert.strictEqual(errors.length, 1)
        const [entry] = errors
        assert.strictEqual(entry!.message, "Unexpected defect, answered 500")
        assert.include(entry!.cause, "the password validator exploded")
        assert.match(entry!.cause, /\n\s+at /, "the log line keeps the stack frames")
        assert.deepInclude(entry!.annotations, { method: "POST", path: "/auth/register" })
        assert.notInclude(server.logText(), doomed)
        // The server goes on serving.
        const ok = yield* request("/auth/register", { json: { email: freshEmail(), password } })
        assert.strictEqual(ok.status, 201)
      })
    )

    it.effect("an unknown route answers 404 with FastAPI's {detail: Not Found}, logging nothing", () =>
      Effect.gen(function* () {
        const before = server.logs.length
        for (const [path, method] of [
          ["/no/such/route", "GET"],
          ["/auth/jwt/no-such", "POST"]
        ] as const) {
          const reply = yield* request(path, { method })
          assert.deepStrictEqual([reply.status, reply.body], [404, { detail: "Not Found" }], `${method} ${path}`)
        }
        assert.lengthOf(
          server.logs.slice(before).filter((entry) => entry.level === "ERROR"),
          0
        )
      })
    )
  })
})

describe("Failures.classify", () => {
  const sqlError = (cause: unknown, message = "Failed to execute statement") => new SqlError({ cause, message })
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code })

  // The recognition of driver errors moved to the adapters: test/sql/SqlUnavailable.test.ts,
  // test/pg/PgUnavailable.test.ts and test/redis/RedisUnavailable.test.ts.
  it("a driver's error is no outage to the edge: a raw SqlError or RedisError that reaches it is a 500", () => {
    const refused = withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")
    for (const error of [
      sqlError(refused, "Failed to acquire connection"),
      sqlError(withCode("database is locked", "SQLITE_BUSY")),
      sqlError(withCode("terminating connection due to administrator command", "57P01")),
      new Redis.RedisError({ message: "Redis: read failed", cause: new Error("Connection is closed.") })
    ]) {
      assert.strictEqual(Failures.classify(Cause.die(error))._tag, "Internal", Failures.describe(error))
    }
    // What the adapters die with instead, also as the cause of another error.
    const unavailable = new UserError.ServiceUnavailable({ reason: "storage unavailable: SqlError", retryAfter: 5 })
    for (const u of [unavailable, sqlError(unavailable)]) {
      assert.deepStrictEqual(Failures.classify(Cause.die(u)), {
        _tag: "Unavailable",
        unavailability: { reason: "storage unavailable: SqlError", retryAfter: 5 }
      })
    }
  })

  it("ServiceUnavailable is 503 with its own Retry-After, as a defect or a failure", () => {
    for (const cause of [
      Cause.die(PasswordHasher.queueFull()),
      Cause.fail(new UserError.ServiceUnavailable({ reason: "redis down" }))
    ]) {
      const verdict = Failures.classify(cause)
      assert.strictEqual(verdict._tag, "Unavailable")
    }
    const verdict = Failures.classify(Cause.die(PasswordHasher.queueFull()))
    assert.deepStrictEqual(verdict, {
      _tag: "Unavailable",
      unavailability: { reason: "PasswordHasher: the hash queue is full", retryAfter: 1 }
    })
  })

  it("other defects are 500; typed failures and interruptions are left to the API", () => {
    const unique = sqlError(withCode('duplicate key value violates unique constraint "ix_user_email"', "23505"))
    assert.strictEqual(Failures.classify(Cause.die(unique))._tag, "Internal")
    assert.strictEqual(Failures.classify(Cause.die(new Error("bug")))._tag, "Internal")
    assert.strictEqual(Failures.classify(Cause.fail(new UserError.UserAlreadyExists()))._tag, "Expected")
    assert.strictEqual(Failures.classify(Cause.interrupt(0 as never))._tag, "Expected")
  })

  it("describe names the error chain but never a ParseError's message (it quotes the value)", () => {
    const parse = new ParseResult.ParseError({
      issue: new ParseResult.Type(Schema.String.ast, 42, "hashed_password $argon2id$secret")
    })
    const text = Failures.describe(sqlError(parse))
    assert.include(text, "SqlError: Failed to execute statement")
    assert.include(text, "ParseError")
    assert.notInclude(text, "$argon2id$secret")
    const invalid = Failures.describe(sqlError(withCode('invalid input syntax for type uuid: "s3cret"', "22P02")))
    assert.include(invalid, "[22P02]")
    assert.notInclude(invalid, "s3cret")
  })
})

/**
 * The HTTP edge's failure mapping (issue 8, item 5): any defect that is not an outage is a 500 with a
 * `detail` body and one error log line carrying the cause; the classifier that tells outages apart.
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

  it("storage connection faults are 503 with Retry-After 5", () => {
    const outages = [
      sqlError(withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"), "Failed to acquire connection"),
      sqlError(withCode("terminating connection due to administrator command", "57P01")),
      sqlError(withCode("sorry, too many clients already", "53300")),
      sqlError(withCode("the database system is starting up", "57P03")),
      sqlError(new Error("Connection terminated unexpectedly")),
      sqlError(new Error("timeout exceeded when trying to connect"), "Failed to acquire connection"),
      sqlError(withCode("database is locked", "SQLITE_BUSY")),
      sqlError(Object.assign(new AggregateError([withCode("connect ECONNREFUSED ::1:5432", "ECONNREFUSED")]), {}))
    ]
    for (const error of outages) {
      const verdict = Failures.classify(Cause.die(error))
      assert.strictEqual(verdict._tag, "Unavailable", Failures.describe(error))
      if (verdict._tag === "Unavailable") assert.strictEqual(verdict.unavailability.retryAfter, 5)
    }
  })

  it("Redis connection faults (ioredis's fail-fast errors, Redis's busy replies) are 503 with Retry-After 5", () => {
    const redisError = (cause: unknown) => new Redis.RedisError({ message: "Redis: read failed", cause })
    const outages = [
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      new Error("Connection is closed."),
      new Error("Command timed out"),
      Object.assign(new Error("Reached the max retries per request limit (which is 0). Refer to ..."), {
        name: "MaxRetriesPerRequestError"
      }),
      withCode("connect ECONNREFUSED 127.0.0.1:6379", "ECONNREFUSED"),
      new Error("LOADING Redis is loading the dataset in memory"),
      new Error("OOM command not allowed when used memory > 'maxmemory'.")
    ]
    for (const error of outages) {
      const verdict = Failures.classify(Cause.die(redisError(error)))
      assert.strictEqual(verdict._tag, "Unavailable", error.message)
      if (verdict._tag === "Unavailable") assert.strictEqual(verdict.unavailability.retryAfter, 5)
    }
    // A reply that is a bug of ours (a wrong type, a broken script) is a 500; so is the same message untagged.
    const wrongType = new Error("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert.strictEqual(Failures.classify(Cause.die(redisError(wrongType)))._tag, "Internal")
    assert.strictEqual(Failures.classify(Cause.die(new Error("Connection is closed.")))._tag, "Internal")
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

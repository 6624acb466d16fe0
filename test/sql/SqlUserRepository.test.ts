import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import { assertSome, deepStrictEqual } from "@effect/vitest/utils"
import { Cause, Effect, Exit, Layer, Option, Redacted, Schema, String as Str } from "effect"
import { User, UserModel, UserRepository } from "effect-users"
import { Migrations, SqlUserRepository } from "effect-users/sql"
import { singleUseManagerSuite, singleUseRepositorySuite } from "../suites/SingleUseSuite.js"
import { userManagerSuite } from "../suites/UserManagerSuite.js"
import { newUser, userRepositorySuite } from "../suites/UserRepositorySuite.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { customRepository, defaultRepository } from "../utils/SqlTest.js"
import { freshEmail } from "../utils/TestUsers.js"
import { recordingTracer } from "../utils/Tracing.js"

const sqlite = () => SqliteClient.layer({ filename: ":memory:" })

const oauth = { oauthName: "google", accessToken: "token", accountId: "acct", accountEmail: "a@camelot.bt" }

/**
 * Reads by ID that concurrent fibers start in one event-loop turn share one query. The tracer given to the
 * repository's layer (and so to these tests) records the text of every query.
 */
const coalescedReadsSuite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const log = recordingTracer()
  const repository = defaultRepository(client).pipe(Layer.provide(Layer.setTracer(log.tracer)))
  layer(Layer.merge(repository, client), { excludeTestServices: true })(name, (it) => {
    it.effect("concurrent reads by ID share one query; each caller gets its own user, a missing ID none", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const users = yield* Effect.forEach([1, 2, 3, 4, 5], () => repository.create(newUser()))
        const missing = crypto.randomUUID()
        log.recorded.length = 0
        const found = yield* Effect.forEach(
          [...users.map((user) => user.id), missing, users[0]!.id],
          (id) => repository.get(id),
          { concurrency: "unbounded" }
        )
        deepStrictEqual(found, [...users.map(Option.some), Option.none(), Option.some(users[0]!)])
        // One query for the six distinct IDs, then the missing one asked again on its own (a miss in a batch
        // is confirmed before it is believed).
        const queries = log.queries()
        assert.strictEqual(queries.length, 2, queries.join("\n"))
        assert.match(queries[0]!, /"id" IN \([?$\d]+(,[?$\d]+){5}\)/)
        assert.match(queries[1]!, /WHERE id = /)
      })
    )

    it.effect("a read by ID inside a transaction runs on the transaction's connection", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const sql = yield* SqlClient.SqlClient
        const user = yield* repository.create(newUser())
        const found = yield* sql.withTransaction(
          Effect.flatMap(repository.update(user, { isVerified: true }), () => repository.get(user.id))
        )
        // A batched read would wait for SQLite's only connection (the transaction holds it) or, on
        // PostgreSQL, read the committed row on another connection, without the uncommitted change.
        assert.isTrue(Option.isSome(found) && found.value.isVerified)
      }).pipe(Effect.timeout("5 seconds"))
    )
  })
}

/** `oauthTokenSecret`: provider tokens are encrypted in their columns, read back in clear, old rows still read. */
const tokenEncryptionSuite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const tokenSecret = Redacted.make("oauth-token-secret-oauth-token-secret")
  const encrypted = SqlUserRepository.layer({ oauthTokenSecret: tokenSecret }).pipe(
    Layer.provide(Migrations.layer()),
    Layer.provideMerge(client),
    Layer.orDie
  )
  layer(encrypted, { excludeTestServices: true })(name, (it) => {
    it.effect("tokens are stored encrypted and read in clear; tokens stored in clear before still read", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const sql = yield* SqlClient.SqlClient
        const details = {
          ...oauth,
          accountId: crypto.randomUUID(),
          accessToken: "gho_secret",
          refreshToken: "r_secret"
        }
        const user = yield* repository.createWithOAuthAccount(newUser(), details)
        assert.deepStrictEqual(
          [user.oauthAccounts[0]!.accessToken, user.oauthAccounts[0]!.refreshToken],
          ["gho_secret", "r_secret"]
        )
        const [row] = yield* sql<{ access_token: string; refresh_token: string }>`
          SELECT access_token, refresh_token FROM oauth_account WHERE account_id = ${details.accountId}`
        assert.match(row!.access_token, /^enc:v1:/)
        assert.notInclude(row!.access_token, "gho_secret")
        assert.notInclude(row!.refresh_token, "r_secret")
        const updated = yield* repository.updateOAuthAccount(user, user.oauthAccounts[0]!, { accessToken: "gho_new" })
        assert.strictEqual(updated.oauthAccounts[0]!.accessToken, "gho_new")
        const [after] = yield* sql<{ access_token: string }>`
          SELECT access_token FROM oauth_account WHERE account_id = ${details.accountId}`
        assert.notInclude(after!.access_token, "gho_new")
        yield* sql`UPDATE oauth_account SET access_token = 'plain-old' WHERE account_id = ${details.accountId}`
        const found = Option.getOrThrow(yield* repository.getByOAuthAccount("google", details.accountId))
        assert.strictEqual(found.oauthAccounts[0]!.accessToken, "plain-old")
      })
    )

    it.effect("a secret under 32 bytes is refused when the repository is built", () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(
          Layer.build(SqlUserRepository.layer({ oauthTokenSecret: Redacted.make("too-short") })).pipe(Effect.scoped)
        )
        assert.isTrue(Exit.isFailure(exit) && Cause.pretty(exit.cause).includes("oauthTokenSecret"))
      })
    )
  })
}

describe("SQLite", () => {
  userRepositorySuite("SqlUserRepository on SQLite", {
    default: defaultRepository(sqlite()),
    custom: customRepository(sqlite())
  })
  userManagerSuite("UserManager over SqlUserRepository on SQLite", defaultRepository(sqlite()))
  coalescedReadsSuite("SQLite: reads by ID", sqlite())
  singleUseRepositorySuite("SqlUserRepository on SQLite", defaultRepository(sqlite()))
  singleUseManagerSuite("UserManager over SqlUserRepository on SQLite", defaultRepository(sqlite()))
  tokenEncryptionSuite("SQLite: oauthTokenSecret", sqlite())

  const uncoalesced = recordingTracer()
  layer(
    SqlUserRepository.layer({ coalesceReads: false }).pipe(
      Layer.provide(Migrations.layer()),
      Layer.provide(sqlite()),
      Layer.provide(Layer.setTracer(uncoalesced.tracer)),
      Layer.orDie
    ),
    { excludeTestServices: true }
  )("SQLite: coalesceReads: false", (it) => {
    it.effect("each read by ID runs its own query", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const users = yield* Effect.forEach([1, 2, 3], () => repository.create(newUser()))
        uncoalesced.recorded.length = 0
        const found = yield* Effect.forEach(users, (user) => repository.get(user.id), { concurrency: "unbounded" })
        deepStrictEqual(found, users.map(Option.some))
        const queries = uncoalesced.queries()
        assert.strictEqual(queries.length, 3)
        assert.isTrue(queries.every((query) => / WHERE id = /.test(query)))
      })
    )
  })

  const client = sqlite()
  layer(Layer.merge(defaultRepository(client), client), { excludeTestServices: true })("SQLite storage", (it) => {
    it.effect("stores FastAPI Users' snake_case columns with booleans as 0/1", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const sql = yield* SqlClient.SqlClient
        const user = yield* repository.create({ ...newUser(), isVerified: true })
        const [row] = yield* sql`SELECT * FROM "user" WHERE id = ${user.id}`
        assert.deepStrictEqual(row, {
          id: user.id,
          email: user.email,
          hashed_password: "fake$hash",
          is_active: 1,
          is_superuser: 0,
          is_verified: 1,
          email_key: user.email.toLowerCase(),
          session_epoch: 0,
          sessions_revoked_until: 0,
          password_set: 1,
          deactivation_reason: null,
          deactivated_until: null
        })
      })
    )

    it.effect("list and count find rows without email_key (written by FastAPI Users) by lower(email)", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const sql = yield* SqlClient.SqlClient
        const tag = `legacy${crypto.randomUUID().slice(0, 8)}`
        const user = newUser(`${tag}.Lamorak@camelot.bt`)
        yield* sql`INSERT INTO "user" (id, email, hashed_password, is_active, is_superuser, is_verified)
          VALUES (${user.id}, ${user.email}, 'fake$hash', 1, 0, 0)`
        assert.deepStrictEqual(yield* repository.list({ emailPrefix: `${tag}.lamorak` }), [user])
        assert.deepStrictEqual(yield* repository.list({ emailPrefix: `${tag}_` }), [])
        assert.strictEqual(yield* repository.count({ emailPrefix: tag.toUpperCase(), isActive: true }), 1)
      })
    )

    it.effect("delete removes the user's rows in oauth_account", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const sql = yield* SqlClient.SqlClient
        const user = yield* repository.createWithOAuthAccount(newUser(), { ...oauth, accountId: "sqlite-delete" })
        yield* repository.delete(user)
        const rows = yield* sql`SELECT id FROM oauth_account WHERE user_id = ${user.id}`
        assert.strictEqual(rows.length, 0)
      })
    )
  })

  // An app's client may transform names; the repository keeps FastAPI Users' columns regardless.
  const transforming = SqliteClient.layer({
    filename: ":memory:",
    transformQueryNames: Str.camelToSnake,
    transformResultNames: Str.snakeToCamel
  })
  layer(defaultRepository(transforming), { excludeTestServices: true })("SQLite client with name transforms", (it) => {
    it.effect("reads and writes the same columns", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const user = yield* repository.create(newUser())
        assertSome(yield* repository.getByEmail(user.email.toUpperCase()), user)
      })
    )
  })
})

describePg("PostgreSQL", () => {
  const db = freshDatabase()

  userRepositorySuite("SqlUserRepository on PostgreSQL", {
    default: defaultRepository(db.client),
    custom: customRepository(db.client)
  })
  userManagerSuite("UserManager over SqlUserRepository on PostgreSQL", defaultRepository(db.client))
  coalescedReadsSuite("PostgreSQL: reads by ID", db.client)
  singleUseRepositorySuite("SqlUserRepository on PostgreSQL", defaultRepository(db.client))
  singleUseManagerSuite("UserManager over SqlUserRepository on PostgreSQL", defaultRepository(db.client))
  tokenEncryptionSuite("PostgreSQL: oauthTokenSecret", db.client)

  layer(Layer.merge(defaultRepository(db.client), db.client), { excludeTestServices: true })(
    "PostgreSQL storage",
    (it) => {
      it.effect("getByEmail uses the unique indexes on email_key and lower(email), never a scan", () =>
        Effect.gen(function* () {
          const repository = yield* UserRepository.UserRepository
          const sql = yield* SqlClient.SqlClient
          yield* sql`INSERT INTO "user" (id, email, hashed_password, is_active, is_superuser, is_verified)
            SELECT gen_random_uuid(), 'filler' || i || '@camelot.bt', 'x', true, false, false
            FROM generate_series(1, 5000) AS i`
          yield* sql`ANALYZE "user"`
          const email = freshEmail("Indexed")
          yield* repository.create(newUser(email))
          // The repository's own query (the first query of a `getByEmail`), explained.
          const traced = recordingTracer()
          yield* repository.getByEmail(email.toUpperCase()).pipe(Effect.withTracer(traced.tracer))
          const query = traced.queries()[0]!
          assert.include(query, "email_key")
          const plan = yield* sql.unsafe<{ "QUERY PLAN": string }>(`EXPLAIN ${query}`, [
            email.toLowerCase(),
            email.toUpperCase()
          ])
          const text = plan.map((row) => row["QUERY PLAN"]).join("\n")
          assert.include(text, Migrations.emailKeyIndexName("user"), text)
          assert.include(text, Migrations.emailIndexName("user"), text)
          assert.notInclude(text, "Seq Scan", text)
          assert.isTrue(Option.isSome(yield* repository.getByEmail(email.toUpperCase())))
        })
      )

      it.effect("deleting a user removes its OAuth accounts and access tokens", () =>
        Effect.gen(function* () {
          const repository = yield* UserRepository.UserRepository
          const sql = yield* SqlClient.SqlClient
          const user = yield* repository.createWithOAuthAccount(newUser(), { ...oauth, accountId: "pg-delete" })
          yield* sql`INSERT INTO accesstoken (token, user_id) VALUES (${"t".repeat(43)}, ${user.id})`
          yield* repository.delete(user)
          assert.strictEqual((yield* sql`SELECT 1 FROM oauth_account WHERE user_id = ${user.id}`).length, 0)
          assert.strictEqual((yield* sql`SELECT 1 FROM accesstoken WHERE user_id = ${user.id}`).length, 0)
        })
      )

      it.effect("createWithOAuthAccount rolls the user back when the account cannot be stored", () =>
        Effect.gen(function* () {
          const repository = yield* UserRepository.UserRepository
          const input = newUser()
          // PostgreSQL cannot store a NUL character: it rejects this token after the user row was inserted.
          const exit = yield* Effect.exit(
            repository.createWithOAuthAccount(input, { ...oauth, accountId: "nul", accessToken: "x\u0000y" })
          )
          assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
          assert.isTrue(Option.isNone(yield* repository.get(input.id)))
          assert.isTrue(Option.isNone(yield* repository.getByEmail(input.email)))
        })
      )

      it.effect("works through SqlUserRepository.layer", () =>
        Effect.gen(function* () {
          const repository = yield* Effect.provide(UserRepository.UserRepository, SqlUserRepository.layer())
          const user = yield* repository.create(newUser())
          assertSome(yield* repository.get(user.id), user)
        })
      )
    }
  )
})

/**
 * The start-up check (issue 25): a users table that lacks a model field's column, one of the library's, or the
 * table itself fails the repository's construction with `MissingColumns`, naming table and columns, instead of
 * the first write that needs it failing with a 500.
 */
const missingColumnsSuite = (name: string, open: (database: string) => Layer.Layer<SqlClient.SqlClient, unknown>) =>
  describe(name, () => {
    const Phoned = UserModel.make({
      id: User.UserId,
      fields: { phoneNumber: Schema.NullOr(Schema.String), nickName: Schema.NullOr(Schema.String) }
    })
    const missingOf = <E>(layer: Layer.Layer<UserRepository.UserRepository, E, SqlClient.SqlClient>) =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)))
        assert.isTrue(Exit.isFailure(exit), "the construction fails")
        const cause = Exit.isFailure(exit) ? exit.cause : Cause.empty
        assert.isFalse(Cause.isDie(cause), Cause.pretty(cause))
        const error = Option.getOrThrow(Cause.failureOption(cause))
        assert.instanceOf(error, SqlUserRepository.MissingColumns)
        return error as SqlUserRepository.MissingColumns
      })

    it.effect("names the table and each model field's missing column", () =>
      Effect.gen(function* () {
        yield* Migrations.run()
        const error = yield* missingOf(SqlUserRepository.layer({ model: Phoned }))
        assert.strictEqual(error.table, "user")
        assert.deepStrictEqual(error.columns, ["phone_number", "nick_name"])
        assert.include(error.message, 'The table "user" has no column "phone_number", "nick_name"')
        const sql = yield* SqlClient.SqlClient
        yield* sql`ALTER TABLE ${sql("user")} ADD COLUMN phone_number VARCHAR(32)`
        yield* sql`ALTER TABLE ${sql("user")} ADD COLUMN nick_name VARCHAR(32)`
        // With its columns the model's repository builds (on a new connection, as after a restart: SQLite's client
        // keeps the statements it failed to prepare), and writes the field.
        const user = yield* Effect.provide(
          Effect.flatMap(UserRepository.forModel(Phoned), (repository) =>
            repository.create({ ...newUser(), phoneNumber: "+44 20 7946 0000", nickName: null })
          ),
          SqlUserRepository.layer({ model: Phoned }).pipe(Layer.provide(open("fields")))
        )
        assert.strictEqual(user.phoneNumber, "+44 20 7946 0000")
      }).pipe(Effect.provide(open("fields")))
    )

    it.effect("names a column of the library's own that a migration adds, and a missing table", () =>
      Effect.gen(function* () {
        const noTable = yield* missingOf(SqlUserRepository.layer({ userTable: "members" }))
        assert.strictEqual(noTable.table, "members")
        assert.deepStrictEqual(noTable.columns, [])
        assert.include(noTable.message, 'The table "members" does not exist: run effect-users\' migrations')
        yield* Migrations.run()
        const sql = yield* SqlClient.SqlClient
        yield* sql`ALTER TABLE ${sql("user")} DROP COLUMN sessions_revoked_until`
        const dropped = yield* missingOf(SqlUserRepository.layer())
        assert.strictEqual(dropped.table, "user")
        assert.deepStrictEqual(dropped.columns, ["sessions_revoked_until"])
      }).pipe(Effect.provide(open("library")))
    )
  })

const sqliteFiles = join(tmpdir(), `effect-users-columns-${process.pid}-${Date.now()}`)
missingColumnsSuite("SqlUserRepository's column check on SQLite", (database) =>
  SqliteClient.layer({ filename: `${sqliteFiles}-${database}.db` })
)
afterAll(() => {
  for (const database of ["fields", "library"]) rmSync(`${sqliteFiles}-${database}.db`, { force: true })
})
describePg("SqlUserRepository's column check on PostgreSQL", () => {
  const fields = freshDatabase()
  const library = freshDatabase()
  missingColumnsSuite("on databases of its own", (database) => (database === "fields" ? fields : library).client)
})

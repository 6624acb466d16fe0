import { readFileSync } from "node:fs"
import { assert, layer } from "@effect/vitest"
import * as argon2 from "@node-rs/argon2"
import { Effect, Layer, Option, Redacted } from "effect"
import { User, UserManager, UserRepository } from "effect-users"
import { Migrations, SqlUserRepository } from "effect-users/sql"
import { beforeAll } from "vitest"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { testConfig } from "../utils/TestUsers.js"

const fixture = readFileSync(new URL("../fixtures/fastapi-users.sql", import.meta.url), "utf8")
const current = "$argon2id$v=19$m=19456,t=2,p=1$"

describePg("A FastAPI Users database on PostgreSQL (test/fixtures/fastapi-users.sql)", () => {
  const db = freshDatabase()
  // The database as FastAPI Users left it, and what the migrations applied to it: the repository checks its
  // columns when it is built, so the migrations run first.
  const seen: { before?: Awaited<ReturnType<typeof snapshot>>; applied?: ReadonlyArray<readonly [number, string]> } = {}
  beforeAll(async () => {
    await db.query(fixture)
    seen.before = await snapshot()
  })

  const snapshot = async () => ({
    users: await db.query(`SELECT * FROM "user" ORDER BY email`),
    accounts: await db.query("SELECT * FROM oauth_account ORDER BY id"),
    tokens: await db.query("SELECT * FROM accesstoken ORDER BY token")
  })
  const userRow = async (email: string) => (await db.query(`SELECT * FROM "user" WHERE email = $1`, [email]))[0]

  const migrated = Layer.effectDiscard(
    Effect.map(Migrations.run(), (applied) => {
      seen.applied = applied
    })
  )
  const repository = SqlUserRepository.layer().pipe(Layer.provide(migrated), Layer.provide(db.client))
  const manager = UserManager.layer.pipe(Layer.provide(Layer.merge(repository, testConfig())))

  layer(Layer.mergeAll(manager, repository, db.client), { excludeTestServices: true })("effect-users on it", (it) => {
    it.effect("the migrations only add what is missing and leave every row as it was", () =>
      Effect.gen(function* () {
        const before = seen.before!
        assert.strictEqual(seen.applied!.length, Object.keys(Migrations.migrations()).length)
        // Every row keeps every column; only the new columns are added: email_key, filled with each e-mail's key,
        // and the session columns, at their defaults (epoch 0: FastAPI Users' tokens stay valid).
        const after = yield* Effect.promise(snapshot)
        assert.deepStrictEqual(
          after.users.map(
            ({
              email_key: _,
              session_epoch: __,
              sessions_revoked_until: ___,
              password_set: ____,
              deactivation_reason: _____,
              deactivated_until: ______,
              ...row
            }) => row
          ),
          before.users
        )
        // 0013: a user with a link is taken to have no password of their own (their unlink waits for a reset).
        const linkedUsers = new Set(before.accounts.map((account: { user_id: string }) => account.user_id))
        for (const row of after.users) assert.strictEqual(row.password_set, !linkedUsers.has(row.id), row.email)
        for (const account of after.accounts) assert.instanceOf(account.created_at, Date)
        for (const row of after.users) {
          assert.deepInclude(row, {
            session_epoch: 0,
            sessions_revoked_until: "0",
            deactivation_reason: null,
            deactivated_until: null
          })
        }
        assert.deepStrictEqual(
          after.tokens.map(
            ({
              epoch: _,
              last_used_at: __,
              backend: ___,
              user_agent: ____,
              method: _____,
              family: ______,
              amr: _______,
              ...row
            }) => row
          ),
          before.tokens
        )
        for (const row of after.tokens) {
          assert.deepInclude(row, {
            epoch: 0,
            last_used_at: null,
            backend: null,
            user_agent: null,
            method: null,
            family: null,
            amr: null
          })
        }
        assert.deepStrictEqual(
          after.users.map((row) => row.email_key),
          before.users.map((row) => User.emailKey(row.email))
        )
        assert.deepStrictEqual(
          { ...after, users: [], tokens: [], accounts: after.accounts.map(({ created_at: _, ...row }) => row) },
          { ...before, users: [], tokens: [] }
        )
        const indexes = yield* Effect.promise(() =>
          db.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'user'`)
        )
        assert.includeMembers(
          indexes.map((row) => row.indexname),
          ["ix_user_email", Migrations.emailIndexName("user"), Migrations.emailKeyIndexName("user")]
        )
        const tokenIndexes = yield* Effect.promise(() =>
          db.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'accesstoken'`)
        )
        assert.include(
          tokenIndexes.map((row) => row.indexname),
          "ix_accesstoken_user_id"
        )
        // 0009: one provider account, one user; the token columns are text (the rows keep their values).
        const accountIndexes = yield* Effect.promise(() =>
          db.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'oauth_account'`)
        )
        assert.include(
          accountIndexes.map((row) => row.indexname),
          Migrations.oauthAccountIndexName("oauth_account")
        )
        const types = yield* Effect.promise(() =>
          db.query(`SELECT column_name, data_type FROM information_schema.columns
            WHERE table_name = 'oauth_account' AND column_name IN ('access_token', 'refresh_token') ORDER BY column_name`)
        )
        assert.deepStrictEqual(
          types.map((row) => row.data_type),
          ["text", "text"]
        )
        assert.deepStrictEqual(yield* Migrations.run(), [])
      })
    )

    it.effect("the repository reads FastAPI Users' rows and OAuth accounts", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const morgan = Option.getOrThrow(yield* repository.getByEmail("morgan.lefay@avalon.bt"))
        assert.deepStrictEqual(
          { ...morgan, hashedPassword: "" },
          {
            id: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
            email: "Morgan.LeFay@Avalon.bt",
            hashedPassword: "",
            isActive: true,
            isSuperuser: true,
            isVerified: true
          }
        )
        const viaGoogle = Option.getOrThrow(yield* repository.getByOAuthAccount("google", "108765432109876543210"))
        assert.strictEqual(viaGoogle.id, morgan.id)
        // 0013 dated the existing link when it ran.
        assert.instanceOf(viaGoogle.oauthAccounts[0]!.createdAt, Date)
        assert.deepStrictEqual(
          viaGoogle.oauthAccounts.map(({ createdAt: _, ...account }) => account),
          [
            {
              id: "9c4d5e6f-7a8b-4c9d-be0f-3a4b5c6d7e8f",
              oauthName: "google",
              accessToken: "ya29.fixture-access-token",
              expiresAt: 1893456000,
              refreshToken: "fixture-refresh-token",
              accountId: "108765432109876543210",
              accountEmail: "morgan.lefay@gmail.example"
            }
          ]
        )
      })
    )

    it.effect("a wrong password fails and changes nothing", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const before = yield* Effect.promise(snapshot)
        const error = yield* Effect.flip(
          users.authenticate({ username: "merlin@avalon.bt", password: Redacted.make("excalibur-argon2") })
        )
        assert.strictEqual(error._tag, "InvalidCredentials")
        assert.deepStrictEqual(yield* Effect.promise(snapshot), before)
      })
    )

    it.effect("argon2id (m=65536,t=3,p=4) and bcrypt users log in, are re-hashed, and keep every other column", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const before = yield* Effect.promise(snapshot)
        const logins = [
          { stored: "Morgan.LeFay@Avalon.bt", typed: "MORGAN.LEFAY@avalon.bt", password: "excalibur-argon2" },
          { stored: "merlin@avalon.bt", typed: "Merlin@Avalon.bt", password: "excalibur-bcrypt" }
        ]
        for (const login of logins) {
          const old = yield* Effect.promise(() => userRow(login.stored))
          const user = yield* users.authenticate({ username: login.typed, password: Redacted.make(login.password) })
          assert.strictEqual(user.id, old.id)
          const row = yield* Effect.promise(() => userRow(login.stored))
          assert.isTrue(row.hashed_password.startsWith(current), row.hashed_password)
          assert.isTrue(yield* Effect.promise(() => argon2.verify(row.hashed_password, login.password)))
          // A login with the password shows the user has one of their own (0013 took Morgan, who has a link, to have none).
          assert.isTrue(row.password_set)
          assert.deepStrictEqual({ ...row, hashed_password: old.hashed_password, password_set: old.password_set }, old)
          assert.strictEqual(user.hashedPassword, row.hashed_password)
          // Logging in again verifies the new hash and does not re-hash.
          yield* users.authenticate({ username: login.stored, password: Redacted.make(login.password) })
          assert.strictEqual((yield* Effect.promise(() => userRow(login.stored))).hashed_password, row.hashed_password)
        }
        const after = yield* Effect.promise(snapshot)
        assert.deepStrictEqual(after.accounts, before.accounts)
        assert.deepStrictEqual(after.tokens, before.tokens)
        // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
        const nimue = (rows: ReadonlyArray<any>) => rows.find((row) => row.email === "nimue@avalon.bt")
        assert.deepStrictEqual(nimue(after.users), nimue(before.users))
      })
    )

    it.effect("a user FastAPI Users itself writes after the migrations (no email_key) is found and logs in", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const morgan = yield* Effect.promise(() => userRow("Morgan.LeFay@Avalon.bt"))
        // FastAPI Users knows nothing of email_key: its INSERT leaves it NULL.
        yield* Effect.promise(() =>
          db.query(
            `INSERT INTO "user" (id, email, hashed_password, is_active, is_superuser, is_verified)
             VALUES ('9d3c4d5e-6f7a-4b8c-ad9e-2f3a4b5c6d7f', 'Vivian@Avalon.bt', $1, true, false, false)`,
            [morgan.hashed_password]
          )
        )
        const vivian = yield* users.getByEmail("vivian@AVALON.bt")
        assert.strictEqual(vivian.id, "9d3c4d5e-6f7a-4b8c-ad9e-2f3a4b5c6d7f")
        const login = yield* users.authenticate({
          username: "VIVIAN@avalon.bt",
          password: Redacted.make("excalibur-argon2")
        })
        assert.strictEqual(login.id, vivian.id)
        // The lower(email) index still keeps a second account for her address out.
        const again = yield* Effect.flip(
          users.create({ email: "vivian@avalon.bt", password: Redacted.make("a-new-password") })
        )
        assert.strictEqual(again._tag, "UserAlreadyExists")
      })
    )
  })
})

describePg("A FastAPI Users database whose e-mails are one address under Unicode case folding", () => {
  const db = freshDatabase()
  beforeAll(async () => {
    await db.query(fixture)
    // FastAPI Users' indexes (email, and lower(email) once migrated) let these in: ß is not ss to lower().
    await db.query(`INSERT INTO "user" (id, email, hashed_password, is_active, is_superuser, is_verified) VALUES
      ('1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b', 'Gauß@Avalon.bt', 'x', true, false, false),
      ('2f3a4b5c-6d7e-4f8a-9b0c-1d2e3f4a5b6c', 'GAUSS@avalon.bt', 'x', true, false, false)`)
  })

  layer(db.client, { excludeTestServices: true })("migrating it", (it) => {
    it.effect("refuses with EmailCaseConflict listing them, and changes nothing", () =>
      Effect.gen(function* () {
        const before = yield* Effect.promise(() => db.query(`SELECT * FROM "user" ORDER BY email`))
        const error = yield* Effect.flip(Migrations.run())
        assert.strictEqual(error._tag, "EmailCaseConflict")
        assert.deepStrictEqual((error as Migrations.EmailCaseConflict).emails, ["GAUSS@avalon.bt", "Gauß@Avalon.bt"])
        assert.include(error.message, "GAUSS@avalon.bt, Gauß@Avalon.bt")
        assert.notInclude(error.message, "merlin")
        assert.deepStrictEqual(yield* Effect.promise(() => db.query(`SELECT * FROM "user" ORDER BY email`)), before)
      })
    )
  })
})

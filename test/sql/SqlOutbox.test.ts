/**
 * The SQL outbox: the store contract on SQLite and PostgreSQL; messages sealed at rest and deleted once delivered;
 * delivered after a restart of the process; a transaction that fails writes no mail; and two instances sharing one
 * PostgreSQL deliver each message once.
 */
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import { Mail, type Mailer, Outbox, PasswordHasher, UserManager } from "effect-users"
import { Migrations, SqlOutbox, SqlUserRepository } from "effect-users/sql"
import { outboxStoreSuite } from "../suites/OutboxStoreSuite.js"
import { eventually } from "../utils/Eventually.js"
import { fastOutbox, outboxSecret, smtpMailer } from "../utils/MailTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { type SmtpServer, startSmtpServer } from "../utils/SmtpServer.js"
import { freshEmail, makeFakeHasher, testConfig } from "../utils/TestUsers.js"

const migrated = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  SqlOutbox.layer().pipe(Layer.provideMerge(Migrations.layer()), Layer.provideMerge(client), Layer.orDie)

outboxStoreSuite("SqlOutbox on SQLite", migrated(SqliteClient.layer({ filename: ":memory:" })))

describePg("SqlOutbox on PostgreSQL", () => {
  outboxStoreSuite("PostgreSQL", migrated(freshDatabase().client))
})

const message = (to: string, token = "tok-123456"): Mailer.Message => ({
  to,
  subject: "Your sign-in link",
  text: `https://app.camelot.bt/magic-link?token=${token}`,
  html: `<a href="https://app.camelot.bt/magic-link?token=${token}">sign in</a>`
})

describe("the SQL outbox's guarantees", () => {
  let smtp: SmtpServer
  beforeAll(async () => {
    smtp = await startSmtpServer()
  })
  afterAll(() => smtp?.stop())

  const outboxOver = (client: Layer.Layer<SqlClient.SqlClient, unknown>, options: Partial<Outbox.Options> = {}) =>
    Outbox.layer({ secret: outboxSecret, ...fastOutbox, ...options }).pipe(
      Layer.provide(smtpMailer(() => smtp)),
      Layer.provideMerge(migrated(client))
    )
  const sqliteFile = () => {
    const file = join(tmpdir(), `effect-users-outbox-${crypto.randomUUID()}.db`)
    return { file, client: SqliteClient.layer({ filename: file }), remove: () => rmSync(file, { force: true }) }
  }
  const until = (check: () => boolean) =>
    eventually(Effect.suspend(() => (check() ? Effect.void : Effect.fail(new Error("not yet")))))

  it.live("a message is sealed at rest (no address, no token in the row) and its row is gone once delivered", () => {
    const db = sqliteFile()
    const to = `sealed.${Date.now()}@camelot.bt`
    return Effect.gen(function* () {
      const outbox = yield* Outbox.Outbox
      const sql = (yield* Effect.serviceOption(SqliteClient.SqliteClient)).pipe((found) =>
        found._tag === "Some" ? found.value : undefined
      )!
      yield* outbox.enqueue("magicLink", message(to, "secret-token-xyz"), "u1")
      const rows = yield* sql<{ payload: string; kind: string }>`select payload, kind from outbox`
      assert.lengthOf(rows, 1)
      assert.strictEqual(rows[0]!.kind, "magicLink")
      assert.match(rows[0]!.payload, /^enc:v1:/)
      for (const leak of [to, "secret-token-xyz", "sign-in"]) assert.notInclude(rows[0]!.payload, leak)
      assert.strictEqual(yield* outbox.deliverDue, 1)
      const [mail] = yield* Effect.promise(() => smtp.waitFor(to))
      assert.include(mail!.text, "secret-token-xyz")
      assert.deepStrictEqual(yield* sql`select * from outbox`, [])
    }).pipe(
      Effect.provide(outboxOver(db.client, { worker: false }).pipe(Layer.provideMerge(db.client))),
      Effect.ensuring(Effect.sync(db.remove))
    )
  })

  it.live("mail written before the process stopped is delivered by the next one", () => {
    const db = sqliteFile()
    const to = `restart.${Date.now()}@camelot.bt`
    return Effect.gen(function* () {
      // The first process writes and stops before its worker's round (it has none).
      yield* Effect.flatMap(Outbox.Outbox, (outbox) => outbox.enqueue("reset", message(to))).pipe(
        Effect.provide(outboxOver(db.client, { worker: false }))
      )
      assert.lengthOf(smtp.to(to), 0)
      // The next one, on the same file, delivers it.
      yield* Effect.gen(function* () {
        yield* Effect.promise(() => smtp.waitFor(to))
        const outbox = yield* Outbox.Outbox
        yield* until(() => true)
        yield* eventually(Effect.flatMap(outbox.pending, (n) => (n === 0 ? Effect.void : Effect.fail("pending"))))
      }).pipe(Effect.provide(outboxOver(db.client)))
      assert.lengthOf(smtp.to(to), 1)
    }).pipe(Effect.ensuring(Effect.sync(db.remove)))
  })

  it.live("a change that fails inside the outbox's transaction leaves no mail", () => {
    const db = sqliteFile()
    return Effect.gen(function* () {
      const outbox = yield* Outbox.Outbox
      const failed = yield* outbox
        .transaction(Effect.zipRight(outbox.enqueue("verify", message("rollback@camelot.bt")), Effect.fail("boom")))
        .pipe(Effect.flip)
      assert.strictEqual(failed, "boom")
      assert.strictEqual(yield* outbox.pending, 0)
      yield* outbox.transaction(outbox.enqueue("verify", message("commit@camelot.bt")))
      assert.strictEqual(yield* outbox.pending, 1)
    }).pipe(Effect.provide(outboxOver(db.client, { worker: false })), Effect.ensuring(Effect.sync(db.remove)))
  })

  it.live("a registration and its verification mail commit together: no outbox, no user", () => {
    const db = sqliteFile()
    const users = UserManager.layer.pipe(
      Layer.provide([SqlUserRepository.layer(), testConfig(), PasswordHasher.layer(makeFakeHasher().service)]),
      Layer.provideMerge(Mail.layer({ publicUrl: "https://app.camelot.bt" })),
      Layer.provideMerge(outboxOver(db.client, { worker: false })),
      Layer.provideMerge(db.client)
    )
    return Effect.gen(function* () {
      const manager = yield* UserManager.UserManager
      const outbox = yield* Outbox.Outbox
      const kept = freshEmail("kept")
      yield* manager.create({ email: kept, password: Redacted.make("correct-horse-battery") }).pipe(Effect.orDie)
      assert.strictEqual(yield* outbox.pending, 1)
      const sql = yield* SqliteClient.SqliteClient
      yield* sql`ALTER TABLE outbox RENAME TO outbox_gone`
      const lost = freshEmail("lost")
      const exit = yield* Effect.exit(manager.create({ email: lost, password: Redacted.make("correct-horse-battery") }))
      assert.isTrue(Exit.isFailure(exit))
      assert.isTrue(Exit.isFailure(yield* Effect.exit(manager.getByEmail(lost))))
      assert.strictEqual((yield* manager.getByEmail(kept).pipe(Effect.orDie)).email, kept)
    }).pipe(Effect.provide(users), Effect.ensuring(Effect.sync(db.remove)))
  })

  describePg("two instances on one PostgreSQL", () => {
    const database = freshDatabase()
    it.live("40 messages, two workers claiming at once: each delivered exactly once", () =>
      Effect.gen(function* () {
        const tag = Date.now()
        const addresses = Array.from({ length: 40 }, (_, i) => `twice.${tag}.${i}@camelot.bt`)
        // Two processes: each its own pool, its own outbox and worker, one database.
        const first = outboxOver(database.client, { batch: 5 })
        const second = outboxOver(database.client, { batch: 5 })
        const [a, b] = yield* Effect.all([Layer.build(first), Layer.build(second)])
        const outboxA = a.unsafeMap.get(Outbox.Outbox.key) as Outbox.OutboxService
        const outboxB = b.unsafeMap.get(Outbox.Outbox.key) as Outbox.OutboxService
        yield* Effect.forEach(addresses, (to, i) => (i % 2 === 0 ? outboxA : outboxB).enqueue("verify", message(to)), {
          concurrency: 8
        })
        yield* until(() => addresses.every((to) => smtp.to(to).length > 0))
        // A late duplicate would show up by now.
        yield* Effect.sleep("500 millis")
        for (const to of addresses) assert.lengthOf(smtp.to(to), 1, to)
        assert.strictEqual(yield* outboxA.pending, 0)
      }).pipe(Effect.scoped)
    )
  })
})

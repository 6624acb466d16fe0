/**
 * The outbox: the memory store passes the store contract, and the worker delivers through a real SMTP server: after
 * the server comes back from an outage, with retries spaced by the back-off, dead-lettering after its attempts or at
 * once on a refusal for good, and a message sealed under another secret is dead-lettered, never sent.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { type Mailer, Outbox } from "effect-users"
import { outboxStoreSuite } from "./suites/OutboxStoreSuite.js"
import { eventually } from "./utils/Eventually.js"
import { fastOutbox, outboxSecret, smtpMailer } from "./utils/MailTest.js"
import { recording } from "./utils/RecordingSink.js"
import { type SmtpServer, startSmtpServer } from "./utils/SmtpServer.js"

outboxStoreSuite("OutboxStore in memory", Outbox.layerStoreMemory)

const message = (to: string): Mailer.Message => ({
  to,
  subject: "Reset your password",
  text: "https://app.camelot.bt/reset-password?token=abc",
  html: "<p>reset</p>"
})

describe("the outbox's worker, over a real SMTP server", () => {
  let smtp: SmtpServer
  beforeAll(async () => {
    smtp = await startSmtpServer()
  })
  afterAll(() => smtp?.stop())

  /** An outbox over a memory store, its events recorded; the store is given so two outboxes can share it. */
  const outboxWith = (store: Outbox.OutboxStoreService, options: Partial<Outbox.Options> = {}) => {
    const recorded = recording()
    const layer = Outbox.layer({ secret: outboxSecret, ...fastOutbox, ...options }).pipe(
      Layer.provide(Layer.succeed(Outbox.OutboxStore, store)),
      Layer.provide(smtpMailer(() => smtp)),
      Layer.provide(recorded.standalone)
    )
    return { layer, recorded }
  }
  const kinds = (recorded: ReturnType<typeof recording>, kind: string) =>
    recorded.events.filter((event) => event._tag === kind)
  /** Waits (5 s at most) until `check` holds. */
  const until = (check: () => boolean) =>
    eventually(Effect.suspend(() => (check() ? Effect.void : Effect.fail(new Error("not yet")))))

  it.live("the server is down, then back: the mail is delivered, after failed attempts", () =>
    Effect.gen(function* () {
      const store = Outbox.makeStoreMemory()
      const { layer, recorded } = outboxWith(store)
      const to = `down.${Date.now()}@camelot.bt`
      yield* Effect.promise(() => smtp.stop())
      yield* Effect.gen(function* () {
        const outbox = yield* Outbox.Outbox
        yield* outbox.enqueue("reset", message(to), "u1")
        yield* until(() => kinds(recorded, "MailFailed").length >= 2)
        yield* Effect.promise(() => smtp.restart())
        const [mail] = yield* Effect.promise(() => smtp.waitFor(to))
        assert.strictEqual(mail!.subject, "Reset your password")
        yield* until(() => kinds(recorded, "MailSent").length === 1)
        assert.strictEqual(yield* outbox.pending, 0)
        assert.deepStrictEqual(yield* outbox.dead, [])
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.ensuring(Effect.promise(() => smtp.restart().catch(() => undefined))))
  )

  it.live(
    "a server that keeps answering 451: dead-lettered after its attempts, with an event, without its message",
    () =>
      Effect.gen(function* () {
        const store = Outbox.makeStoreMemory()
        const { layer, recorded } = outboxWith(store, { maxAttempts: 3 })
        const to = `busy.${Date.now()}@camelot.bt`
        smtp.mode = "busy"
        yield* Effect.gen(function* () {
          const outbox = yield* Outbox.Outbox
          yield* outbox.enqueue("verify", message(to), "u7")
          yield* until(() => kinds(recorded, "MailDeadLettered").length === 1)
          const [dead] = yield* outbox.dead
          assert.strictEqual(dead!.kind, "verify")
          assert.strictEqual(dead!.userId, "u7")
          assert.strictEqual(dead!.attempts, 3)
          assert.include(dead!.lastError, "451")
          assert.strictEqual(kinds(recorded, "MailFailed").length, 2)
          const [event] = kinds(recorded, "MailDeadLettered")
          assert.deepInclude(event, { kind: "verify", attempts: 3, reason: "attempts", userId: "u7" })
        }).pipe(Effect.provide(layer), Effect.ensuring(Effect.sync(() => (smtp.mode = "accept"))))
        assert.lengthOf(smtp.to(to), 0)
      })
  )

  it.live("a refusal for good (550): dead-lettered at the first attempt", () =>
    Effect.gen(function* () {
      const { layer, recorded } = outboxWith(Outbox.makeStoreMemory())
      smtp.mode = "refuse"
      yield* Effect.gen(function* () {
        const outbox = yield* Outbox.Outbox
        yield* outbox.enqueue("magicLink", message(`gone.${Date.now()}@camelot.bt`))
        yield* until(() => kinds(recorded, "MailDeadLettered").length === 1)
        assert.deepInclude(kinds(recorded, "MailDeadLettered")[0], { reason: "refused", attempts: 1 })
        assert.strictEqual(kinds(recorded, "MailFailed").length, 0)
      }).pipe(Effect.provide(layer), Effect.ensuring(Effect.sync(() => (smtp.mode = "accept"))))
    })
  )

  it.live("a message sealed under another secret is dead-lettered, never sent; a short secret fails the layer", () =>
    Effect.gen(function* () {
      const store = Outbox.makeStoreMemory()
      const to = `sealed.${Date.now()}@camelot.bt`
      const writer = outboxWith(store, {
        worker: false,
        secret: Redacted.make("another-secret-another-secret-another")
      })
      yield* Effect.flatMap(Outbox.Outbox, (outbox) => outbox.enqueue("reset", message(to))).pipe(
        Effect.provide(writer.layer)
      )
      const reader = outboxWith(store)
      yield* Effect.gen(function* () {
        yield* until(() => kinds(reader.recorded, "MailDeadLettered").length === 1)
        assert.deepInclude(kinds(reader.recorded, "MailDeadLettered")[0], { reason: "undecryptable" })
      }).pipe(Effect.provide(reader.layer))
      assert.lengthOf(smtp.to(to), 0)
      const short = yield* Layer.build(outboxWith(store, { secret: Redacted.make("short") }).layer).pipe(
        Effect.scoped,
        Effect.flip
      )
      assert.include(String(short), "at least 32 bytes")
    })
  )

  it("the back-off doubles from the base up to the maximum", () => {
    assert.deepStrictEqual(
      [1, 2, 3, 4, 5, 10].map((attempts) => Outbox.backoff(attempts, 10_000, 60_000)),
      [10_000, 20_000, 40_000, 60_000, 60_000, 60_000]
    )
  })
})

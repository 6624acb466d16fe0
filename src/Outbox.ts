/**
 * The durable outbox: mail is written to a store (`OutboxStore`: memory, or the `outbox` table of `SqlOutbox`) in
 * the same transaction as the change that causes it, and a worker of this layer delivers it after the response
 * through the `Mailer`.
 *
 * Guarantees: a message written survives a mail-server outage and a restart of the process (with an SQL store); it is
 * retried with exponential back-off (`baseDelay` doubling up to `maxDelay`) and dead-lettered after `maxAttempts`
 * (or at once when the server refuses it for good); of several instances sharing one store, one claims it (a lease,
 * `FOR UPDATE SKIP LOCKED` on PostgreSQL, one statement on SQLite) and it is delivered once, unless an instance dies
 * between the server's acceptance and the deletion (then once more after the lease: at least once). The message
 * (address, subject, body, which hold a token) is stored encrypted (AES-256-GCM under a key derived from `secret`)
 * and deleted once delivered; a dead letter keeps its kind, user, attempts and last error, not the message.
 *
 * @since 0.3.0
 */
import { randomUUID } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as AuthEvents from "./AuthEvents.js"
import { optional } from "./internal/config.js"
import * as TokenCipher from "./internal/tokenCipher.js"
import { Mailer, Message } from "./Mailer.js"
import { minimumSecretBytes } from "./UserManagerConfig.js"

/**
 * A message as the store keeps it: `payload` is the sealed message.
 *
 * @since 0.3.0
 */
export interface Entry {
  readonly id: string
  /** The mail's kind (`verify`, `reset`, `magicLink`, ...), in clear for the events and the dead letters. */
  readonly kind: string
  readonly userId: string | null
  readonly payload: string
  /** Delivery attempts so far, the claimed one included. */
  readonly attempts: number
}

/**
 * A message that was not delivered after its attempts: what is left of it.
 *
 * @since 0.3.0
 */
export interface DeadLetter {
  readonly id: string
  readonly kind: string
  readonly userId: string | null
  readonly attempts: number
  readonly lastError: string
}

/**
 * Where the outbox keeps its messages. Of concurrent `claim`s (one or several instances), each entry goes to one.
 *
 * @since 0.3.0
 */
export interface OutboxStoreService {
  /** Stores a message, deliverable from `availableAt` (ms since 1970), with no attempt yet. */
  readonly insert: (entry: Omit<Entry, "attempts">, availableAt: number) => Effect.Effect<void>
  /**
   * Claims up to `limit` deliverable entries (pending, `availableAt <= now`), oldest first: counts an attempt on each
   * and hides them until `now + leaseMillis` (another claim gets them again after that, should this one never end).
   */
  readonly claim: (now: number, leaseMillis: number, limit: number) => Effect.Effect<ReadonlyArray<Entry>>
  /** Deletes a delivered entry. */
  readonly remove: (id: string) => Effect.Effect<void>
  /** Makes an entry deliverable again at `at`, recording why this attempt failed. */
  readonly retryAt: (id: string, at: number, error: string) => Effect.Effect<void>
  /** Dead-letters an entry: it is never claimed again, and its message is erased. */
  readonly bury: (id: string, error: string) => Effect.Effect<void>
  /** The dead letters, oldest first. */
  readonly dead: Effect.Effect<ReadonlyArray<DeadLetter>>
  /** Pending entries (deliverable or waiting for a retry). */
  readonly pending: Effect.Effect<number>
  /**
   * Runs an effect in one transaction with the store's writes in it (SQL: `withTransaction`, so the change and its
   * mail commit together, or neither does); the memory store runs it as is.
   */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * Where the outbox keeps its messages.
 *
 * @since 0.3.0
 */
export class OutboxStore extends Context.Tag("effect-users/OutboxStore")<OutboxStore, OutboxStoreService>() {}

/**
 * An outbox store in memory (the in-memory setup and tests): lost with the process.
 *
 * @since 0.3.0
 */
export const makeStoreMemory = (): OutboxStoreService => {
  interface Stored {
    readonly id: string
    readonly kind: string
    readonly userId: string | null
    payload: string
    attempts: number
    availableAt: number
    state: "pending" | "dead"
    lastError: string
    readonly order: number
  }
  const entries = new Map<string, Stored>()
  let order = 0
  return {
    insert: (entry, availableAt) =>
      Effect.sync(() => {
        entries.set(entry.id, { ...entry, attempts: 0, availableAt, state: "pending", lastError: "", order: order++ })
      }),
    claim: (now, leaseMillis, limit) =>
      Effect.sync(() => {
        const due = [...entries.values()]
          .filter((entry) => entry.state === "pending" && entry.availableAt <= now)
          .sort((a, b) => a.availableAt - b.availableAt || a.order - b.order)
          .slice(0, limit)
        return due.map((entry) => {
          entry.attempts += 1
          entry.availableAt = now + leaseMillis
          const { attempts, id, kind, payload, userId } = entry
          return { id, kind, userId, payload, attempts }
        })
      }),
    remove: (id) => Effect.sync(() => void entries.delete(id)),
    retryAt: (id, at, error) =>
      Effect.sync(() => {
        const entry = entries.get(id)
        if (entry !== undefined && entry.state === "pending")
          Object.assign(entry, { availableAt: at, lastError: error })
      }),
    bury: (id, error) =>
      Effect.sync(() => {
        const entry = entries.get(id)
        if (entry !== undefined) Object.assign(entry, { state: "dead", lastError: error, payload: "" })
      }),
    dead: Effect.sync(() =>
      [...entries.values()]
        .filter((entry) => entry.state === "dead")
        .sort((a, b) => a.order - b.order)
        .map(({ attempts, id, kind, lastError, userId }) => ({ id, kind, userId, attempts, lastError }))
    ),
    pending: Effect.sync(() => [...entries.values()].filter((entry) => entry.state === "pending").length),
    transaction: (effect) => effect
  }
}

/**
 * `OutboxStore` in memory.
 *
 * @since 0.3.0
 */
export const layerStoreMemory: Layer.Layer<OutboxStore> = Layer.sync(OutboxStore, makeStoreMemory)

/**
 * The outbox as the rest of the library writes to it.
 *
 * @since 0.3.0
 */
export interface OutboxService {
  /** Seals a message and stores it for delivery; inside `transaction`, it commits with the change. */
  readonly enqueue: (kind: string, message: Message, userId?: string | undefined) => Effect.Effect<void>
  /** The same work as `enqueue` but the write (sealing a message): for a request that sends nothing. */
  readonly seal: (message: Message) => Effect.Effect<void>
  /** Runs the change and its `enqueue`s in one transaction of the store. */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Delivers the deliverable messages now (the worker's round); how many it delivered. */
  readonly deliverDue: Effect.Effect<number>
  /** The dead letters. */
  readonly dead: Effect.Effect<ReadonlyArray<DeadLetter>>
  /** Messages not yet delivered (nor dead). */
  readonly pending: Effect.Effect<number>
}

/**
 * The outbox.
 *
 * @since 0.3.0
 */
export class Outbox extends Context.Tag("effect-users/Outbox")<Outbox, OutboxService>() {}

/**
 * Options of the outbox.
 *
 * @since 0.3.0
 */
export interface Options {
  /** Encrypts the messages at rest: at least 32 bytes (the layer fails naming `secret` otherwise). */
  readonly secret: Redacted.Redacted<string>
  /** Attempts before a message is dead-lettered; default 10 (about 85 minutes of retries with the default delays). */
  readonly maxAttempts?: number | undefined
  /** The wait after the first failed attempt, doubled after each; default 10 seconds. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** The longest wait between attempts; default 1 hour. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** How often the worker looks for due messages (new messages of this process wake it at once); default 1 second. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** How long a claimed message stays hidden from other instances; default 2 minutes. */
  readonly lease?: Duration.DurationInput | undefined
  /** Messages claimed per round, sent concurrently; default 10. */
  readonly batch?: number | undefined
  /** Run the delivery worker in this process; default true (false: an instance that only writes). */
  readonly worker?: boolean | undefined
}

const millis = (duration: Duration.DurationInput) => Duration.toMillis(Duration.decode(duration))

/**
 * The wait before attempt `attempts + 1`, after `attempts` failed ones: `base * 2^(attempts - 1)`, at most `max`.
 *
 * @since 0.3.0
 */
export const backoff = (attempts: number, baseMillis: number, maxMillis: number): number =>
  Math.min(maxMillis, baseMillis * 2 ** Math.max(0, attempts - 1))

const decodeMessage = Schema.decodeSync(Schema.parseJson(Message))

interface Built {
  readonly outbox: OutboxService
  /** Claims and delivers one batch; how many entries it claimed. */
  readonly round: Effect.Effect<number>
  readonly wakeUps: Queue.Queue<void>
}

const build = (options: Options): Effect.Effect<Built, never, OutboxStore | Mailer> =>
  Effect.gen(function* () {
    const store = yield* OutboxStore
    const mailer = yield* Mailer
    const events = yield* AuthEvents.AuthEvents
    const cipher = TokenCipher.make(options.secret, "effect-users:outbox")
    const maxAttempts = options.maxAttempts ?? 10
    const base = millis(options.baseDelay ?? "10 seconds")
    const max = millis(options.maxDelay ?? "1 hour")
    const lease = millis(options.lease ?? "2 minutes")
    const batch = options.batch ?? 10
    const wakeUps = yield* Queue.sliding<void>(1)

    const seal = (message: Message) => Effect.sync(() => cipher.encrypt(JSON.stringify(message)))

    const enqueue = (kind: string, message: Message, userId?: string) =>
      Effect.gen(function* () {
        const payload = yield* seal(message)
        yield* store.insert({ id: randomUUID(), kind, userId: userId ?? null, payload }, yield* Clock.currentTimeMillis)
        yield* Queue.offer(wakeUps, undefined)
      }).pipe(Effect.withSpan("Outbox.enqueue", { attributes: { kind } }))

    const about = (entry: Entry) => (entry.userId === null ? {} : { userId: entry.userId })

    const deadLettered = (entry: Entry, reason: "refused" | "attempts" | "undecryptable") =>
      events.emit(
        (common) =>
          new AuthEvents.MailDeadLettered({
            ...common,
            ...about(entry),
            kind: entry.kind,
            attempts: entry.attempts,
            reason
          })
      )

    const deliver = (entry: Entry) =>
      Effect.gen(function* () {
        const message = yield* Effect.try(() => decodeMessage(cipher.decrypt(entry.payload))).pipe(Effect.option)
        if (Option.isNone(message)) {
          // Sealed under another secret, or damaged: no attempt can deliver it.
          yield* store.bury(entry.id, "the message cannot be decrypted with this secret")
          yield* deadLettered(entry, "undecryptable")
          return false
        }
        const sent = yield* Effect.either(mailer.send(message.value))
        if (sent._tag === "Right") {
          yield* store.remove(entry.id)
          yield* events.emit(
            (common) =>
              new AuthEvents.MailSent({ ...common, ...about(entry), kind: entry.kind, attempts: entry.attempts })
          )
          return true
        }
        const { permanent, reason } = sent.left
        if (permanent || entry.attempts >= maxAttempts) {
          yield* store.bury(entry.id, reason)
          yield* Effect.logWarning("Mail dead-lettered").pipe(
            Effect.annotateLogs({ kind: entry.kind, attempts: entry.attempts, reason })
          )
          yield* deadLettered(entry, permanent ? "refused" : "attempts")
          return false
        }
        const retryAt = (yield* Clock.currentTimeMillis) + backoff(entry.attempts, base, max)
        yield* store.retryAt(entry.id, retryAt, reason)
        yield* events.emit(
          (common) =>
            new AuthEvents.MailFailed({
              ...common,
              ...about(entry),
              kind: entry.kind,
              attempts: entry.attempts,
              retryAt
            })
        )
        return false
      }).pipe(Effect.withSpan("Outbox.deliver", { attributes: { kind: entry.kind, attempts: entry.attempts } }))

    const claimAndDeliver = Effect.gen(function* () {
      const claimed = yield* store.claim(yield* Clock.currentTimeMillis, lease, batch)
      const delivered = yield* Effect.forEach(claimed, deliver, { concurrency: 4 })
      return { claimed: claimed.length, delivered: delivered.filter((ok) => ok).length }
    })

    const outbox: OutboxService = {
      enqueue,
      seal: (message) => Effect.asVoid(seal(message)),
      transaction: store.transaction,
      deliverDue: Effect.map(claimAndDeliver, ({ delivered }) => delivered),
      dead: store.dead,
      pending: store.pending
    }
    const round: Effect.Effect<number> = Effect.map(claimAndDeliver, ({ claimed }) => claimed)
    return { outbox, round, wakeUps }
  })

/**
 * Builds the outbox over the `OutboxStore` and `Mailer` in context, without a worker (`deliverDue` delivers).
 *
 * @since 0.3.0
 */
export const make = (options: Options): Effect.Effect<OutboxService, never, OutboxStore | Mailer> =>
  Effect.map(build(options), ({ outbox }) => outbox)

/** The secret, refused when shorter than 32 bytes. */
const checkSecret = (secret: Redacted.Redacted<string>) =>
  Buffer.byteLength(Redacted.value(secret), "utf8") >= minimumSecretBytes
    ? Effect.void
    : Effect.fail(
        ConfigError.InvalidData(
          ["secret"],
          `Outbox secret is too short: it must be at least ${minimumSecretBytes} bytes`
        )
      )

/**
 * The outbox over the `OutboxStore` and `Mailer` in context, with its delivery worker: a fiber of the layer's scope
 * that delivers the due messages, woken by each new message of this process and every `pollInterval` (messages of
 * other instances, retries). A store outage is logged and retried on the next round.
 *
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<Outbox, ConfigError.ConfigError, OutboxStore | Mailer> =>
  Layer.scoped(
    Outbox,
    Effect.gen(function* () {
      yield* checkSecret(options.secret)
      const { outbox, round, wakeUps } = yield* build(options)
      if (options.worker ?? true) {
        const batch = options.batch ?? 10
        const poll = Duration.decode(options.pollInterval ?? "1 second")
        const drain: Effect.Effect<void> = round.pipe(
          // A full batch: more may be due at once.
          Effect.flatMap((claimed) => (claimed >= batch ? drain : Effect.void)),
          Effect.catchAllCause((cause) => Effect.logWarning("Outbox delivery round failed; retrying", cause))
        )
        yield* drain.pipe(
          Effect.zipRight(Effect.race(Queue.take(wakeUps), Effect.sleep(poll))),
          Effect.forever,
          Effect.forkScoped
        )
      }
      return outbox
    })
  )

/**
 * `layer` from configuration: the secret from `USERS_OUTBOX_SECRET` by default.
 *
 * @since 0.3.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = Config.all({
    secret: Config.redacted("USERS_OUTBOX_SECRET"),
    maxAttempts: optional(Config.integer("USERS_OUTBOX_MAX_ATTEMPTS"))
  })
): Layer.Layer<Outbox, ConfigError.ConfigError, OutboxStore | Mailer> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

/**
 * The audit log: a store of security events (`AuthEvents`) that can be queried by user, kind and time, newest
 * first with cursor paging, and that forgets events past its retention. `layerMemory` keeps them in the
 * process; `SqlAuditLog` in the `auth_event` table. `layerSink` writes every emitted event to the store in context
 * and purges expired ones in bounded batches.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AuthEvents from "./AuthEvents.js"

/**
 * A stored event: its ID in the log, and the event.
 *
 * @since 0.2.0
 */
export interface Entry {
  readonly id: string
  readonly event: AuthEvents.AuthEvent
}

/**
 * Where a page starts: after the entry at `at` (ms since 1970) with this `seq`, newest first.
 *
 * @since 0.2.0
 */
export interface Cursor {
  readonly at: number
  readonly seq: number
}

/**
 * A query: every filter optional; `limit` entries at most, after `cursor`.
 *
 * @since 0.2.0
 */
export interface Query {
  readonly userId?: string | undefined
  readonly kinds?: ReadonlyArray<AuthEvents.Kind> | undefined
  /** Events at or after this time. */
  readonly since?: Date | undefined
  /** Events before this time. */
  readonly until?: Date | undefined
  readonly limit: number
  readonly cursor?: Cursor | undefined
}

/**
 * A page, newest first, with the cursor of the next one when there may be more.
 *
 * @since 0.2.0
 */
export interface Page {
  readonly entries: ReadonlyArray<Entry>
  readonly next: Option.Option<Cursor>
}

/**
 * The store. Entries are ordered by time, then by the order they were appended (`seq`), newest first.
 *
 * @since 0.2.0
 */
export interface AuditLogService {
  /** Stores the events, in order. */
  readonly append: (events: ReadonlyArray<AuthEvents.AuthEvent>) => Effect.Effect<void>
  /** One page of the entries the query selects, newest first. */
  readonly query: (query: Query) => Effect.Effect<Page>
  /** Deletes at most `limit` entries older than `before`; the number deleted. */
  readonly purge: (before: Date, limit: number) => Effect.Effect<number>
}

/**
 * The audit log store.
 *
 * @since 0.2.0
 */
export class AuditLog extends Context.Tag("effect-users/AuditLog")<AuditLog, AuditLogService>() {}

/**
 * A cursor as the routes show it (opaque text), and back; `None` for text that is not one.
 *
 * @since 0.2.0
 */
export const encodeCursor = (cursor: Cursor): string => Buffer.from(`${cursor.at}.${cursor.seq}`).toString("base64url")

/** @since 0.2.0 */
export const decodeCursor = (text: string): Option.Option<Cursor> => {
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(Buffer.from(text, "base64url").toString())
  return match === null ? Option.none() : Option.some({ at: Number(match[1]), seq: Number(match[2]) })
}

const decodeEvent = Schema.decodeUnknownSync(AuthEvents.AuthEvent)

/**
 * The event as JSON text (what the SQL store keeps in its `data` column; the time as ms since 1970), and back.
 *
 * @since 0.2.0
 */
export const toJson = (event: AuthEvents.AuthEvent): string => JSON.stringify({ ...event, at: event.at.getTime() })

/** @since 0.2.0 */
export const fromJson = (text: string): AuthEvents.AuthEvent => {
  const parsed = JSON.parse(text) as { readonly at: number }
  return decodeEvent({ ...parsed, at: new Date(parsed.at) })
}

/**
 * Whether an entry passes a query's filters (the memory store's, and what the conformance suite expects).
 *
 * @since 0.2.0
 */
export const matches = (query: Query, event: AuthEvents.AuthEvent, seq: number): boolean => {
  const at = event.at.getTime()
  if (query.userId !== undefined && event.userId !== query.userId) return false
  if (query.kinds !== undefined && !query.kinds.includes(event._tag)) return false
  if (query.since !== undefined && at < query.since.getTime()) return false
  if (query.until !== undefined && at >= query.until.getTime()) return false
  if (query.cursor !== undefined && (at > query.cursor.at || (at === query.cursor.at && seq >= query.cursor.seq)))
    return false
  return true
}

/**
 * The page of `query.limit` entries a store read `limit + 1` of (the extra one says whether there are more).
 *
 * @since 0.2.0
 */
export const pageOf = (query: Query, rows: ReadonlyArray<Entry & { readonly seq: number }>): Page => {
  const entries = rows.slice(0, query.limit)
  const last = entries[entries.length - 1]
  return {
    entries: entries.map(({ event, id }) => ({ id, event })),
    next:
      rows.length > query.limit && last !== undefined
        ? Option.some({ at: last.event.at.getTime(), seq: last.seq })
        : Option.none()
  }
}

/**
 * Builds an audit log in this process's memory.
 *
 * @since 0.2.0
 */
export const makeMemory = (): AuditLogService => {
  const rows: Array<{ readonly seq: number; readonly event: AuthEvents.AuthEvent }> = []
  let seq = 0
  const newestFirst = () => [...rows].sort((a, b) => b.event.at.getTime() - a.event.at.getTime() || b.seq - a.seq)
  return {
    append: (events) =>
      Effect.sync(() => {
        for (const event of events) rows.push({ seq: ++seq, event })
      }),
    query: (query) =>
      Effect.sync(() =>
        pageOf(
          query,
          newestFirst()
            .filter((row) => matches(query, row.event, row.seq))
            .slice(0, query.limit + 1)
            .map((row) => ({ id: String(row.seq), seq: row.seq, event: row.event }))
        )
      ),
    purge: (before, limit) =>
      Effect.sync(() => {
        const old = rows
          .filter((row) => row.event.at.getTime() < before.getTime())
          .sort((a, b) => a.event.at.getTime() - b.event.at.getTime())
          .slice(0, limit)
        const gone = new Set(old)
        for (let i = rows.length - 1; i >= 0; i--) if (gone.has(rows[i]!)) rows.splice(i, 1)
        return old.length
      })
  }
}

/**
 * The audit log in memory (tests, one-process apps that need no history across restarts).
 *
 * @since 0.2.0
 */
export const layerMemory: Layer.Layer<AuditLog> = Layer.sync(AuditLog, makeMemory)

/**
 * Options of `layerSink`.
 *
 * @since 0.2.0
 */
export interface SinkOptions {
  /** How long events are kept; default 90 days. `Duration.infinity` keeps them forever. */
  readonly retention?: Duration.DurationInput | undefined
  /** How often expired events are purged; default 1 hour. */
  readonly purgeInterval?: Duration.DurationInput | undefined
  /** Entries deleted per statement while purging; default 1,000. */
  readonly purgeBatchSize?: number | undefined
}

/**
 * Purges the events older than `retention`, `batchSize` at a time until none is left; the number deleted.
 *
 * @since 0.2.0
 */
export const purgeExpired = (
  log: AuditLogService,
  retention: Duration.DurationInput,
  batchSize = 1_000
): Effect.Effect<number> =>
  Effect.gen(function* () {
    const keep = Duration.decode(retention)
    if (!Duration.isFinite(keep)) return 0
    const before = new Date((yield* Effect.clockWith((clock) => clock.currentTimeMillis)) - Duration.toMillis(keep))
    let total = 0
    while (true) {
      const deleted = yield* log.purge(before, batchSize)
      total += deleted
      if (deleted < batchSize) return total
      // Between batches the store serves other writers.
      yield* Effect.yieldNow()
    }
  })

/**
 * Writes every emitted event to the `AuditLog` in context, and purges expired events every `purgeInterval`
 * (a failed purge is logged and tried again next time). Needs `AuthEvents.layer()` under it.
 *
 * @since 0.2.0
 */
export const layerSink = (options: SinkOptions = {}): Layer.Layer<never, never, AuditLog> =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const log = yield* AuditLog
      const events = yield* AuthEvents.AuthEvents
      yield* events.register({ name: "AuditLog", write: (batch) => log.append(batch) })
      yield* purgeExpired(log, options.retention ?? "90 days", options.purgeBatchSize).pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("Purging the audit log failed", cause)),
        Effect.delay(options.purgeInterval ?? "1 hour"),
        Effect.forever,
        Effect.forkScoped
      )
    })
  )

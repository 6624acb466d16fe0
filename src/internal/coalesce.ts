/**
 * Lookups by key that concurrent fibers issue within one event-loop turn, run as one batched lookup
 * (DataLoader's pattern). Effect's own request batching joins the requests of one fiber; an HTTP server
 * runs one fiber per request, so the per-request user lookups of a busy server meet only here.
 *
 * The batch runs on a fiber of its own, outside the callers' spans and transactions: callers inside a
 * transaction must not come here (see `SqlUserRepository`).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"

/** The most keys one batched lookup receives; more pending keys make several lookups. */
const maxBatch = 100

interface Waiter<K, A, E> {
  readonly key: K
  readonly resume: (result: Effect.Effect<A | undefined, E>) => void
}

/**
 * A function that looks one key up through `lookup`, batched with the other keys asked for in the same
 * event-loop turn. Keys are told apart by `String(key)`. `lookup` receives distinct keys and answers with
 * what it found under `String(key)`; a key it leaves out was not found. A failed lookup fails every
 * caller of its batch.
 */
export const make = <K, A, E>(
  lookup: (keys: ReadonlyArray<K>) => Effect.Effect<ReadonlyMap<string, A>, E>
): Effect.Effect<(key: K) => Effect.Effect<A | undefined, E>> =>
  Effect.map(Effect.runtime<never>(), (runtime) => {
    const runFork = Runtime.runFork(runtime)
    let pending: Array<Waiter<K, A, E>> = []

    const run = (batch: ReadonlyArray<Waiter<K, A, E>>) => {
      const keys = new Map<string, K>()
      for (const waiter of batch) keys.set(String(waiter.key), waiter.key)
      runFork(lookup([...keys.values()])).addObserver((exit) => {
        for (const waiter of batch) {
          waiter.resume(
            Exit.isSuccess(exit) ? Effect.succeed(exit.value.get(String(waiter.key))) : Effect.failCause(exit.cause)
          )
        }
      })
    }

    // setImmediate runs after the I/O callbacks of this turn: every request that arrived with this one
    // has asked by then.
    const flush = () => {
      const batch = pending
      pending = []
      for (let start = 0; start < batch.length; start += maxBatch) run(batch.slice(start, start + maxBatch))
    }

    return (key) =>
      Effect.async<A | undefined, E>((resume) => {
        pending.push({ key, resume })
        if (pending.length === 1) setImmediate(flush)
      })
  })

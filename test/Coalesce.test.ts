/** The batching of lookups that concurrent fibers start in one event-loop turn (`src/internal/coalesce.ts`). */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber } from "effect"
import * as coalesce from "../src/internal/coalesce.js"

/** A lookup that records the keys of each call and finds the even numbers. */
const evens = () => {
  const calls: Array<ReadonlyArray<number>> = []
  const lookup = (keys: ReadonlyArray<number>) =>
    Effect.sync(() => {
      calls.push(keys)
      return new Map(keys.filter((key) => key % 2 === 0).map((key) => [String(key), `found ${key}`]))
    })
  return { calls, lookup }
}

describe("coalesce", () => {
  it.effect("lookups of one turn make one call with distinct keys; each caller gets its own answer", () =>
    Effect.gen(function* () {
      const { calls, lookup } = evens()
      const find = yield* coalesce.make(lookup)
      const found = yield* Effect.forEach([2, 3, 4, 2], (key) => find(key), { concurrency: "unbounded" })
      assert.deepStrictEqual(found, ["found 2", undefined, "found 4", "found 2"])
      assert.deepStrictEqual(calls, [[2, 3, 4]])
    })
  )

  it.effect("lookups of later turns make calls of their own", () =>
    Effect.gen(function* () {
      const { calls, lookup } = evens()
      const find = yield* coalesce.make(lookup)
      assert.strictEqual(yield* find(2), "found 2")
      assert.strictEqual(yield* find(4), "found 4")
      assert.deepStrictEqual(calls, [[2], [4]])
    })
  )

  it.effect("more than 100 keys are looked up 100 at a time", () =>
    Effect.gen(function* () {
      const { calls, lookup } = evens()
      const find = yield* coalesce.make(lookup)
      const keys = Array.from({ length: 250 }, (_, index) => index)
      const found = yield* Effect.forEach(keys, (key) => find(key), { concurrency: "unbounded" })
      assert.deepStrictEqual(
        found,
        keys.map((key) => (key % 2 === 0 ? `found ${key}` : undefined))
      )
      assert.deepStrictEqual(
        calls.map((call) => call.length),
        [100, 100, 50]
      )
    })
  )

  it.effect("a caller interrupted while it waits leaves the others of its batch their answers", () =>
    Effect.gen(function* () {
      const { calls, lookup } = evens()
      // The lookup holds until released, so both callers are provably waiting on it when one is interrupted.
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const held = (keys: ReadonlyArray<number>) =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Deferred.await(release)),
          Effect.zipRight(lookup(keys))
        )
      const find = yield* coalesce.make(held)
      const interrupted = yield* Effect.fork(find(2))
      const other = yield* Effect.fork(find(4))
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(interrupted)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* Deferred.succeed(release, undefined)
      assert.strictEqual(yield* Fiber.join(other), "found 4")
      assert.deepStrictEqual(calls, [[2, 4]])
    })
  )

  it.effect("a failed lookup fails every caller of its batch, and only them", () =>
    Effect.gen(function* () {
      let call = 0
      const find = yield* coalesce.make((keys: ReadonlyArray<number>) =>
        call++ === 0
          ? Effect.fail("database down" as const)
          : Effect.succeed(new Map(keys.map((key) => [String(key), key])))
      )
      const exits = yield* Effect.forEach([1, 2], (key) => Effect.exit(find(key)), { concurrency: "unbounded" })
      const failures = exits.map((exit) => (Exit.isFailure(exit) ? [...Cause.failures(exit.cause)] : "succeeded"))
      assert.deepStrictEqual(failures, [["database down"], ["database down"]])
      assert.strictEqual(yield* find(3), 3)
    })
  )
})

/**
 * The `OutboxStore` contract, for any implementation (memory, SQLite, PostgreSQL). Tests share the store and run in
 * order; each leaves nothing pending.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import { Outbox } from "effect-users"

const t0 = 1_800_000_000_000
const lease = 60_000

export const outboxStoreSuite = (name: string, storage: Layer.Layer<Outbox.OutboxStore, unknown>) =>
  layer(storage)(name, (it) => {
    const store = Outbox.OutboxStore
    const entry = (kind = "verify") => ({ id: crypto.randomUUID(), kind, userId: "u1", payload: `sealed-${kind}` })

    it.effect("insert then claim: the entry with its first attempt, hidden for the lease, then claimable again", () =>
      Effect.gen(function* () {
        const outbox = yield* store
        const written = entry()
        yield* outbox.insert(written, t0)
        assert.strictEqual(yield* outbox.pending, 1)
        assert.deepStrictEqual(yield* outbox.claim(t0 - 1, lease, 10), [])
        const [claimed] = yield* outbox.claim(t0, lease, 10)
        assert.deepStrictEqual(claimed, { ...written, attempts: 1 })
        assert.deepStrictEqual(yield* outbox.claim(t0 + lease - 1, lease, 10), [])
        const [again] = yield* outbox.claim(t0 + lease, lease, 10)
        assert.strictEqual(again!.attempts, 2)
        yield* outbox.remove(written.id)
        assert.strictEqual(yield* outbox.pending, 0)
        assert.deepStrictEqual(yield* outbox.claim(t0 + 10 * lease, lease, 10), [])
      })
    )

    it.effect("claims take the oldest first, at most `limit`", () =>
      Effect.gen(function* () {
        const outbox = yield* store
        const [a, b, c] = [entry("a"), entry("b"), entry("c")]
        yield* outbox.insert(c, t0 + 2)
        yield* outbox.insert(a, t0)
        yield* outbox.insert(b, t0 + 1)
        const first = yield* outbox.claim(t0 + 5, lease, 2)
        assert.sameMembers(
          first.map((claimed) => claimed.kind),
          ["a", "b"]
        )
        const second = yield* outbox.claim(t0 + 5, lease, 2)
        assert.deepStrictEqual(
          second.map((claimed) => claimed.kind),
          ["c"]
        )
        for (const done of [a, b, c]) yield* outbox.remove(done.id)
      })
    )

    it.effect("8 concurrent claims of 24 entries: each entry goes to exactly one", () =>
      Effect.gen(function* () {
        const outbox = yield* store
        const written = Array.from({ length: 24 }, () => entry())
        for (const one of written) yield* outbox.insert(one, t0)
        const claims = yield* Effect.all(
          Array.from({ length: 8 }, () => outbox.claim(t0, lease, 5)),
          { concurrency: "unbounded" }
        )
        const ids = claims.flat().map((claimed) => claimed.id)
        assert.strictEqual(new Set(ids).size, ids.length)
        assert.sameMembers(
          ids,
          written.map((one) => one.id)
        )
        for (const one of written) yield* outbox.remove(one.id)
      })
    )

    it.effect(
      "retryAt: claimable again from then, attempts counted; bury: never again, listed without its message",
      () =>
        Effect.gen(function* () {
          const outbox = yield* store
          const written = entry("reset")
          yield* outbox.insert(written, t0)
          yield* outbox.claim(t0, lease, 10)
          yield* outbox.retryAt(written.id, t0 + 500, "451 try later")
          assert.deepStrictEqual(yield* outbox.claim(t0 + 499, lease, 10), [])
          const [second] = yield* outbox.claim(t0 + 500, lease, 10)
          assert.strictEqual(second!.attempts, 2)
          yield* outbox.bury(written.id, "550 no such mailbox")
          assert.strictEqual(yield* outbox.pending, 0)
          assert.deepStrictEqual(yield* outbox.claim(t0 + 100 * lease, lease, 10), [])
          const dead = (yield* outbox.dead).filter((letter) => letter.id === written.id)
          assert.deepStrictEqual(dead, [
            { id: written.id, kind: "reset", userId: "u1", attempts: 2, lastError: "550 no such mailbox" }
          ])
        })
    )
  })

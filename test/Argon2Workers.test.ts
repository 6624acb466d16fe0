import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, FiberStatus, Redacted } from "effect"
import { makeArgon2, makeArgon2Workers } from "effect-users"
import { eventually } from "./utils/Eventually.js"

const secret = Redacted.make("correct-horse-battery")
const light = { memoryCost: 1024, timeCost: 1 }

describe("makeArgon2Workers", () => {
  it.live("hashes argon2id PHC strings that the libuv-pool hasher verifies, and the other way round", () =>
    Effect.gen(function* () {
      const workers = makeArgon2Workers({ ...light, threads: 2 })
      const pool = makeArgon2(light)
      const hash = yield* workers.hash(secret)
      assert.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
      assert.isTrue(yield* pool.verify(secret, hash))
      assert.isTrue(yield* workers.verify(secret, yield* pool.hash(secret)))
      assert.isFalse(yield* workers.verify(Redacted.make("wrong"), hash))
      assert.isFalse(yield* workers.verify(secret, "$argon2id$garbage"))
      assert.isFalse(workers.needsRehash(hash))
    })
  )

  it.live("runs many hashes through a small pool", () =>
    Effect.gen(function* () {
      const workers = makeArgon2Workers({ ...light, threads: 1 })
      const hashes = yield* Effect.all(
        Array.from({ length: 6 }, (_, i) => workers.hash(Redacted.make(`password-${i}`))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(new Set(hashes).size, 6)
      const checks = yield* Effect.all(
        hashes.map((hash, i) => workers.verify(Redacted.make(`password-${i}`), hash)),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(checks, [true, true, true, true, true, true])
    })
  )

  it.live("a waiting hash can be interrupted, and the pool goes on serving", () =>
    Effect.gen(function* () {
      const workers = makeArgon2Workers({ ...light, threads: 1 })
      const running = yield* Effect.fork(workers.hash(Redacted.make("first")))
      const waiting = yield* Effect.fork(workers.hash(Redacted.make("second")))
      // Interrupt only once the second hash is provably waiting for the pool's single thread.
      yield* eventually(
        Effect.filterOrFail(Fiber.status(waiting), FiberStatus.isSuspended, () => new Error("not waiting yet"))
      )
      const exit = yield* Fiber.interrupt(waiting)
      assert.isTrue(Exit.isInterrupted(exit))
      const first = yield* Fiber.join(running)
      assert.isTrue(yield* workers.verify(Redacted.make("first"), first))
      assert.isTrue(yield* workers.verify(Redacted.make("third"), yield* workers.hash(Redacted.make("third"))))
    })
  )

  it.live("verifies bcrypt hashes (FastAPI Users' older default) through the fallback", () =>
    Effect.gen(function* () {
      const bcrypt = yield* Effect.promise(() => import("@node-rs/bcrypt"))
      const hash = bcrypt.hashSync("correct-horse-battery", 4)
      const workers = makeArgon2Workers(light)
      assert.isTrue(yield* workers.verify(secret, hash))
      assert.isTrue(workers.needsRehash(hash))
    })
  )
})

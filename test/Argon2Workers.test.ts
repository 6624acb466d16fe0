import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Config,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberStatus,
  Layer,
  Redacted,
  Scope
} from "effect"
import { Argon2Workers, PasswordHasher, UserError } from "effect-users"
import { makePool } from "../src/internal/argon2Workers.js"
import { eventually } from "./utils/Eventually.js"

const secret = Redacted.make("correct-horse-battery")
const light = { memoryCost: 1024, timeCost: 1 }

describe("makeArgon2Workers", () => {
  it.live("hashes argon2id PHC strings that the libuv-pool hasher verifies, and the other way round", () =>
    Effect.gen(function* () {
      const workers = Argon2Workers.makeUnscoped({ ...light, threads: 2 })
      const pool = PasswordHasher.makeArgon2(light)
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
      const workers = Argon2Workers.makeUnscoped({ ...light, threads: 1 })
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
      const workers = Argon2Workers.makeUnscoped({ ...light, threads: 1 })
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

  it.live("threads end once the pool has been idle for idleTimeout, and the next job starts them again", () =>
    Effect.gen(function* () {
      let spawned = 0
      const { service: workers, shutdown } = makePool(
        { ...light, threads: 2, idleTimeout: "1 second" },
        { onSpawn: () => spawned++ }
      )
      const hash = yield* workers.hash(secret)
      assert.strictEqual(workers.threads(), 2)
      // Work arriving within the timeout keeps the same threads.
      yield* Effect.sleep("200 millis")
      assert.isTrue(yield* workers.verify(secret, hash))
      yield* Effect.sleep("200 millis")
      assert.strictEqual(workers.threads(), 2)
      yield* eventually(Effect.filterOrFail(Effect.sync(workers.threads), (threads) => threads === 0))
      assert.strictEqual(spawned, 2)
      assert.isTrue(yield* workers.verify(secret, hash))
      assert.strictEqual(spawned, 4)
      assert.strictEqual(workers.threads(), 2)
      yield* shutdown
    })
  )

  it.live("idleTimeout Infinity keeps the threads", () =>
    Effect.gen(function* () {
      const { service: workers, shutdown } = makePool({ ...light, threads: 1, idleTimeout: Duration.infinity })
      yield* workers.hash(secret)
      yield* Effect.sleep("300 millis")
      assert.strictEqual(workers.threads(), 1)
      yield* shutdown
    })
  )

  it.live("lazyThreads: a job alone runs on libuv's pool and starts no thread; two at once start them", () =>
    Effect.gen(function* () {
      let spawned = 0
      const { service: workers, shutdown } = makePool(
        { ...light, threads: 2, lazyThreads: true },
        { onSpawn: () => spawned++ }
      )
      // The manager's start-up hash: same parameters, so verifying against it costs what any verify costs.
      const hash = yield* workers.hash(secret)
      assert.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
      assert.isTrue(yield* workers.verify(secret, hash))
      assert.isFalse(yield* workers.verify(Redacted.make("wrong"), hash))
      assert.strictEqual(spawned, 0)
      assert.strictEqual(workers.threads(), 0)
      const checks = yield* Effect.all([workers.verify(secret, hash), workers.verify(secret, hash)], {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(checks, [true, true])
      assert.strictEqual(spawned, 2)
      assert.strictEqual(workers.threads(), 2)
      yield* shutdown
    })
  )

  it.live("lazyThreads: once idle threads end, a job alone runs on libuv's pool again", () =>
    Effect.gen(function* () {
      let spawned = 0
      const { service: workers, shutdown } = makePool(
        { ...light, threads: 2, lazyThreads: true, idleTimeout: "300 millis" },
        { onSpawn: () => spawned++ }
      )
      const hashes = yield* Effect.all([workers.hash(secret), workers.hash(secret)], { concurrency: "unbounded" })
      assert.strictEqual(spawned, 2)
      yield* eventually(Effect.filterOrFail(Effect.sync(workers.threads), (threads) => threads === 0))
      assert.isTrue(yield* workers.verify(secret, hashes[0]))
      assert.strictEqual(spawned, 2)
      assert.strictEqual(workers.threads(), 0)
      yield* shutdown
    })
  )

  it.live("verifies bcrypt hashes (FastAPI Users' older default) through the fallback", () =>
    Effect.gen(function* () {
      const bcrypt = yield* Effect.promise(() => import("@node-rs/bcrypt"))
      const hash = bcrypt.hashSync("correct-horse-battery", 4)
      const workers = Argon2Workers.makeUnscoped(light)
      assert.isTrue(yield* workers.verify(secret, hash))
      assert.isTrue(workers.needsRehash(hash))
    })
  )
})

describe("Argon2Workers in a scope", () => {
  it.live("the layer hashes, and closing the scope ends every thread and fails the jobs still waiting", () =>
    Effect.gen(function* () {
      const hash = yield* Effect.scoped(
        Effect.gen(function* () {
          const hasher = yield* Layer.build(Argon2Workers.layer({ ...light, threads: 2 }))
          return yield* Context.get(hasher, PasswordHasher.PasswordHasher).hash(secret)
        })
      )
      assert.isTrue(yield* PasswordHasher.makeArgon2(light).verify(secret, hash))

      const scope = yield* Scope.make()
      // Slow hashes (about a second each), so that jobs are still running and waiting when the scope closes.
      const workers = yield* Argon2Workers.make({ memoryCost: 19456, timeCost: 40, threads: 2 }).pipe(
        Scope.extend(scope)
      )
      const waiting = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 6 }, () => workers.hash(secret)),
          { concurrency: "unbounded" }
        )
      )
      yield* eventually(
        Effect.filterOrFail(Effect.sync(workers.load), (load) => load.running === 2 && load.waiting > 0)
      )
      assert.strictEqual(workers.threads(), 2)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(workers.threads(), 0)
      const exit = yield* Fiber.await(waiting)
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      const after = yield* Effect.exit(workers.hash(secret))
      assert.isTrue(Exit.isFailure(after) && Cause.isDie(after.cause))
    })
  )

  it.live("a pool whose threads cannot start fails its jobs with ServiceUnavailable and stops spawning", () =>
    Effect.gen(function* () {
      let spawned = 0
      const { service, shutdown } = makePool(
        { ...light, threads: 2 },
        { argon2Module: "/nonexistent/argon2.js", onSpawn: () => spawned++ }
      )
      for (let attempt = 0; attempt < 3; attempt++) {
        const exit = yield* Effect.exit(service.hash(secret))
        assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
        if (Exit.isFailure(exit)) assert.instanceOf(Cause.squash(exit.cause), UserError.ServiceUnavailable)
      }
      assert.strictEqual(spawned, 2)
      yield* eventually(Effect.filterOrFail(Effect.sync(service.threads), (threads) => threads === 0))
      yield* shutdown
    })
  )

  it.live("threads that start but keep dying stop the respawning after three deaths in a row", () =>
    Effect.gen(function* () {
      let spawned = 0
      const dying = `
const { parentPort } = require("node:worker_threads")
parentPort.on("message", () => process.exit(1))
parentPort.postMessage({ ready: true })
`
      const { service, shutdown } = makePool(
        { ...light, threads: 1 },
        { workerSource: dying, onSpawn: () => spawned++ }
      )
      const exits = []
      for (let attempt = 0; attempt < 5; attempt++) exits.push(yield* Effect.exit(service.hash(secret)))
      const unavailable = exits.map(
        (exit) => Exit.isFailure(exit) && Cause.squash(exit.cause) instanceof UserError.ServiceUnavailable
      )
      assert.deepStrictEqual(unavailable, [false, false, true, true, true])
      assert.strictEqual(spawned, 3)
      yield* shutdown
    })
  )
})

describe("Argon2Workers.layerConfig", () => {
  const settings = (entries: ReadonlyArray<readonly [string, string]>) =>
    Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries)))
  const configured = Argon2Workers.layerConfig({
    threads: Config.integer("ARGON2_THREADS"),
    memoryCost: Config.integer("ARGON2_MEMORY_COST")
  })

  it.live("reads its options through Config: the hashes carry the configured memory cost", () =>
    Effect.gen(function* () {
      const hasher = yield* PasswordHasher.PasswordHasher
      const hash = yield* hasher.hash(secret)
      assert.include(hash, "$m=2048,")
      assert.isTrue(yield* hasher.verify(secret, hash))
    }).pipe(
      Effect.provide(
        configured.pipe(
          Layer.provide(
            settings([
              ["ARGON2_THREADS", "1"],
              ["ARGON2_MEMORY_COST", "2048"]
            ])
          )
        )
      )
    )
  )

  it.live("a missing setting fails the layer with a ConfigError naming it", () =>
    Effect.gen(function* () {
      const exit = yield* Layer.build(configured.pipe(Layer.provide(settings([["ARGON2_THREADS", "1"]])))).pipe(
        Effect.scoped,
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "ARGON2_MEMORY_COST")
    })
  )
})

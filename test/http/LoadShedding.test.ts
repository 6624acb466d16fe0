/**
 * Load shedding (issue 8, item 9): a hasher holds at most `concurrency` running and `queue` waiting hashes;
 * beyond that, hash and verify die at once with `ServiceUnavailable` and the HTTP edge answers 503 with
 * `Retry-After`, instead of queueing without limit.
 */
import { availableParallelism } from "node:os"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, FiberId, Option, Redacted } from "effect"
import { Argon2Workers, PasswordHasher, UserError, UserManager } from "effect-users"
import { request } from "../utils/HttpTest.js"
import { makeOpsServer, pollUntil } from "../utils/OpsServer.js"
import { freshEmail, makeFakeHasher } from "../utils/TestUsers.js"

const secret = Redacted.make("correct-horse-battery")
const light = { memoryCost: 1024, timeCost: 1 }

const isShed = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) &&
  Cause.defects(exit.cause).pipe((defects) => [...defects].some((d) => d instanceof UserError.ServiceUnavailable))

/** Starts `count` hashes at once; returns their exits and the highest load seen while they ran. */
const flood = (hasher: PasswordHasher.BoundedHasherService, count: number) =>
  Effect.gen(function* () {
    let maxWaiting = 0
    let maxRunning = 0
    const sample = () => {
      const load = hasher.load()
      maxWaiting = Math.max(maxWaiting, load.waiting)
      maxRunning = Math.max(maxRunning, load.running)
    }
    const fibers = yield* Effect.forEach(Array.from({ length: count }), (_, i) =>
      Effect.fork(Effect.exit(Effect.zipRight(Effect.sync(sample), hasher.hash(Redacted.make(`pw-${i}`)))))
    )
    yield* Effect.yieldNow()
    sample()
    const exits = yield* Fiber.joinAll(fibers)
    sample()
    return { exits, maxWaiting, maxRunning, after: hasher.load() }
  })

describe("withConcurrencyLimit", () => {
  it.live("beyond concurrency + queue, hash and verify die at once with ServiceUnavailable", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      let started = 0
      const slow: PasswordHasher.PasswordHasherService = {
        hash: () =>
          Effect.zipRight(
            Effect.sync(() => started++),
            Effect.as(Deferred.await(gate), "hash")
          ),
        verify: () => Effect.as(Deferred.await(gate), true),
        needsRehash: () => false
      }
      const hasher = PasswordHasher.withConcurrencyLimit(slow, 1, 2)
      const admitted = yield* Effect.forEach([0, 1, 2], () => Effect.fork(hasher.hash(secret)))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(hasher.load(), { running: 1, waiting: 2 })
      // The (bound+1)-th and later fail at once, while the gate is still closed.
      const shedHash = yield* Effect.exit(hasher.hash(secret))
      const shedVerify = yield* Effect.exit(hasher.verify(secret, "hash"))
      assert.isTrue(isShed(shedHash))
      assert.isTrue(isShed(shedVerify))
      assert.deepStrictEqual(hasher.load(), { running: 1, waiting: 2 })
      assert.strictEqual(started, 1)

      // An interrupted waiter leaves the queue and frees its place.
      yield* Fiber.interrupt(admitted[2]!)
      assert.deepStrictEqual(hasher.load(), { running: 1, waiting: 1 })
      const late = yield* Effect.fork(hasher.hash(secret))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(hasher.load(), { running: 1, waiting: 2 })

      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.join(admitted[0]!), "hash")
      assert.deepStrictEqual(yield* Fiber.join(admitted[1]!), "hash")
      assert.deepStrictEqual(yield* Fiber.join(late), "hash")
      assert.deepStrictEqual(hasher.load(), { running: 0, waiting: 0 })
    })
  )
})

describe("argon2 hashers shed beyond their queue", () => {
  const cases: ReadonlyArray<[string, () => PasswordHasher.BoundedHasherService]> = [
    ["makeArgon2 (libuv pool)", () => PasswordHasher.makeArgon2({ ...light, concurrency: 1, queue: 3 })],
    ["makeArgon2Workers (worker threads)", () => Argon2Workers.makeUnscoped({ ...light, threads: 1, queue: 3 })]
  ]
  for (const [name, make] of cases) {
    it.live(`${name}: 4 of 12 concurrent hashes run, 8 are shed; the waiting list never exceeds 3`, () =>
      Effect.gen(function* () {
        const hasher = make()
        yield* hasher.hash(secret) // starts the worker threads, if any
        const { after, exits, maxRunning, maxWaiting } = yield* flood(hasher, 12)
        assert.strictEqual(exits.filter(Exit.isSuccess).length, 4)
        assert.strictEqual(exits.filter(isShed).length, 8)
        assert.strictEqual(maxRunning, 1)
        assert.strictEqual(maxWaiting, 3)
        assert.deepStrictEqual(after, { running: 0, waiting: 0 })
        // Shedding is not a mismatch: the hasher serves again once the queue drains.
        assert.isTrue(yield* hasher.verify(secret, yield* hasher.hash(secret)))
      })
    )
  }
})

describe("argon2 hashers' default bounds", () => {
  it.live("makeArgon2() runs one hash per core at once and queues the rest, none shed", () =>
    Effect.gen(function* () {
      const cores = availableParallelism()
      const { exits, maxRunning } = yield* flood(PasswordHasher.makeArgon2(light), 3 * cores)
      assert.strictEqual(maxRunning, cores)
      assert.isTrue(exits.every(Exit.isSuccess))
    })
  )
})

describe("HTTP: a full hash queue answers 503 with Retry-After at once", () => {
  const fake = makeFakeHasher()
  // Verifies wait on a gate the test opens: the shed logins must be answered while the others still hash.
  let gate = Deferred.unsafeMake<void>(FiberId.none)
  const slow: PasswordHasher.PasswordHasherService = {
    hash: fake.service.hash,
    verify: (password, hash) => Effect.zipLeft(fake.service.verify(password, hash), Deferred.await(gate)),
    needsRehash: fake.service.needsRehash
  }
  const hasher = PasswordHasher.withConcurrencyLimit(slow, 1, 2)
  const server = makeOpsServer(SqliteClient.layer({ filename: ":memory:" }), { hasher })

  layer(server.layer, { excludeTestServices: true })("login flood", (it) => {
    it.effect("of 8 concurrent logins, 3 are served and 5 get 503 while the first still hashes", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const email = freshEmail()
        yield* users.create({ email, password: secret }).pipe(Effect.orDie)
        gate = yield* Deferred.make<void>()
        let maxWaiting = 0
        const sampler = yield* Effect.fork(
          Effect.forever(
            Effect.zipRight(
              Effect.sync(() => {
                maxWaiting = Math.max(maxWaiting, hasher.load().waiting)
              }),
              Effect.sleep(2)
            )
          )
        )
        const logins = yield* Effect.forEach(Array.from({ length: 8 }), () =>
          Effect.fork(request("/auth/jwt/login", { form: { username: email, password: "correct-horse-battery" } }))
        )
        const early = yield* pollUntil(
          Effect.map(Effect.forEach(logins, Fiber.poll), (polls) => polls.filter(Option.isSome)),
          (done) => done.length >= 5
        )
        assert.strictEqual(early.length, 5)
        assert.strictEqual(hasher.load().running, 1, "the first login is still hashing")
        yield* Deferred.succeed(gate, undefined)
        const replies = yield* Fiber.joinAll(logins)
        yield* Fiber.interrupt(sampler)

        const served = replies.filter((reply) => reply.status === 200)
        const shed = replies.filter((reply) => reply.status === 503)
        assert.strictEqual(served.length, 3, JSON.stringify(replies.map((reply) => reply.status)))
        assert.strictEqual(shed.length, 5)
        for (const reply of shed) {
          assert.deepStrictEqual(reply.body, { detail: "SERVICE_UNAVAILABLE" })
          assert.strictEqual(reply.headers.get("retry-after"), "1")
        }
        assert.strictEqual(maxWaiting, 2)
        const shedLogs = server.logs.filter((entry) => entry.message.includes("hash queue is full"))
        assert.strictEqual(shedLogs.length, 5)
        assert.notInclude(server.logText(), "correct-horse-battery")
      })
    )
  })
})

import { assert, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric, Redacted } from "effect"
import { AuthEvents, AuthMetrics, PasswordHasher } from "effect-users"

const common = { at: new Date(0) }

it.effect("the sink counts logins by outcome, method and backend, sessions created and refresh reuse", () =>
  Effect.gen(function* () {
    yield* AuthMetrics.sink.write([
      new AuthEvents.LoginSucceeded({ ...common, method: "password", backend: "jwt", userId: "1" }),
      new AuthEvents.LoginSucceeded({ ...common, method: "oauth:google", backend: "cookie", userId: "1" }),
      new AuthEvents.LoginFailed({ ...common, method: "password", backend: "jwt", reason: "badCredentials" }),
      new AuthEvents.LoginFailed({ ...common, method: "password", backend: "jwt", reason: "throttled" }),
      new AuthEvents.RefreshReuseDetected({ ...common, backend: "jwt", sessionId: "family" }),
      new AuthEvents.LoggedOut({ ...common, backend: "jwt" })
    ])
    const count = (metric: Metric.Metric.Counter<number>, tags: Record<string, string>) =>
      Effect.map(
        Metric.value(Object.entries(tags).reduce((tagged, [key, value]) => Metric.tagged(tagged, key, value), metric)),
        (state) => state.count
      )
    const login = { method: "password", backend: "jwt" }
    assert.deepStrictEqual(
      yield* Effect.all([
        count(AuthMetrics.logins, { outcome: "success", ...login }),
        count(AuthMetrics.logins, { outcome: "success", method: "oauth:google", backend: "cookie" }),
        count(AuthMetrics.logins, { outcome: "badCredentials", ...login }),
        count(AuthMetrics.logins, { outcome: "throttled", ...login }),
        count(AuthMetrics.sessionsCreated, login),
        count(AuthMetrics.refreshReuse, { backend: "jwt" })
      ]),
      [1, 1, 1, 1, 1, 1]
    )
  })
)

it.live("a bounded hasher reports the jobs waiting for a slot and how long each waited", () =>
  Effect.gen(function* () {
    const gate = yield* Deferred.make<void>()
    const hasher = PasswordHasher.withConcurrencyLimit(
      {
        hash: () => Effect.as(Deferred.await(gate), "hash"),
        verify: () => Effect.as(Deferred.await(gate), true),
        needsRehash: () => false
      },
      1
    )
    const depth = Effect.map(Metric.value(AuthMetrics.hashQueueDepth), (state) => state.value)
    const waits = Effect.map(Metric.value(AuthMetrics.hashQueueWait), (state) => state.count)
    const before = yield* waits
    const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(hasher.hash(Redacted.make("pw"))))
    while (hasher.load().waiting < 2) yield* Effect.sleep(1)
    assert.strictEqual(yield* depth, 2)
    assert.strictEqual((yield* waits) - before, 1)
    // An interrupted waiter leaves the queue's depth.
    yield* Fiber.interrupt(fibers[2]!)
    assert.strictEqual(yield* depth, 1)
    yield* Deferred.succeed(gate, undefined)
    yield* Fiber.join(fibers[0]!)
    yield* Fiber.join(fibers[1]!)
    assert.strictEqual(yield* depth, 0)
    assert.strictEqual((yield* waits) - before, 2)
  })
)

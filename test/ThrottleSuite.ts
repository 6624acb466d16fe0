/**
 * The throttle's conformance suite, run against every pair of stores (memory, Redis): the per-account back-off
 * step by step at explicit instants, and the per-client limits through `Throttle.make`.
 */
import type { RateLimiter } from "@effect/experimental"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer } from "effect"
import { Throttle } from "effect-users"

const limits: Throttle.AccountLimits = {
  freeAttempts: 3,
  baseDelayMillis: 1_000,
  maxDelayMillis: 4_000,
  maxAttempts: 8,
  windowMillis: 60_000
}

let counter = 0
const freshKey = (name: string) => `${name}:${Date.now().toString(36)}${(counter++).toString(36)}`

export const suite = (
  name: string,
  stores: Layer.Layer<Throttle.AccountStore | RateLimiter.RateLimiterStore, unknown>
) =>
  describe(name, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Throttle.AccountStore | RateLimiter.RateLimiterStore>) =>
      Effect.provide(effect, Layer.orDie(stores))

    it.live("AccountStore: free attempts, then a doubling wait up to the cap, then refusal at maxAttempts", () =>
      run(
        Effect.gen(function* () {
          const store = yield* Throttle.AccountStore
          const key = freshKey("account")
          const t0 = 1_700_000_000_000
          const attempt = (at: number) => Effect.flatten(store.send(key, at, limits))
          for (let n = 1; n <= 2; n++) assert.deepStrictEqual(yield* attempt(t0), { _tag: "Allowed", attempts: n })
          // The third attempt is the last free one: it sets a wait of 1 s.
          assert.deepStrictEqual(yield* attempt(t0), { _tag: "Allowed", attempts: 3 })
          assert.deepStrictEqual(yield* attempt(t0 + 400), { _tag: "Refused", retryAfterMillis: 600 })
          // Each allowed attempt doubles the wait: 1 s, 2 s, 4 s, then the 4 s cap.
          let at = t0 + 1_000
          const waits = [2_000, 4_000, 4_000, 4_000]
          for (const [i, wait] of waits.entries()) {
            assert.deepStrictEqual(yield* attempt(at), { _tag: "Allowed", attempts: 4 + i })
            assert.deepStrictEqual(yield* attempt(at + 1), { _tag: "Refused", retryAfterMillis: wait - 1 })
            at += wait
          }
          assert.deepStrictEqual(yield* attempt(at), { _tag: "Allowed", attempts: 8 })
          // maxAttempts reached: refused however long it waits, within the window.
          const refused = yield* attempt(at + 10_000)
          assert.strictEqual(refused._tag, "Refused")
          if (refused._tag === "Refused") {
            assert.isAbove(refused.retryAfterMillis, 0)
            assert.isAtMost(refused.retryAfterMillis, limits.windowMillis)
          }
          // A reset (a right password, a password reset) starts again from the free attempts.
          yield* store.reset(key)
          assert.deepStrictEqual(yield* attempt(at + 10_000), { _tag: "Allowed", attempts: 1 })
        })
      )
    )

    it.live("AccountStore: keys are independent; concurrent attempts are counted one by one", () =>
      run(
        Effect.gen(function* () {
          const store = yield* Throttle.AccountStore
          const [a, b] = [freshKey("a"), freshKey("b")]
          const now = 1_700_000_000_000
          const results = yield* Effect.all(
            Array.from({ length: 20 }, () => Effect.flatten(store.send(a, now, limits))),
            { concurrency: "unbounded" }
          )
          // Three free attempts, and no more, however many arrive at once.
          assert.strictEqual(results.filter((r) => r._tag === "Allowed").length, 3)
          assert.deepStrictEqual(yield* Effect.flatten(store.send(b, now, limits)), { _tag: "Allowed", attempts: 1 })
        })
      )
    )

    it.live("per-client limit: the request past the limit fails with Throttled and a Retry-After", () =>
      run(
        Effect.gen(function* () {
          const throttle = yield* Throttle.make({ clients: { register: { limit: 3, window: "1 minute" } } })
          const client = freshKey("203.0.113.9")
          for (let i = 0; i < 3; i++) yield* throttle.route("register", client)
          const exit = yield* Effect.exit(throttle.route("register", client))
          assert.isTrue(Exit.isFailure(exit))
          const error = yield* Effect.flip(throttle.route("register", client))
          assert.strictEqual(error.scope, "client")
          assert.isAbove(Duration.toMillis(error.retryAfter), 0)
          assert.isAtMost(Duration.toMillis(error.retryAfter), 60_000)
          // Another client, or another route, has its own count.
          yield* throttle.route("register", freshKey("203.0.113.10"))
          yield* throttle.route("verify", client)
        })
      )
    )

    it.live("per-client limit with a window that is not a whole number of ms per request (3 per 10 s)", () =>
      run(
        Effect.gen(function* () {
          const throttle = yield* Throttle.make({ clients: { login: { limit: 3, window: "10 seconds" } } })
          const client = freshKey("198.51.100.7")
          for (let i = 0; i < 3; i++) yield* throttle.route("login", client)
          const error = yield* Effect.flip(throttle.route("login", client))
          assert.strictEqual(error.scope, "client")
          assert.isAtMost(Duration.toMillis(error.retryAfter), 10_002)
        })
      )
    )

    it.live("per-address limit of the mail routes, whatever the client and the address's case", () =>
      run(
        Effect.gen(function* () {
          const throttle = yield* Throttle.make({ addresses: { forgotPassword: { limit: 2, window: "1 hour" } } })
          const email = `${freshKey("victim")}@camelot.bt`
          yield* throttle.route("forgotPassword", freshKey("192.0.2.1"), email)
          yield* throttle.route("forgotPassword", freshKey("192.0.2.2"), email.toUpperCase())
          const error = yield* Effect.flip(throttle.route("forgotPassword", freshKey("192.0.2.3"), email))
          assert.strictEqual(error.scope, "address")
        })
      )
    )
  })

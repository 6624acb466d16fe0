/**
 * `npm start`'s throttle (`examples/sessionStore.ts`): the per-client and per-address limits by default, none
 * with USERS_RATE_LIMITS=off (what `npm run bench:http` sets), the per-account back-off either way.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either } from "effect"
import { Throttle } from "effect-users"
import { ThrottleStore } from "../../examples/sessionStore.js"

/** Which of `count` attempts the example's throttle lets through, with these environment variables. */
const passed = (
  env: Record<string, string>,
  count: number,
  attempt: (throttle: Throttle.ThrottleService) => Effect.Effect<unknown, Throttle.Throttled>
) =>
  Effect.gen(function* () {
    const throttle = yield* Throttle.Throttle
    const results: Array<boolean> = []
    for (let i = 0; i < count; i++) results.push(Either.isRight(yield* Effect.either(attempt(throttle))))
    return results.filter((ok) => ok).length
  }).pipe(
    Effect.provide(ThrottleStore),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

const forgotPassword = (throttle: Throttle.ThrottleService) => throttle.route("forgotPassword", "127.0.0.1", "a@b.c")
const login = (throttle: Throttle.ThrottleService) => throttle.route("login", "127.0.0.1")

describe("npm start's throttle", () => {
  it.effect("limits per client and per address by default", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* passed({}, 5, forgotPassword), 3)
      assert.strictEqual(yield* passed({}, 40, login), 30)
    })
  )

  it.effect("USERS_RATE_LIMITS=off: no per-client or per-address limit", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* passed({ USERS_RATE_LIMITS: "off" }, 5, forgotPassword), 5)
      assert.strictEqual(yield* passed({ USERS_RATE_LIMITS: "off" }, 100, login), 100)
      assert.strictEqual(yield* passed({ USERS_RATE_LIMITS: "off" }, 100, (t) => t.route("refresh", "127.0.0.1")), 100)
    })
  )

  it.effect("USERS_RATE_LIMITS=off keeps the per-account back-off", () =>
    Effect.gen(function* () {
      const attempts = (throttle: Throttle.ThrottleService) => throttle.account("a@b.c", "127.0.0.1", "login")
      // 5 free attempts, then the account waits (attempts are counted as failures until a success clears them).
      assert.strictEqual(yield* passed({ USERS_RATE_LIMITS: "off" }, 8, attempts), 5)
    })
  )

  it.effect("another value is a configuration error, not a silent default", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(passed({ USERS_RATE_LIMITS: "no" }, 1, login))
      assert.isTrue(Either.isLeft(result))
    })
  )
})

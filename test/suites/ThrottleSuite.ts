/**
 * The throttle's conformance suite, run against every pair of stores (memory, Redis): the per-account back-off
 * step by step at explicit instants, and the per-client limits through `Throttle.make`.
 */
import type { RateLimiter } from "@effect/experimental"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer } from "effect"
import { Throttle, UserError } from "effect-users"

const limits: Throttle.AccountLimits = {
  freeAttempts: 3,
  baseDelayMillis: 1_000,
  maxDelayMillis: 4_000,
  maxAttempts: 8,
  windowMillis: 60_000
}

let counter = 0
const freshKey = (name: string) => `${name}:${Date.now().toString(36)}${(counter++).toString(36)}`

// What a test compares: the decision, without the store's reservation IDs.
const decided = (result: Throttle.AttemptResult) =>
  result._tag === "Allowed" ? { _tag: result._tag, attempts: result.attempts } : result
const allowed = (attempts: number) => ({ _tag: "Allowed", attempts }) as const
const reservationOf = (result: Throttle.AttemptResult) => {
  assert.strictEqual(result._tag, "Allowed")
  return (result as Extract<Throttle.AttemptResult, { _tag: "Allowed" }>).reservation
}

// Logins under the default policy, with a back-off long enough that no wait ends during a test.
const loginPolicy = { accounts: { baseDelay: "1 hour", maxDelay: "1 hour" } } as const
const outage = Effect.die(new UserError.ServiceUnavailable({ reason: "storage unavailable", retryAfter: 5 }))
const wrongPassword = Effect.fail("InvalidCredentials")

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
          const attempt = (at: number) => Effect.map(Effect.flatten(store.send(key, at, limits)), decided)
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
          yield* Effect.flatten(store.reset(key))
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
          assert.deepStrictEqual(decided(yield* Effect.flatten(store.send(b, now, limits))), allowed(1))
        })
      )
    )

    it.live("AccountStore: a released attempt is given back, its count and its wait", () =>
      run(
        Effect.gen(function* () {
          const store = yield* Throttle.AccountStore
          const key = freshKey("release")
          const t0 = 1_700_000_000_000
          const send = (at: number) => Effect.flatten(store.send(key, at, limits))
          const attempt = (at: number) => Effect.map(send(at), decided)
          // The only attempt of a count: given back, the next one is the first again.
          yield* store.release(key, reservationOf(yield* send(t0)))
          assert.deepStrictEqual(yield* attempt(t0), allowed(1))
          assert.deepStrictEqual(yield* attempt(t0), allowed(2))
          // The last free attempt sets a wait of 1 s; given back, so is the wait.
          yield* store.release(key, reservationOf(yield* send(t0)))
          assert.deepStrictEqual(yield* attempt(t0 + 1), allowed(3))
          // In the back-off: the 4th attempt (wait 2 s) given back, the next one may come at once as the 4th.
          const fourth = yield* send(t0 + 1_001)
          assert.deepStrictEqual(decided(fourth), allowed(4))
          yield* store.release(key, reservationOf(fourth))
          assert.deepStrictEqual(yield* attempt(t0 + 1_001), allowed(4))
          assert.deepStrictEqual(yield* attempt(t0 + 1_002), { _tag: "Refused", retryAfterMillis: 1_999 })
        })
      )
    )

    it.live("AccountStore: a release never undoes another attempt, later or of a later count", () =>
      run(
        Effect.gen(function* () {
          const store = yield* Throttle.AccountStore
          const t0 = 1_700_000_000_000
          const send = (key: string, at: number) => Effect.flatten(store.send(key, at, limits))
          const attempt = (key: string, at: number) => Effect.map(send(key, at), decided)
          // A's check fails to happen while B's (later) one fails: B's attempt stays counted.
          const concurrent = freshKey("concurrent")
          const a = yield* send(concurrent, t0)
          assert.deepStrictEqual(yield* attempt(concurrent, t0), allowed(2))
          yield* store.release(concurrent, reservationOf(a))
          assert.deepStrictEqual(yield* attempt(concurrent, t0), allowed(2))
          // In the back-off, the later attempt's wait holds too.
          const waiting = freshKey("waiting")
          for (let n = 1; n <= 3; n++) yield* send(waiting, t0)
          const fourth = yield* send(waiting, t0 + 1_000)
          assert.deepStrictEqual(yield* attempt(waiting, t0 + 3_000), allowed(5))
          yield* store.release(waiting, reservationOf(fourth))
          assert.strictEqual((yield* attempt(waiting, t0 + 3_001))._tag, "Refused")
          // The count was reset (a right password) and a new one started: the old attempt gives nothing back.
          const reset = freshKey("reset")
          const old = yield* send(reset, t0)
          yield* Effect.flatten(store.reset(reset))
          assert.deepStrictEqual(yield* attempt(reset, t0), allowed(1))
          yield* store.release(reset, reservationOf(old))
          yield* store.release(reset, reservationOf(old))
          assert.deepStrictEqual(yield* attempt(reset, t0), allowed(2))
        })
      )
    )

    it.live("a right password on the first attempt leaves nothing: the next free attempts are all free", () =>
      run(
        Effect.gen(function* () {
          const throttle = yield* Throttle.make(loginPolicy)
          const email = `${freshKey("first-try")}@camelot.bt`
          yield* Throttle.checked(yield* throttle.login(email, "192.0.2.1"), Effect.void)
          for (let i = 0; i < 5; i++) {
            const attempt = yield* throttle.login(email, "192.0.2.1")
            assert.strictEqual(attempt.attempts, i + 1)
            yield* Effect.flip(Throttle.checked(attempt, wrongPassword))
          }
          const refused = yield* Effect.flip(throttle.login(email, "192.0.2.1"))
          assert.strictEqual(refused.scope, "account")
        })
      )
    )

    it.live("a check that could not be made (outage, interruption) gives its attempt back", () =>
      run(
        Effect.gen(function* () {
          const throttle = yield* Throttle.make(loginPolicy)
          const email = `${freshKey("outage")}@camelot.bt`
          const login = throttle.login(email, "192.0.2.2")
          for (let i = 0; i < 4; i++) yield* Effect.flip(Throttle.checked(yield* login, wrongPassword))
          // Far more outages than free attempts: a 503 as a defect, or as a typed failure, and an interruption.
          for (let i = 0; i < 8; i++) {
            const exit = yield* Effect.exit(Throttle.checked(yield* login, outage))
            assert.isTrue(Exit.isFailure(exit) && !Exit.isInterrupted(exit))
          }
          const unavailable = new UserError.ServiceUnavailable({ reason: "hash queue full" })
          yield* Effect.flip(Throttle.checked(yield* login, Effect.fail(unavailable)))
          const started = yield* Deferred.make<void>()
          const hanging = yield* Effect.fork(
            Throttle.checked(yield* login, Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
          )
          yield* Deferred.await(started)
          yield* Fiber.interrupt(hanging)
          // The four wrong passwords are still counted: the fifth is the last free one, the sixth waits.
          const fifth = yield* login
          assert.strictEqual(fifth.attempts, 5)
          yield* Effect.flip(Throttle.checked(fifth, wrongPassword))
          assert.strictEqual((yield* Effect.flip(login)).scope, "account")
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

    it.live("a known device counts under its own nonce: the account's back-off never refuses it", () =>
      run(
        Effect.gen(function* () {
          const throttle = yield* Throttle.make({
            ...loginPolicy,
            devices: { baseDelay: "1 hour", maxDelay: "1 hour" }
          })
          const email = `${freshKey("owner")}@camelot.bt`
          const [phone, laptop] = [freshKey("phone"), freshKey("laptop")]
          // A stranger uses up the unknown clients' free attempts: they wait an hour.
          for (let i = 0; i < 5; i++)
            yield* Effect.flip(Throttle.checked(yield* throttle.login(email, "203.0.113.1"), wrongPassword))
          assert.strictEqual((yield* Effect.flip(throttle.login(email, "203.0.113.2"))).scope, "account")
          // The owner's device is not held back; its right password clears its count, not the stranger's.
          const owner = yield* throttle.login(email, "198.51.100.1", phone)
          assert.strictEqual(owner.attempts, 1)
          yield* Throttle.checked(owner, Effect.void)
          assert.strictEqual((yield* Effect.flip(throttle.login(email, "203.0.113.3"))).scope, "account")
          // A device's own wrong passwords: five free, then that device alone waits.
          for (let i = 0; i < 5; i++) {
            const attempt = yield* throttle.login(email, "198.51.100.1", phone)
            assert.strictEqual(attempt.attempts, i + 1)
            yield* Effect.flip(Throttle.checked(attempt, wrongPassword))
          }
          const refused = yield* Effect.flip(throttle.login(email, "198.51.100.1", phone))
          assert.strictEqual(refused.scope, "device")
          assert.isAbove(Duration.toMillis(refused.retryAfter), 59 * 60_000)
          yield* Throttle.checked(yield* throttle.login(email, "198.51.100.2", laptop), Effect.void)
        })
      )
    )

    it.live("current_password checks count apart from logins: a stranger's guesses never refuse the owner's", () =>
      run(
        Effect.gen(function* () {
          const throttle = yield* Throttle.make(loginPolicy)
          const email = `${freshKey("reauth")}@camelot.bt`
          for (let i = 0; i < 5; i++)
            yield* Effect.flip(Throttle.checked(yield* throttle.login(email, "203.0.113.1"), wrongPassword))
          assert.strictEqual((yield* Effect.flip(throttle.login(email, "203.0.113.1"))).scope, "account")
          const check = throttle.account(email, "198.51.100.1", "currentPassword")
          assert.strictEqual((yield* check).attempts, 1)
          // Its own back-off still holds whoever holds the session: five, then a wait.
          for (let i = 0; i < 4; i++) yield* Effect.flip(Throttle.checked(yield* check, wrongPassword))
          assert.strictEqual((yield* Effect.flip(check)).scope, "account")
          // A password reset clears both counts.
          yield* throttle.clearAccount(email)
          yield* check
          yield* throttle.login(email, "203.0.113.1")
        })
      )
    )

    it.live(
      "mail routes: past the address's limit `mail` answers false, never a failure; the client's still fails",
      () =>
        run(
          Effect.gen(function* () {
            const throttle = yield* Throttle.make({
              clients: { forgotPassword: { limit: 4, window: "1 hour" } },
              addresses: { forgotPassword: { limit: 2, window: "1 hour" } }
            })
            const email = `${freshKey("mailbox")}@camelot.bt`
            const client = freshKey("192.0.2.9")
            const sent: Array<boolean> = []
            for (let i = 0; i < 4; i++)
              sent.push(yield* throttle.mail("forgotPassword", client, i % 2 ? email : email.toUpperCase()))
            assert.deepStrictEqual(sent, [true, true, false, false])
            assert.strictEqual((yield* Effect.flip(throttle.mail("forgotPassword", client, email))).scope, "client")
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

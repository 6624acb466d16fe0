import { RateLimiter } from "@effect/experimental"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, TestClock } from "effect"
import { Throttle } from "effect-users"
import { suite } from "./suites/ThrottleSuite.js"
import { delivered, recording } from "./utils/RecordingSink.js"

suite("Throttle memory stores", Layer.merge(Throttle.layerAccountStoreMemory, Throttle.layerRateLimiterStoreMemory))
// The limiter's own memory store counts the same way (it only never forgets a key).
suite(
  "Throttle with RateLimiter.layerStoreMemory",
  Layer.merge(Throttle.layerAccountStoreMemory, RateLimiter.layerStoreMemory)
)

describe("Throttle.storedLimit", () => {
  it("stretches the window to a whole number of ms per request, by less than `limit` ms", () => {
    const stored = Throttle.storedLimit({ limit: 3, window: "10 seconds" })
    assert.strictEqual(stored.limit, 3)
    assert.strictEqual(Duration.toMillis(stored.window), 10_002)
    assert.strictEqual(Duration.toMillis(Throttle.storedLimit({ limit: 5, window: "1 minute" }).window), 60_000)
  })
})

describe("Throttle.shownEmail", () => {
  it("an e-mail as Email decodes it; anything Email refuses as notAnEmail", () => {
    assert.strictEqual(Throttle.shownEmail(" Arthur@Camelot.bt "), "Arthur@Camelot.bt")
    for (const junk of [
      "a@b.cd\nINFO forged",
      "a\u001b[2J@b.cd",
      "a\u0000@b.cd",
      "Hunter2-secret",
      "",
      "a@b.cd\u202e"
    ]) {
      assert.strictEqual(Throttle.shownEmail(junk), Throttle.notAnEmail)
    }
  })
})

describe("Throttle.checked and the store's round-trips", () => {
  it.effect("a right password's reset is sent, not waited for: the attempt is a login's only round-trip", () =>
    Effect.gen(function* () {
      const inner = Throttle.makeAccountStoreMemory()
      const counts = { sent: 0, waited: 0, resets: 0, resetsWaited: 0, releases: 0 }
      const store = Throttle.AccountStore.of({
        send: (key, now, limits) =>
          Effect.map(inner.send(key, now, limits), (reply) => {
            counts.sent++
            return Effect.zipLeft(
              reply,
              Effect.sync(() => counts.waited++)
            )
          }),
        release: (key, reservation) =>
          Effect.zipRight(
            Effect.sync(() => counts.releases++),
            inner.release(key, reservation)
          ),
        reset: (key) =>
          Effect.map(inner.reset(key), () => {
            counts.resets++
            return Effect.sync(() => counts.resetsWaited++)
          })
      })
      const throttle = yield* Throttle.make().pipe(
        Effect.provide([Throttle.layerRateLimiterStoreMemory, Layer.succeed(Throttle.AccountStore, store)])
      )
      for (let i = 0; i < 3; i++)
        yield* Throttle.checked(yield* throttle.login("lancelot@camelot.bt", "10.0.0.1"), Effect.void)
      assert.deepStrictEqual(counts, { sent: 3, waited: 3, resets: 3, resetsWaited: 0, releases: 0 })
    })
  )
})

describe("Throttle.delayAfter", () => {
  it("nothing for the free attempts, then doubling from baseDelay, capped at maxDelay", () => {
    const limits = { freeAttempts: 5, baseDelayMillis: 1000, maxDelayMillis: 900_000, maxAttempts: 99, windowMillis: 1 }
    const delays = [1, 4, 5, 6, 7, 14, 15, 40].map((n) => Throttle.delayAfter(n, limits))
    assert.deepStrictEqual(delays, [0, 0, 1000, 2000, 4000, 512_000, 900_000, 900_000])
  })
})

describe("Throttle (memory, TestClock)", () => {
  const recorded = recording()
  const throttle = Throttle.layerMemory({
    accounts: { freeAttempts: 2, baseDelay: "1 minute", maxDelay: "5 minutes", maxAttempts: 6 }
  }).pipe(Layer.provideMerge(recorded.standalone))
  const shown = (email: string) =>
    recorded.events.flatMap((event) => {
      if (event._tag === "RequestThrottled" && event.email === email)
        return [`throttled ${event.scope} ${event.email} ${event.address} ${event.outcome} ${event.retryAfterMillis}`]
      if (event._tag === "PasswordCheckFailed" && event.email === email)
        return [`failed ${event.email} ${event.address} ${event.attempts}`]
      return []
    })

  it.effect("an account waits after its free attempts; the owner gets in once the wait is over", () =>
    Effect.gen(function* () {
      const throttle = yield* Throttle.Throttle
      const email = "arthur@camelot.bt"
      for (let i = 0; i < 2; i++) yield* Effect.flatMap(throttle.login(email, "10.0.0.1"), (a) => a.failed)
      const refused = yield* Effect.flip(throttle.login("ARTHUR@camelot.bt", "10.0.0.2"))
      assert.strictEqual(refused.scope, "account")
      assert.strictEqual(Duration.toMillis(refused.retryAfter), 60_000)
      yield* TestClock.adjust("1 minute")
      const attempt = yield* throttle.login(email, "10.0.0.3")
      yield* attempt.succeeded
      // The right password cleared the count: the free attempts are back.
      for (let i = 0; i < 2; i++) yield* Effect.flatMap(throttle.login(email, "10.0.0.1"), (a) => a.failed)
      yield* delivered(() => shown("ARTHUR@camelot.bt").length === 1, "RequestThrottled")
      // A login's wrong password is no event of the throttle's: the login route's `LoginFailed` is.
      assert.deepStrictEqual(
        [...shown("arthur@camelot.bt"), ...shown("ARTHUR@camelot.bt")],
        ["throttled account ARTHUR@camelot.bt 10.0.0.2 refused 60000"]
      )
    }).pipe(Effect.provide(throttle))
  )

  it.effect("a wrong current_password is a PasswordCheckFailed with its attempts; its refusal a RequestThrottled", () =>
    Effect.gen(function* () {
      const throttle = yield* Throttle.Throttle
      const email = "kay@camelot.bt"
      for (let i = 0; i < 2; i++)
        yield* Effect.flatMap(throttle.account(email, "10.0.0.5", "currentPassword"), (a) => a.failed)
      yield* Effect.flip(throttle.account(email, "10.0.0.5", "currentPassword"))
      yield* delivered(() => shown(email).length === 3, "three events")
      assert.deepStrictEqual(shown(email), [
        "failed kay@camelot.bt 10.0.0.5 1",
        "failed kay@camelot.bt 10.0.0.5 2",
        "throttled account kay@camelot.bt 10.0.0.5 refused 60000"
      ])
    }).pipe(Effect.provide(throttle))
  )

  it.effect("the wait never exceeds maxDelay; maxAttempts in a row are refused until a reset", () =>
    Effect.gen(function* () {
      const throttle = yield* Throttle.Throttle
      const email = "mordred@camelot.bt"
      let allowed = 0
      let longest = 0
      for (let i = 0; i < 200; i++) {
        const result = yield* Effect.either(throttle.account(email, "10.0.0.9", "login"))
        if (result._tag === "Right") {
          allowed++
          yield* result.right.failed
        } else {
          longest = Math.max(longest, Duration.toMillis(result.left.retryAfter))
          if (allowed < 6) assert.isAtMost(Duration.toMillis(result.left.retryAfter), 5 * 60_000)
        }
        yield* TestClock.adjust("5 minutes")
      }
      assert.strictEqual(allowed, 6)
      assert.isAbove(longest, 5 * 60_000)
      yield* throttle.clearAccount(email)
      yield* throttle.account(email, "10.0.0.9", "login")
    }).pipe(Effect.provide(throttle))
  )

  it.effect("unknown and known e-mails are one and the same to the throttle (it never looks users up)", () =>
    Effect.gen(function* () {
      const throttle = yield* Throttle.Throttle
      const outcomes = yield* Effect.forEach(["known@camelot.bt", "nobody@camelot.bt"], (email) =>
        Effect.gen(function* () {
          for (let i = 0; i < 2; i++) yield* Effect.flatMap(throttle.login(email, "10.0.0.4"), (a) => a.failed)
          return yield* Effect.flip(throttle.login(email, "10.0.0.4"))
        })
      )
      assert.deepStrictEqual(outcomes[0], outcomes[1])
    }).pipe(Effect.provide(throttle))
  )

  it.effect(
    "the default policy: an attacker retrying the moment each wait ends gets 99 guesses, then none for a day",
    () =>
      Effect.gen(function* () {
        const throttle = yield* Throttle.make()
        const start = yield* Clock.currentTimeMillis
        let allowed = 0
        let longestWait = 0
        while ((yield* Clock.currentTimeMillis) - start < 40 * 3_600_000) {
          const result = yield* Effect.either(throttle.account("gawain@camelot.bt", "10.0.0.1", "login"))
          if (result._tag === "Right") {
            allowed++
            continue
          }
          const wait = Duration.toMillis(result.left.retryAfter)
          // Until the hard limit, the owner never waits more than the 15 minutes cap.
          if (allowed < 99) longestWait = Math.max(longestWait, wait)
          yield* TestClock.adjust(Duration.millis(wait))
        }
        assert.strictEqual(allowed, 99)
        assert.strictEqual(longestWait, 15 * 60_000)
      }).pipe(Effect.provide([Throttle.layerRateLimiterStoreMemory, Throttle.layerAccountStoreMemory]))
  )

  it.effect("the default device policy: a device retrying the moment each wait ends gets 10 guesses an hour", () =>
    Effect.gen(function* () {
      const throttle = yield* Throttle.make()
      const start = yield* Clock.currentTimeMillis
      const allowedAt: Array<number> = []
      let longestWait = 0
      while ((yield* Clock.currentTimeMillis) - start < 3 * 3_600_000) {
        const result = yield* Effect.either(throttle.login("gawain@camelot.bt", "10.0.0.1", "stolen-device"))
        if (result._tag === "Right") {
          allowedAt.push((yield* Clock.currentTimeMillis) - start)
          yield* result.right.failed
          continue
        }
        assert.strictEqual(result.left.scope, "device")
        const wait = Duration.toMillis(result.left.retryAfter)
        if (allowedAt.length % 10 !== 0) longestWait = Math.max(longestWait, wait)
        yield* TestClock.adjust(Duration.millis(wait))
      }
      // Ten, then none until an hour after the tenth; the waits in between 1, 2, 4, 8 and 16 s.
      assert.strictEqual(allowedAt.length, 30)
      assert.strictEqual(longestWait, 16_000)
      assert.isAtLeast(allowedAt[10]! - allowedAt[9]!, 3_600_000)
      // None of it reached the account: an unknown client still has its five free attempts.
      for (let i = 0; i < 5; i++) yield* throttle.login("gawain@camelot.bt", "10.0.0.2")
    }).pipe(Effect.provide([Throttle.layerRateLimiterStoreMemory, Throttle.layerAccountStoreMemory]))
  )

  it.effect("a request the client limit refuses leaves no count on the account or the address", () =>
    Effect.gen(function* () {
      const throttle = yield* Throttle.make({
        clients: { login: { limit: 1, window: "1 hour" }, forgotPassword: { limit: 1, window: "1 hour" } },
        addresses: { forgotPassword: { limit: 1, window: "1 hour" } },
        accounts: { freeAttempts: 1, baseDelay: "1 hour" }
      })
      yield* throttle.login("first@camelot.bt", "10.0.0.1")
      assert.strictEqual((yield* Effect.flip(throttle.login("second@camelot.bt", "10.0.0.1"))).scope, "client")
      // Had the refused request counted, this account would now wait an hour.
      yield* throttle.login("second@camelot.bt", "10.0.0.2")
      yield* throttle.route("forgotPassword", "10.0.0.1", "first@camelot.bt")
      assert.strictEqual(
        (yield* Effect.flip(throttle.route("forgotPassword", "10.0.0.1", "second@camelot.bt"))).scope,
        "client"
      )
      yield* throttle.route("forgotPassword", "10.0.0.2", "second@camelot.bt")
    }).pipe(Effect.provide([Throttle.layerRateLimiterStoreMemory, Throttle.layerAccountStoreMemory]))
  )

  it.effect("devices: false: a device token changes nothing, its holder counts under the account like anyone", () =>
    Effect.gen(function* () {
      const throttle = yield* Throttle.make({ accounts: { freeAttempts: 1, baseDelay: "1 hour" }, devices: false })
      yield* Effect.flatMap(throttle.login("kay@camelot.bt", "10.0.0.1", "stranger-device"), (a) => a.failed)
      const refused = yield* Effect.flip(throttle.login("kay@camelot.bt", "10.0.0.2", "owner-device"))
      assert.strictEqual(refused.scope, "account")
      // Without any count at all (accounts: false too), nothing is refused, with a device token or without.
      const none = yield* Throttle.make({ accounts: false, devices: false })
      for (let i = 0; i < 20; i++) {
        yield* Effect.flatMap(none.login("kay@camelot.bt", "10.0.0.1", i % 2 ? "device" : undefined), (a) => a.failed)
      }
    }).pipe(Effect.provide([Throttle.layerRateLimiterStoreMemory, Throttle.layerAccountStoreMemory]))
  )

  it.effect("refused by the client limit and the account at once: a 429 for the client, never a defect", () =>
    Effect.gen(function* () {
      const throttle = yield* Throttle.make({
        clients: { login: { limit: 1, window: "1 hour" } },
        accounts: { freeAttempts: 1, baseDelay: "1 hour" }
      })
      yield* Effect.flatMap(throttle.login("bors@camelot.bt", "10.0.0.1"), (a) => a.failed)
      assert.strictEqual((yield* Effect.flip(throttle.login("bors@camelot.bt", "10.0.0.1"))).scope, "client")
    }).pipe(Effect.provide([Throttle.layerRateLimiterStoreMemory, Throttle.layerAccountStoreMemory]))
  )

  it.effect("layerDisabled never refuses", () =>
    Effect.gen(function* () {
      const throttle = yield* Throttle.Throttle
      for (let i = 0; i < 500; i++) yield* throttle.login("a@b.cd", "10.0.0.1")
    }).pipe(Effect.provide(Throttle.layerDisabled))
  )
})

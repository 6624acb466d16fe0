/**
 * `AuthEvents` below HTTP, on memory storage: every sink merged in gets every event, a full queue (a sink that
 * never finishes) drops and counts events but never holds up a login, and the events only core code can cause here
 * (refresh rotation and reuse, an unverified login refused by `Login`) are emitted by it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import {
  AccessTokenStore,
  AuthEvents,
  AuthStrategy,
  Login,
  RefreshTokenStore,
  RefreshTokens,
  Sessions,
  UserManager,
  UserRepository
} from "effect-users"
import { eventually } from "./utils/Eventually.js"
import { loggedInOnly } from "./utils/LoggedIn.js"
import { recording } from "./utils/RecordingSink.js"
import { freshEmail, harness } from "./utils/TestUsers.js"

const secret = Redacted.make("events-secret-events-secret-events-secre")
const password = Redacted.make("correct horse battery")

/** A manager and a login over a JWT backend with refresh tokens, built with the emitter in context. */
const setup = (options: { readonly requiresVerification?: boolean } = {}) =>
  Effect.gen(function* () {
    const { sessions, users } = yield* harness().pipe(
      Effect.provideService(UserRepository.UserRepository, UserRepository.makeMemory())
    )
    const families = RefreshTokenStore.makeMemory()
    const tokens = AccessTokenStore.makeMemory()
    const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(
        Effect.provideService(Sessions.Sessions, sessions),
        Effect.provideService(UserManager.UserManager, users),
        Effect.provideService(RefreshTokenStore.RefreshTokenStore, families),
        Effect.provideService(AccessTokenStore.AccessTokenStore, tokens)
      )
    const jwt = yield* provide(AuthStrategy.jwt({ secret }))
    const family = Option.getOrThrow(RefreshTokens.familyStrategy(jwt))
    const refresh = yield* provide(RefreshTokens.make({ name: "mobile", strategy: family }, { graceWindow: 0 }))
    const login = yield* provide(
      Login.make({
        backends: [{ name: "mobile", strategy: RefreshTokens.withRefresh(family, refresh), refresh }],
        requiresVerification: options.requiresVerification
      })
    ).pipe(Effect.map(loggedInOnly))
    const user = yield* users.create({ email: freshEmail("events"), password })
    return { login, user, users }
  })

describe("AuthEvents", () => {
  it.live("every sink merged under AuthEvents.layer gets every event, in batches", () =>
    Effect.gen(function* () {
      const a = recording("a")
      const b = recording("b")
      const sinks = Layer.mergeAll(AuthEvents.layerSink(a.sink), AuthEvents.layerSink(b.sink)).pipe(
        Layer.provideMerge(AuthEvents.layer())
      )
      yield* Effect.gen(function* () {
        const { login, user } = yield* setup()
        yield* login.start({ user, backend: "mobile", method: "password" })
        yield* eventually(
          Effect.suspend(() => (a.events.length === 2 && b.events.length === 2 ? Effect.void : Effect.fail("waiting")))
        )
      }).pipe(Effect.scoped, Effect.provide(sinks))
      assert.deepStrictEqual(
        a.events.map((event) => event._tag),
        ["Registered", "LoginSucceeded"]
      )
      assert.deepStrictEqual(b.events, a.events)
    })
  )

  it.live("a full queue drops and counts events, and never holds up a login", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const events = yield* AuthEvents.make({ capacity: 2, batchSize: 1 })
        let writes = 0
        yield* events.register({
          name: "stuck",
          write: () =>
            Effect.zipRight(
              Effect.sync(() => writes++),
              Effect.never
            )
        })
        const { login, user } = yield* setup().pipe(Effect.provideService(AuthEvents.AuthEvents, events))
        // The sink took the first event and never returns; the queue then holds two; the rest are dropped.
        for (let i = 0; i < 20; i++) {
          const outcome = yield* login.start({ user, backend: "mobile", method: "password" })
          assert.strictEqual(outcome._tag, "LoggedIn")
        }
        yield* eventually(Effect.suspend(() => (writes === 1 ? Effect.void : Effect.fail("waiting"))))
        assert.isAtLeast(yield* events.dropped, 18)
      })
    )
  )

  it.live("a sink's failed write (a database's short outage) is retried: the batch is written once it is back", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const events = yield* AuthEvents.make()
        const written: Array<AuthEvents.AuthEvent> = []
        let failures = 2
        yield* events.register({
          name: "flaky",
          // The SQL audit log dies on an outage (`SqlUnavailable.orDie`), a plain sink fails: one of each.
          write: (batch) =>
            Effect.suspend(() =>
              failures === 2
                ? Effect.sync(() => failures--).pipe(Effect.zipRight(Effect.die(new Error("storage unavailable"))))
                : failures === 1
                  ? Effect.sync(() => failures--).pipe(Effect.zipRight(Effect.fail("storage unavailable")))
                  : Effect.sync(() => written.push(...batch))
            )
        })
        const { login, user } = yield* setup().pipe(Effect.provideService(AuthEvents.AuthEvents, events))
        yield* login.start({ user, backend: "mobile", method: "password" })
        yield* eventually(
          Effect.suspend(() =>
            written.some((event) => event._tag === "LoginSucceeded") ? Effect.void : Effect.fail("waiting")
          )
        )
        assert.deepStrictEqual(
          written.map((event) => event._tag),
          ["Registered", "LoginSucceeded"]
        )
      })
    )
  )

  it.live("refresh: RefreshRotated with the family; a spent token's reuse: RefreshReuseDetected", () =>
    Effect.gen(function* () {
      const log = recording("log")
      yield* Effect.gen(function* () {
        const { login, user } = yield* setup()
        const outcome = yield* login.start({ user, backend: "mobile", method: "password" })
        const first = Option.getOrThrow(outcome.tokens.refreshToken)
        yield* login.refresh("mobile", first)
        const reuse = yield* Effect.flip(login.refresh("mobile", first))
        assert.strictEqual(reuse._tag, "RefreshTokenReused")
        yield* eventually(
          Effect.suspend(() =>
            log.events.some((event) => event._tag === "RefreshReuseDetected") ? Effect.void : Effect.fail("waiting")
          )
        )
        const started = log.events.find((event) => event._tag === "LoginSucceeded")!
        const rotated = log.events.find((event) => event._tag === "RefreshRotated")!
        const reused = log.events.find((event) => event._tag === "RefreshReuseDetected")!
        assert.isDefined(started.sessionId)
        assert.deepStrictEqual(
          [rotated.sessionId, rotated.userId, rotated.backend, rotated.method],
          [started.sessionId, String(user.id), "mobile", "password"]
        )
        assert.strictEqual(reused.sessionId, started.sessionId)
      }).pipe(
        Effect.scoped,
        Effect.provide(AuthEvents.layerSink(log.sink).pipe(Layer.provideMerge(AuthEvents.layer())))
      )
    })
  )

  it.live("Login refuses an unverified user where verification is required: LoginFailed unverified", () =>
    Effect.gen(function* () {
      const log = recording("log")
      yield* Effect.gen(function* () {
        const { login, user } = yield* setup({ requiresVerification: true })
        yield* Effect.flip(login.start({ user, backend: "mobile", method: "password" }))
        yield* eventually(
          Effect.suspend(() =>
            log.events.some((event) => event._tag === "LoginFailed") ? Effect.void : Effect.fail("waiting")
          )
        )
        const failed = log.events.find((event) => event._tag === "LoginFailed")!
        assert.deepStrictEqual(
          [failed.reason, failed.userId, failed.email],
          ["unverified", String(user.id), user.email]
        )
      }).pipe(
        Effect.scoped,
        Effect.provide(AuthEvents.layerSink(log.sink).pipe(Layer.provideMerge(AuthEvents.layer())))
      )
    })
  )

  it.live("without AuthEvents.layer nothing is emitted and the event is never built", () =>
    Effect.gen(function* () {
      const events = yield* AuthEvents.AuthEvents
      let built = false
      yield* events.emit((common) => {
        built = true
        return new AuthEvents.Registered(common)
      })
      assert.isFalse(built)
    })
  )
})

/**
 * `Sessions` below HTTP, on memory storage: the one lookup every token check makes, and the two moves of a user's
 * session state (the epoch, the JWT deny-list marker).
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { Sessions, UserRepository } from "effect-users"
import { freshEmail, harness } from "./utils/TestUsers.js"
import { recordingTracer } from "./utils/Tracing.js"

layer(UserRepository.layerMemory)("Sessions", (it) => {
  it.effect("lookup finds the user with their session state; None for an ID that does not parse or a user gone", () =>
    Effect.gen(function* () {
      const { sessions, users } = yield* harness()
      const user = yield* users.create({ email: freshEmail("sessions"), password: Redacted.make("correct horse") })
      const found = Option.getOrThrow(yield* sessions.lookup(String(user.id)))
      assert.deepStrictEqual([found.user.id, found.sessionEpoch, found.revokedUntil], [user.id, 0, 0])
      // A token's subject is input: one that does not parse is no user, never a failure or a defect.
      assert.isTrue(Option.isNone(yield* sessions.lookup("not-an-id")))
      assert.isTrue(Option.isNone(yield* sessions.lookup(crypto.randomUUID())))
      yield* users.delete(user)
      assert.isTrue(Option.isNone(yield* sessions.lookup(String(user.id))))
    })
  )

  it.effect("endAll moves the epoch by one; denyUntil raises the deny-list marker and never lowers it", () =>
    Effect.gen(function* () {
      const { sessions, users } = yield* harness()
      const user = yield* users.create({ email: freshEmail("sessions"), password: Redacted.make("correct horse") })
      const state = Effect.map(sessions.lookup(String(user.id)), Option.getOrThrow)
      yield* sessions.endAll(user)
      yield* sessions.endAll(user)
      assert.strictEqual((yield* state).sessionEpoch, 2)
      yield* sessions.denyUntil(user, 2_000_000_000_000)
      yield* sessions.denyUntil(user, 1_000_000_000_000)
      assert.strictEqual((yield* state).revokedUntil, 2_000_000_000_000)
    })
  )

  it.effect("ending every session of a user is a span of its own: Sessions.endAll", () =>
    Effect.gen(function* () {
      const { sessions, users } = yield* harness()
      const user = yield* users.create({ email: freshEmail("sessions"), password: Redacted.make("correct horse") })
      const { recorded, tracer } = recordingTracer()
      yield* sessions.endAll(user).pipe(Effect.withTracer(tracer))
      assert.include(
        recorded.flatMap((entry) => ("name" in entry ? [entry.name] : [])),
        "Sessions.endAll"
      )
    })
  )

  it.effect(
    "isRecentSignIn: a password, provider or passkey login within the window, its end included; never a refresh",
    () =>
      Effect.sync(() => {
        const now = 1_700_000_000_000
        const window = 300_000
        const recent = (method: string, at: number) => Sessions.isRecentSignIn({ method, at }, now, window)
        assert.isTrue(recent("password", now))
        assert.isTrue(recent("password", now - window))
        assert.isTrue(recent("oauth:google", now - 1))
        assert.isTrue(recent("passkey", now - 1))
        assert.isFalse(recent("passkey", now - window - 1))
        assert.isFalse(recent("password", now - window - 1))
        assert.isFalse(recent("password", now + 1))
        assert.isFalse(recent("refresh", now))
        assert.isFalse(recent("oauth", now))
      })
  )
})

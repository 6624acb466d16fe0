/**
 * The strategies' session rules below HTTP, on memory storage and the TestClock: the login/reset race, the
 * idle timeout and its at-most-once-a-minute write, the JWT claims, and a deny-list asked only when needed.
 */
import { assert, layer } from "@effect/vitest"
import { assertSome } from "@effect/vitest/utils"
import { Clock, Deferred, Effect, Either, Fiber, Layer, Option, Redacted, TestClock } from "effect"
import {
  AccessTokenStore,
  AuthStrategy,
  Login,
  PasswordHasher,
  Sessions,
  UserManager,
  UserRepository
} from "effect-users"
import { payloadOf, signJwt } from "./utils/Jwt.js"
import { loggedInOnly } from "./utils/LoggedIn.js"
import { freshEmail, makeFakeHasher, recordingHooks, testConfig } from "./utils/TestUsers.js"

const secret = Redacted.make("strategy-secret-strategy-secret-strategy")
const loginPassword = "correct-horse-battery"

/** A store that counts the calls the rules must keep rare. */
const countingStore = () => {
  const inner = AccessTokenStore.makeMemory()
  const counts = { touch: 0, readJti: 0, read: 0 }
  const service: AccessTokenStore.AccessTokenStoreService = {
    ...inner,
    read: (digest) =>
      Effect.suspend(() => {
        counts.read++
        return inner.read(digest)
      }),
    touch: (digest, at) =>
      Effect.suspend(() => {
        counts.touch++
        return inner.touch(digest, at)
      }),
    readJti: (jti) =>
      Effect.suspend(() => {
        counts.readJti++
        return inner.readJti(jti)
      })
  }
  return { counts, service }
}

/** A fake hasher whose check of the login password waits at a gate once armed (to stage the race). */
const gatedHasher = () => {
  const fake = makeFakeHasher().service
  let gate: { entered: Deferred.Deferred<void>; release: Deferred.Deferred<void> } | undefined
  const service: PasswordHasher.PasswordHasherService = {
    ...fake,
    verify: (password, hash) =>
      Effect.suspend(() => {
        const held = gate
        if (held === undefined || Redacted.value(password) !== loginPassword) return fake.verify(password, hash)
        gate = undefined
        return Deferred.succeed(held.entered, undefined).pipe(
          Effect.zipRight(Deferred.await(held.release)),
          Effect.zipRight(fake.verify(password, hash))
        )
      })
  }
  const arm = Effect.map(Effect.all([Deferred.make<void>(), Deferred.make<void>()]), ([entered, release]) => {
    gate = { entered, release }
    return { entered, release }
  })
  return { service, arm }
}

const store = countingStore()
const hasher = gatedHasher()
const hooks = recordingHooks()
const Test = UserManager.layer.pipe(
  Layer.provide([testConfig(), hooks.layer, PasswordHasher.layer(hasher.service)]),
  Layer.provideMerge(UserRepository.layerMemory),
  Layer.merge(Layer.succeed(AccessTokenStore.AccessTokenStore, store.service))
)

const newUser = Effect.flatMap(UserManager.UserManager, (users) =>
  Effect.orDie(users.create({ email: freshEmail("strategy"), password: Redacted.make(loginPassword) }))
)

layer(Test)("strategies", (it) => {
  for (const [name, build] of [
    ["JWT", AuthStrategy.jwt({ secret })],
    ["database", AuthStrategy.database()]
  ] as const) {
    it.effect(`${name}: a login whose password check a reset overtakes yields no live session`, () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const strategy = yield* Effect.orDie(build)
        const sessions = loggedInOnly(yield* Login.make({ backends: [{ name, strategy }] }))
        const login = (email: string) =>
          users.authenticate({ username: email, password: Redacted.make(loginPassword) }).pipe(
            Effect.flatMap((user) => sessions.start({ user, backend: name, method: "password" })),
            Effect.map((outcome) => outcome.tokens.accessToken)
          )
        // Without the reset, the same staged login works: the test below is not vacuous.
        const control = yield* newUser
        const calm = yield* hasher.arm
        const calmLogin = yield* Effect.fork(login(control.email))
        yield* Deferred.await(calm.entered)
        yield* Deferred.succeed(calm.release, undefined)
        assert.isTrue(Option.isSome(yield* strategy.read(yield* Fiber.join(calmLogin))))

        const user = yield* newUser
        const before = hooks.named("onAfterForgotPassword").length
        yield* users.forgotPassword(user)
        const resetToken = hooks.named("onAfterForgotPassword")[before]!.args[1] as string
        const gate = yield* hasher.arm
        const racing = yield* Effect.fork(login(user.email))
        yield* Deferred.await(gate.entered)
        yield* users.resetPassword(resetToken, Redacted.make("a-new-password-after-reset"))
        yield* Deferred.succeed(gate.release, undefined)
        // Refused (the password changed after it was checked), or a session already dead: never a live one.
        const token = yield* Effect.either(Fiber.join(racing))
        if (Either.isLeft(token)) assert.strictEqual(token.left._tag, "InvalidCredentials")
        const live = Either.isRight(token) && Option.isSome(yield* strategy.read(token.right))
        assert.isFalse(live, "the session outlived the reset")
      })
    )
  }

  it.effect("database: an idle timeout ends a session not used for idleLifetime; use is written once a minute", () =>
    Effect.gen(function* () {
      const strategy = yield* AuthStrategy.database({ lifetime: "2 hours", idleLifetime: "10 minutes" })
      const user = yield* newUser
      const token = yield* strategy.write(user)
      const touches = store.counts.touch
      for (let i = 0; i < 5; i++) assert.isTrue(Option.isSome(yield* strategy.read(token)))
      assert.strictEqual(store.counts.touch, touches, "no write within the first minute")
      yield* TestClock.adjust("9 minutes")
      for (let i = 0; i < 5; i++) assert.isTrue(Option.isSome(yield* strategy.read(token)))
      assert.strictEqual(store.counts.touch, touches + 1, "one write for five reads")
      yield* TestClock.adjust("9 minutes")
      assert.isTrue(Option.isSome(yield* strategy.read(token)), "used 9 minutes ago")
      yield* TestClock.adjust("11 minutes")
      assert.isTrue(Option.isNone(yield* strategy.read(token)), "idle 11 minutes")
      // The absolute lifetime still holds for a busy session.
      const busy = yield* strategy.write(user)
      for (let minutes = 0; minutes < 120; minutes += 5) {
        yield* TestClock.adjust("5 minutes")
        yield* strategy.read(busy)
      }
      assert.isTrue(Option.isNone(yield* strategy.read(busy)), "older than its lifetime")
    })
  )

  it.effect("signInOf: how and when the session was opened; None when the session does not say both", () =>
    Effect.gen(function* () {
      const user = yield* newUser
      const database = yield* AuthStrategy.database()
      const jwt = yield* AuthStrategy.jwt({ secret })
      const now = yield* Clock.currentTimeMillis
      const opened = { backend: "b", method: "password", signedInAt: now } as const
      for (const strategy of [database, jwt]) {
        const signIn = yield* strategy.signInOf!(yield* strategy.write(user, opened))
        assert.deepStrictEqual(signIn, Option.some({ method: "password", at: now }))
        // A session opened without a method (a token from before 0.2.0) proves no sign-in: never a defect.
        assert.isTrue(Option.isNone(yield* strategy.signInOf!(yield* strategy.write(user, { backend: "b" }))))
      }
      // A JWT carrying one of the two claims only (signed by whoever holds the key) is no sign-in either.
      const claims = payloadOf(yield* jwt.write(user, opened))
      const { auth_time, mth, ...rest } = claims
      for (const partial of [
        { ...rest, auth_time },
        { ...rest, mth },
        { ...rest, mth: 1, auth_time }
      ]) {
        const token = signJwt(partial, Redacted.value(secret))
        assert.isTrue(Option.isSome(yield* jwt.read(token)), "the token itself is valid")
        assert.isTrue(Option.isNone(yield* jwt.signInOf!(token)), JSON.stringify(partial))
      }
    })
  )

  it.effect("JWT: iat, a random jti and the epoch (sep) in every token", () =>
    Effect.gen(function* () {
      const strategy = yield* AuthStrategy.jwt({ secret })
      const user = yield* newUser
      const [first, second] = [payloadOf(yield* strategy.write(user)), payloadOf(yield* strategy.write(user))]
      assert.strictEqual(typeof first.iat, "number")
      assert.isAtLeast(String(first.jti).length, 21)
      assert.notStrictEqual(first.jti, second.jti)
      assert.strictEqual(first.sep, 0)
      yield* Effect.flatMap(Sessions.Sessions, (sessions) => sessions.endAll(user))
      assert.strictEqual(payloadOf(yield* strategy.write(user)).sep, 1)
    })
  )

  it.effect("JWT: the deny-list is asked only while a denied token of that user may still be alive", () =>
    Effect.gen(function* () {
      const strategy = yield* AuthStrategy.jwt({ secret, lifetime: "15 minutes" })
      const user = yield* newUser
      const [kept, dropped] = [yield* strategy.write(user), yield* strategy.write(user)]
      const asked = store.counts.readJti
      for (let i = 0; i < 3; i++) assert.isTrue(Option.isSome(yield* strategy.read(kept)))
      assert.strictEqual(store.counts.readJti, asked, "no denied token: no lookup")
      yield* strategy.destroy(dropped, user)
      assert.isTrue(Option.isNone(yield* strategy.read(dropped)))
      assert.isTrue(Option.isSome(yield* strategy.read(kept)))
      assert.strictEqual(store.counts.readJti, asked + 2)
      yield* TestClock.adjust("16 minutes")
      const fresh = yield* strategy.write(user)
      assert.isTrue(Option.isSome(yield* strategy.read(fresh)))
      assert.strictEqual(store.counts.readJti, asked + 2, "the denied token expired: no lookup again")
    })
  )

  it.effect(
    "JWT: a family's end denies its tokens at once; only its user's checks ask, and only until they expired",
    () =>
      Effect.gen(function* () {
        const strategy = yield* AuthStrategy.jwt({ secret, lifetime: "15 minutes" })
        const [user, bystander] = [yield* newUser, yield* newUser]
        const [ended, sibling, otherFamily] = [
          yield* strategy.write(user, { family: "family-one" }),
          yield* strategy.write(user, { family: "family-one" }),
          yield* strategy.write(user, { family: "family-two" })
        ]
        const theirs = yield* strategy.write(bystander, { family: "family-one" })
        const before = { ...store.counts }
        for (const token of [ended, sibling, otherFamily, theirs])
          assert.isTrue(Option.isSome(yield* strategy.read(token)))
        assert.deepStrictEqual(store.counts, before, "no recent event: no store read beyond the user's row")
        yield* strategy.endFamily!("family-one", user)
        assert.isTrue(Option.isNone(yield* strategy.read(ended)))
        assert.isTrue(Option.isNone(yield* strategy.read(sibling)))
        assert.isTrue(Option.isSome(yield* strategy.read(otherFamily)))
        assert.strictEqual(store.counts.readJti, before.readJti + 6, "the token's record and its family's, per check")
        // Another user's token naming the same family ID: their row says nothing, so nothing is asked.
        assert.isTrue(Option.isSome(yield* strategy.read(theirs)))
        assert.strictEqual(store.counts.readJti, before.readJti + 6)
        yield* TestClock.adjust("17 minutes")
        const fresh = yield* strategy.write(user, { family: "family-two" })
        assert.isTrue(Option.isSome(yield* strategy.read(fresh)))
        assert.strictEqual(store.counts.readJti, before.readJti + 6, "the family's tokens expired: no lookup again")
        assert.strictEqual(store.counts.read, before.read)
      })
  )

  it.effect("database: a family's end deletes its tokens; a check reads the token row only, as before", () =>
    Effect.gen(function* () {
      const strategy = yield* AuthStrategy.database()
      const user = yield* newUser
      const [ended, sibling, otherFamily] = [
        yield* strategy.write(user, { family: "family-one" }),
        yield* strategy.write(user, { family: "family-one" }),
        yield* strategy.write(user, { family: "family-two" })
      ]
      assertSome(yield* strategy.familyOf!(ended), "family-one")
      const before = { ...store.counts }
      assert.isTrue(Option.isSome(yield* strategy.read(ended)))
      assert.deepStrictEqual(store.counts, { ...before, read: before.read + 1 })
      yield* strategy.endFamily!("family-one", user)
      assert.isTrue(Option.isNone(yield* strategy.read(ended)))
      assert.isTrue(Option.isNone(yield* strategy.read(sibling)))
      assert.isTrue(Option.isSome(yield* strategy.read(otherFamily)))
    })
  )
})

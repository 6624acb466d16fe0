/**
 * The refresh-token rules on the memory store, under TestClock: rotation, reuse detection, the absolute and
 * idle lifetimes, the session epoch, the purge; the same rules run over HTTP on SQL in HttpRefresh.test.ts.
 */

import { createHash, randomBytes } from "node:crypto"
import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Layer, Option, TestClock } from "effect"
import {
  AccessTokenStore,
  AuthStrategy,
  RefreshTokenStore,
  RefreshTokens,
  Sessions,
  type User,
  UserManager,
  UserRepository
} from "effect-users"
import { AuthBackend, UsersApi } from "effect-users/http"
import { testConfig } from "./utils/TestUsers.js"

const alice = {
  id: "alice",
  email: "alice@camelot.bt",
  hashedPassword: "x",
  isActive: true,
  isSuperuser: false,
  isVerified: true
} as User.BaseUser

/** A backend's refresh tokens over a fresh memory store, with Alice at an epoch the test moves. */
const setupWith = (
  options: RefreshTokens.RefreshOptions,
  wrap: (store: RefreshTokenStore.RefreshTokenStoreService) => RefreshTokenStore.RefreshTokenStoreService = (store) =>
    store,
  backend = "jwt"
) =>
  Effect.gen(function* () {
    const state = { epoch: 0, active: true, exists: true }
    const endedFamilies: Array<string> = []
    const issued: Array<{
      readonly familyId: string
      readonly epoch: number
      readonly userAgent?: string | undefined
    }> = []
    const store = wrap(RefreshTokenStore.makeMemory())
    const strategy: RefreshTokens.FamilyStrategy = {
      read: () => Effect.succeedNone,
      write: (_user, session) =>
        Effect.sync(() => {
          issued.push({ familyId: session!.family!, epoch: session!.epoch!, userAgent: session?.userAgent })
          return `access-${issued.length}`
        }),
      destroy: () => Effect.void,
      familyOf: () => Effect.succeedNone,
      endFamily: (family) => Effect.sync(() => void endedFamilies.push(family))
    }
    const sessions = Sessions.Sessions.of({
      lookup: () =>
        Effect.succeed(
          state.exists
            ? Option.some({
                user: { ...alice, isActive: state.active } as User.User,
                sessionEpoch: state.epoch,
                revokedUntil: 0
              })
            : Option.none()
        ),
      endAll: () => Effect.void,
      endAllBut: () => Effect.void,
      denyUntil: () => Effect.void
    })
    const refresh = yield* RefreshTokens.make(
      { name: backend, strategy },
      { lifetime: "1 day", idleLifetime: "1 hour", purgeInterval: "10 minutes", ...options }
    ).pipe(
      Effect.provideService(RefreshTokenStore.RefreshTokenStore, store),
      Effect.provideService(Sessions.Sessions, sessions)
    )
    return { endedFamilies, refresh, state, issued, store }
  })
const setup = setupWith({})

/** Holds the store's first `n` finds until all `n` have read: concurrent refreshes all see the token unspent. */
const readBarrier = (n: number) =>
  Effect.map(Deferred.make<void>(), (allRead) => {
    let reads = 0
    return (inner: RefreshTokenStore.RefreshTokenStoreService): RefreshTokenStore.RefreshTokenStoreService => ({
      ...inner,
      find: (digest) =>
        Effect.tap(inner.find(digest), () =>
          ++reads > n ? Effect.void : reads === n ? Deferred.succeed(allRead, undefined) : Deferred.await(allRead)
        )
    })
  })

const failure = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.match(exit, {
      onSuccess: () => "success",
      onFailure: (cause) => (cause._tag === "Fail" ? cause.error._tag : "defect")
    })
  )

describe("RefreshTokens", () => {
  it.scoped("expired families are purged every purgeInterval while the scope is open", () =>
    Effect.gen(function* () {
      const { refresh, store } = yield* setup
      yield* refresh.login(alice, { epoch: 0 })
      yield* TestClock.adjust("55 minutes")
      const live = yield* refresh.login(alice, { epoch: 0 })
      assert.strictEqual((yield* store.listOf("alice")).length, 2)
      yield* TestClock.adjust("15 minutes")
      assert.strictEqual((yield* store.listOf("alice")).length, 1)
      assert.strictEqual(yield* failure(refresh.refresh(live.refreshToken)), "success")
    })
  )

  it.scoped("login issues a 43-character token and an access token of a new family at the login's epoch", () =>
    Effect.gen(function* () {
      const { issued, refresh, store } = yield* setup
      const pair = yield* refresh.login(alice, { epoch: 0, userAgent: "x".repeat(600) })
      assert.match(pair.refreshToken, /^[A-Za-z0-9_-]{43}$/)
      assert.strictEqual(pair.accessToken, "access-1")
      const [family] = yield* store.listOf("alice")
      assert.strictEqual(family!.backend, "jwt")
      assert.strictEqual(family!.userAgent!.length, 512)
      assert.deepStrictEqual(issued, [{ epoch: 0, familyId: family!.id, userAgent: family!.userAgent }])
    })
  )

  it.scoped("refresh rotates: a new pair of the same family; the old token is spent", () =>
    Effect.gen(function* () {
      const { issued, refresh } = yield* setup
      const first = yield* refresh.login(alice, { epoch: 0 })
      const second = yield* refresh.refresh(first.refreshToken)
      assert.notStrictEqual(second.refreshToken, first.refreshToken)
      assert.strictEqual(issued[1]!.familyId, issued[0]!.familyId)
      const third = yield* refresh.refresh(second.refreshToken)
      assert.notStrictEqual(third.refreshToken, second.refreshToken)
    })
  )

  it.scoped("a spent token is reuse: the whole family ends, the newest token and its access tokens too", () =>
    Effect.gen(function* () {
      const { endedFamilies, refresh, store } = yield* setupWith({ graceWindow: 0 })
      const first = yield* refresh.login(alice, { epoch: 0 })
      const other = yield* refresh.login(alice, { epoch: 0 })
      const [family] = yield* store.listOf("alice")
      const second = yield* refresh.refresh(first.refreshToken)
      assert.deepStrictEqual(endedFamilies, [])
      assert.strictEqual(yield* failure(refresh.refresh(first.refreshToken)), "RefreshTokenReused")
      assert.deepStrictEqual(endedFamilies, [family!.id])
      assert.strictEqual(yield* failure(refresh.refresh(second.refreshToken)), "RefreshTokenInvalid")
      assert.strictEqual((yield* store.listOf("alice")).length, 1)
      assert.strictEqual(yield* failure(refresh.refresh(other.refreshToken)), "success")
    })
  )

  it.scoped("end ends the user's family and its access tokens; someone else's family ID ends nothing", () =>
    Effect.gen(function* () {
      const { endedFamilies, refresh, store } = yield* setup
      yield* refresh.login(alice, { epoch: 0 })
      const [family] = yield* store.listOf("alice")
      assert.isFalse(yield* refresh.end(family!.id, { ...alice, id: "mallory" } as User.BaseUser))
      assert.deepStrictEqual(endedFamilies, [])
      assert.isTrue(yield* refresh.end(family!.id, alice))
      assert.deepStrictEqual(endedFamilies, [family!.id])
      assert.deepStrictEqual(yield* store.listOf("alice"), [])
    })
  )

  it.scoped(
    "a retry of the token just rotated, within the grace window, gets the same successor; the family lives",
    () =>
      Effect.gen(function* () {
        const { endedFamilies, issued, refresh } = yield* setupWith({ graceWindow: "10 seconds" })
        const first = yield* refresh.login(alice, { epoch: 0 })
        const second = yield* refresh.refresh(first.refreshToken)
        yield* TestClock.adjust("9 seconds")
        const retried = yield* refresh.refresh(first.refreshToken)
        assert.strictEqual(retried.refreshToken, second.refreshToken)
        // A new access token of the same family.
        assert.strictEqual(issued.length, 3)
        assert.strictEqual(issued[2]!.familyId, issued[0]!.familyId)
        assert.deepStrictEqual(endedFamilies, [])
        const third = yield* refresh.refresh(second.refreshToken)
        assert.notStrictEqual(third.refreshToken, second.refreshToken)
      })
  )

  it.scoped("a retry after the grace window is reuse: the family ends", () =>
    Effect.gen(function* () {
      const { endedFamilies, refresh } = yield* setupWith({ graceWindow: "10 seconds" })
      const first = yield* refresh.login(alice, { epoch: 0 })
      const second = yield* refresh.refresh(first.refreshToken)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* failure(refresh.refresh(first.refreshToken)), "RefreshTokenReused")
      assert.strictEqual(endedFamilies.length, 1)
      assert.strictEqual(yield* failure(refresh.refresh(second.refreshToken)), "RefreshTokenInvalid")
    })
  )

  it.scoped("a grace window of 0 turns it off: a retry at once is reuse", () =>
    Effect.gen(function* () {
      const { endedFamilies, refresh } = yield* setupWith({ graceWindow: 0 })
      const first = yield* refresh.login(alice, { epoch: 0 })
      const second = yield* refresh.refresh(first.refreshToken)
      assert.strictEqual(yield* failure(refresh.refresh(first.refreshToken)), "RefreshTokenReused")
      assert.strictEqual(endedFamilies.length, 1)
      assert.strictEqual(yield* failure(refresh.refresh(second.refreshToken)), "RefreshTokenInvalid")
    })
  )

  it.scoped("only the token just rotated: an older one, even within the window, is reuse", () =>
    Effect.gen(function* () {
      const { endedFamilies, refresh } = yield* setupWith({ graceWindow: "10 seconds" })
      const first = yield* refresh.login(alice, { epoch: 0 })
      const second = yield* refresh.refresh(first.refreshToken)
      const third = yield* refresh.refresh(second.refreshToken)
      assert.strictEqual(yield* failure(refresh.refresh(first.refreshToken)), "RefreshTokenReused")
      assert.strictEqual(endedFamilies.length, 1)
      assert.strictEqual(yield* failure(refresh.refresh(third.refreshToken)), "RefreshTokenInvalid")
    })
  )

  it.scoped("a retry within the window still obeys the epoch: a moved epoch ends the family", () =>
    Effect.gen(function* () {
      const { refresh, state, store } = yield* setupWith({ graceWindow: "10 seconds" })
      const first = yield* refresh.login(alice, { epoch: 0 })
      yield* refresh.refresh(first.refreshToken)
      state.epoch = 1
      assert.strictEqual(yield* failure(refresh.refresh(first.refreshToken)), "RefreshTokenInvalid")
      assert.deepStrictEqual(yield* store.listOf("alice"), [])
    })
  )

  it.scoped(
    "the kept successor is sealed (neither it nor its digest is in the store) and purged after its window",
    () =>
      Effect.gen(function* () {
        const { refresh, store } = yield* setupWith({ graceWindow: "10 seconds" })
        const first = yield* refresh.login(alice, { epoch: 0 })
        const second = yield* refresh.refresh(first.refreshToken)
        const digestOf = (token: string) => createHash("sha256").update(token).digest("base64url")
        const found = Option.getOrThrow(yield* store.find(digestOf(first.refreshToken)))
        const sealed = Option.getOrThrow(found.successor)
        assert.notInclude(sealed, second.refreshToken)
        assert.notInclude(sealed, digestOf(second.refreshToken))
        assert.isAtMost(sealed.length, 128)
        // Kept no longer than its window and one purge interval (10 minutes here).
        yield* TestClock.adjust("10 minutes")
        assert.isTrue(Option.isNone(Option.getOrThrow(yield* store.find(digestOf(first.refreshToken))).successor))
      })
  )

  it.scoped("of 6 concurrent refreshes with one token within the grace window, all get the same successor", () =>
    Effect.gen(function* () {
      // Every refresh reads the token unspent before any rotates it: five lose the rotation itself.
      const { endedFamilies, refresh, store } = yield* setupWith({ graceWindow: "10 seconds" }, yield* readBarrier(6))
      const first = yield* refresh.login(alice, { epoch: 0 })
      const pairs = yield* Effect.all(
        Array.from({ length: 6 }, () => refresh.refresh(first.refreshToken)),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(new Set(pairs.map((pair) => pair.refreshToken)).size, 1)
      assert.deepStrictEqual(endedFamilies, [])
      assert.strictEqual((yield* store.listOf("alice")).length, 1)
      assert.strictEqual(yield* failure(refresh.refresh(pairs[0]!.refreshToken)), "success")
    })
  )

  it.scoped(
    "without a grace window, of 6 concurrent refreshes with one token one wins and the losers end the family",
    () =>
      Effect.gen(function* () {
        const { endedFamilies, refresh } = yield* setupWith({ graceWindow: 0 }, yield* readBarrier(6))
        const first = yield* refresh.login(alice, { epoch: 0 })
        const outcomes = yield* Effect.all(
          Array.from({ length: 6 }, () => failure(refresh.refresh(first.refreshToken))),
          { concurrency: "unbounded" }
        )
        // Each loser read the token before the family ended: reuse, even when another loser ended it first.
        assert.deepStrictEqual(outcomes.sort(), [...Array.from({ length: 5 }, () => "RefreshTokenReused"), "success"])
        assert.isAtLeast(endedFamilies.length, 1)
      })
  )

  it.scoped("the absolute lifetime counts from the login, however often the family is rotated", () =>
    Effect.gen(function* () {
      const { refresh, store } = yield* setup
      let token = (yield* refresh.login(alice, { epoch: 0 })).refreshToken
      for (let i = 0; i < 24; i++) {
        yield* TestClock.adjust("59 minutes")
        token = (yield* refresh.refresh(token)).refreshToken
      }
      yield* TestClock.adjust("59 minutes")
      assert.strictEqual(yield* failure(refresh.refresh(token)), "RefreshTokenInvalid")
      assert.deepStrictEqual(yield* store.listOf("alice"), [])
    })
  )

  it.scoped("the idle lifetime counts from the last refresh", () =>
    Effect.gen(function* () {
      const { refresh, store } = yield* setup
      const first = yield* refresh.login(alice, { epoch: 0 })
      yield* TestClock.adjust("59 minutes")
      const second = yield* refresh.refresh(first.refreshToken)
      yield* TestClock.adjust("60 minutes")
      assert.strictEqual(yield* failure(refresh.refresh(second.refreshToken)), "RefreshTokenInvalid")
      assert.deepStrictEqual(yield* store.listOf("alice"), [])
    })
  )

  it.scoped("a family of an older session epoch, of an inactive or of a deleted user fails and ends", () =>
    Effect.gen(function* () {
      const { refresh, state, store } = yield* setup
      const [a, b, c] = yield* Effect.all([1, 2, 3].map(() => refresh.login(alice, { epoch: 0 })))
      state.epoch = 1
      assert.strictEqual(yield* failure(refresh.refresh(a!.refreshToken)), "RefreshTokenInvalid")
      assert.strictEqual((yield* store.listOf("alice")).length, 2)
      state.epoch = 0
      state.active = false
      assert.strictEqual(yield* failure(refresh.refresh(b!.refreshToken)), "RefreshTokenInvalid")
      state.active = true
      state.exists = false
      assert.strictEqual(yield* failure(refresh.refresh(c!.refreshToken)), "RefreshTokenInvalid")
      assert.deepStrictEqual(yield* store.listOf("alice"), [])
    })
  )

  it.scoped("unknown and malformed tokens are RefreshTokenInvalid, never a defect", () =>
    Effect.gen(function* () {
      const { refresh } = yield* setup
      for (const token of ["", "short", "x".repeat(43), "é".repeat(43), `${"a".repeat(42)}=`, "a".repeat(5000)]) {
        assert.strictEqual(yield* failure(refresh.refresh(token)), "RefreshTokenInvalid")
      }
    })
  )

  it.scoped("a well-formed token the store does not know, or another backend's, is RefreshTokenInvalid", () =>
    Effect.gen(function* () {
      const jwt = yield* setup
      const cookie = yield* setupWith({}, () => jwt.store, "cookie")
      const unknown = randomBytes(32).toString("base64url")
      assert.strictEqual(yield* failure(jwt.refresh.refresh(unknown)), "RefreshTokenInvalid")
      const theirs = yield* cookie.refresh.login(alice, { epoch: 0 })
      assert.strictEqual(yield* failure(jwt.refresh.refresh(theirs.refreshToken)), "RefreshTokenInvalid")
      assert.deepStrictEqual(jwt.endedFamilies, [])
      assert.strictEqual(yield* failure(cookie.refresh.refresh(theirs.refreshToken)), "success")
    })
  )

  it.scoped("reuse after the user is gone still ends the family: RefreshTokenReused, never a defect", () =>
    Effect.gen(function* () {
      const { refresh, state, store } = yield* setupWith({ graceWindow: 0 })
      const first = yield* refresh.login(alice, { epoch: 0 })
      yield* refresh.refresh(first.refreshToken)
      state.exists = false
      assert.strictEqual(yield* failure(refresh.refresh(first.refreshToken)), "RefreshTokenReused")
      assert.deepStrictEqual(yield* store.listOf("alice"), [])
    })
  )

  it.scoped("purgeExpired ends the expired families in batches and keeps the live ones", () =>
    Effect.gen(function* () {
      const { refresh, store } = yield* setup
      yield* Effect.all(Array.from({ length: 5 }, () => refresh.login(alice, { epoch: 0 })))
      yield* TestClock.adjust("61 minutes")
      const live = yield* refresh.login(alice, { epoch: 0 })
      assert.strictEqual(yield* refresh.purgeExpired(2), 5)
      assert.strictEqual((yield* store.listOf("alice")).length, 1)
      assert.strictEqual(yield* failure(refresh.refresh(live.refreshToken)), "success")
    })
  )
})

it.effect("refresh tokens on a strategy whose tokens cannot name their family fail the layer, saying why", () =>
  Effect.gen(function* () {
    const unnamed = Effect.map(AuthStrategy.database(), ({ endFamily: _, familyOf: __, ...strategy }) => strategy)
    const Users = UsersApi.make({ backends: [AuthBackend.bearer("db", unnamed, { refresh: {} })] })
    class Api extends Users.addTo(HttpApi.make("refresh-database")) {}
    const built = HttpApiBuilder.api(Api).pipe(
      Layer.provide(Users.layer(Api)),
      Layer.provide([AccessTokenStore.layerMemory, RefreshTokenStore.layerMemory]),
      Layer.provide(UserManager.layer.pipe(Layer.provide([UserRepository.layerMemory, testConfig()])))
    )
    const exit = yield* Effect.exit(Effect.scoped(Layer.build(built)))
    assert.isTrue(Exit.isFailure(exit))
    assert.include(Cause.pretty((exit as Exit.Failure<unknown, unknown>).cause), "refresh tokens need a strategy")
  })
)

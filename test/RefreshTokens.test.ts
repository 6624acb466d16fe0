/**
 * The refresh-token rules on the memory store, under TestClock: rotation, reuse detection, the absolute and
 * idle lifetimes, the session epoch, the purge; the same rules run over HTTP on SQL in HttpRefresh.test.ts.
 */

import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, TestClock } from "effect"
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
const setup = Effect.gen(function* () {
  const state = { epoch: 0, active: true, exists: true }
  const issued: Array<{ readonly familyId: string; readonly epoch: number; readonly userAgent?: string | undefined }> =
    []
  const store = RefreshTokenStore.makeMemory()
  const strategy: RefreshTokens.FamilyStrategy = {
    read: () => Effect.succeedNone,
    write: (_user, session) =>
      Effect.sync(() => {
        issued.push({ familyId: session!.family!, epoch: session!.epoch!, userAgent: session?.userAgent })
        return `access-${issued.length}`
      }),
    destroy: () => Effect.void,
    familyOf: () => Effect.succeedNone
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
    denyUntil: () => Effect.void
  })
  const refresh = yield* RefreshTokens.make(
    { name: "jwt", strategy },
    { lifetime: "1 day", idleLifetime: "1 hour", purgeInterval: "10 minutes" }
  ).pipe(
    Effect.provideService(RefreshTokenStore.RefreshTokenStore, store),
    Effect.provideService(Sessions.Sessions, sessions)
  )
  return { refresh, state, issued, store }
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

  it.scoped("a spent token is reuse: the whole family ends, the newest token too", () =>
    Effect.gen(function* () {
      const { refresh, store } = yield* setup
      const first = yield* refresh.login(alice, { epoch: 0 })
      const other = yield* refresh.login(alice, { epoch: 0 })
      const second = yield* refresh.refresh(first.refreshToken)
      assert.strictEqual(yield* failure(refresh.refresh(first.refreshToken)), "RefreshTokenReused")
      assert.strictEqual(yield* failure(refresh.refresh(second.refreshToken)), "RefreshTokenInvalid")
      assert.strictEqual((yield* store.listOf("alice")).length, 1)
      assert.strictEqual(yield* failure(refresh.refresh(other.refreshToken)), "success")
    })
  )

  it.scoped("of 6 concurrent refreshes with one token one wins and the losers end the family", () =>
    Effect.gen(function* () {
      const { refresh } = yield* setup
      const first = yield* refresh.login(alice, { epoch: 0 })
      const outcomes = yield* Effect.all(
        Array.from({ length: 6 }, () => failure(refresh.refresh(first.refreshToken))),
        { concurrency: "unbounded" }
      )
      // The first loser ends the family; those judged after it present a token that no longer exists.
      assert.strictEqual(outcomes.filter((outcome) => outcome === "success").length, 1)
      assert.strictEqual(outcomes.filter((outcome) => outcome === "RefreshTokenReused").length >= 1, true)
      assert.isTrue(
        outcomes.every((outcome) => ["success", "RefreshTokenReused", "RefreshTokenInvalid"].includes(outcome))
      )
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
    const Users = UsersApi.make({ backends: [AuthBackend.bearer("db", AuthStrategy.database(), { refresh: {} })] })
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

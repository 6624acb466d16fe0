/**
 * The `SecondFactorStore` contract, for any implementation (memory, SQLite, PostgreSQL): the layer also provides a
 * `UserRepository` (SQL stores keep factors beside their users, with a foreign key). The single-use rules are
 * checked with real concurrent calls.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import { SecondFactorStore, UserRepository } from "effect-users"
import { newUser } from "./UserRepositorySuite.js"

const digest = () => crypto.randomUUID().replaceAll("-", "")

export const secondFactorStoreSuite = (
  name: string,
  storage: Layer.Layer<SecondFactorStore.SecondFactorStore | UserRepository.UserRepository, unknown>
) =>
  layer(storage)(name, (it) => {
    const someone = Effect.flatMap(UserRepository.UserRepository, (users) => users.create(newUser())).pipe(
      Effect.map((user) => String(user.id))
    )
    const store = SecondFactorStore.SecondFactorStore
    const challenge = (userId: string, overrides: Partial<SecondFactorStore.Challenge> = {}) => ({
      userId,
      backend: "jwt",
      method: "password",
      amr: ["pwd"],
      epoch: 3,
      expiresAt: new Date("2030-01-01T00:00:00.000Z"),
      failures: 0,
      ...overrides
    })
    /** A user with a confirmed TOTP `secret`, last step 100, and these recovery codes. */
    const enrolled = (codes: ReadonlyArray<string> = []) =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* someone
        yield* factors.setPending(userId, "sealed-secret")
        assert.isTrue(yield* factors.confirm(userId, "sealed-secret", 100, codes))
        return userId
      })

    it.effect("a pending secret is no TOTP until confirmed; confirming makes it one, with its step and codes", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* someone
        assert.isTrue(Option.isNone(yield* factors.totp(userId)))
        yield* factors.setPending(userId, "first")
        yield* factors.setPending(userId, "second")
        const pending = Option.getOrThrow(yield* factors.totp(userId))
        assert.isTrue(Option.isNone(pending.secret))
        assert.deepStrictEqual(pending.pending, Option.some("second"))
        assert.isFalse(yield* factors.acceptStep(userId, 5), "no step is accepted before confirmation")
        assert.isFalse(yield* factors.confirm(userId, "first", 7, ["a"]), "a replaced pending secret confirms nothing")
        assert.isTrue(yield* factors.confirm(userId, "second", 7, ["a", "b"]))
        const confirmed = Option.getOrThrow(yield* factors.totp(userId))
        assert.deepStrictEqual(confirmed.secret, Option.some("second"))
        assert.isTrue(Option.isNone(confirmed.pending))
        assert.strictEqual(confirmed.lastStep, 7)
        assert.strictEqual(yield* factors.recoveryCodesLeft(userId), 2)
        assert.isFalse(yield* factors.confirm(userId, "second", 8, []), "confirmed once")
      })
    )

    it.effect("a new pending secret keeps the confirmed one until it is confirmed", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* enrolled(["x"])
        yield* factors.setPending(userId, "replacement")
        const both = Option.getOrThrow(yield* factors.totp(userId))
        assert.deepStrictEqual(both.secret, Option.some("sealed-secret"))
        assert.deepStrictEqual(both.pending, Option.some("replacement"))
        assert.strictEqual(both.lastStep, 100, "the confirmed secret keeps its last step")
        assert.isFalse(yield* factors.acceptStep(userId, 100), "a new pending secret reopens no step")
        assert.isFalse(yield* factors.acceptStep(userId, 50))
        assert.isTrue(yield* factors.acceptStep(userId, 101))
      })
    )

    it.effect("a user with nothing stored: no TOTP to confirm or step to accept, no code, no pending login", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* someone
        assert.isFalse(yield* factors.confirm(userId, "sealed-secret", 1, ["a"]))
        assert.isFalse(yield* factors.acceptStep(userId, 1))
        assert.isFalse(yield* factors.useRecoveryCode(userId, "a"))
        assert.strictEqual(yield* factors.recoveryCodesLeft(userId), 0)
        assert.isFalse(yield* factors.failChallenge(digest(), 5))
        assert.isFalse(yield* factors.spendChallenge(digest()))
        assert.isTrue(Option.isNone(yield* factors.totp(userId)))
      })
    )

    it.effect("a step is accepted once, and only after the last one", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* enrolled()
        assert.isFalse(yield* factors.acceptStep(userId, 100), "the confirming step")
        assert.isFalse(yield* factors.acceptStep(userId, 99))
        assert.isTrue(yield* factors.acceptStep(userId, 102))
        assert.isFalse(yield* factors.acceptStep(userId, 102))
        assert.isFalse(yield* factors.acceptStep(userId, 101), "an earlier step after a later one")
        assert.strictEqual(Option.getOrThrow(yield* factors.totp(userId)).lastStep, 102)
      })
    )

    it.effect("of six concurrent acceptances of one step exactly one wins", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* enrolled()
        const won = yield* Effect.all(
          Array.from({ length: 6 }, () => factors.acceptStep(userId, 200)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(won.filter(Boolean).length, 1)
      })
    )

    it.effect("a recovery code is spent once; replacing the codes kills the old ones", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* enrolled(["one", "two"])
        const other = yield* enrolled(["one"])
        assert.isTrue(yield* factors.useRecoveryCode(userId, "one"))
        assert.isFalse(yield* factors.useRecoveryCode(userId, "one"))
        assert.strictEqual(yield* factors.recoveryCodesLeft(userId), 1)
        assert.strictEqual(yield* factors.recoveryCodesLeft(other), 1, "another user's code is theirs")
        yield* factors.replaceRecoveryCodes(userId, ["three"])
        assert.isFalse(yield* factors.useRecoveryCode(userId, "two"))
        assert.isTrue(yield* factors.useRecoveryCode(userId, "three"))
        assert.strictEqual(yield* factors.recoveryCodesLeft(userId), 0)
      })
    )

    it.effect("of six concurrent uses of one recovery code exactly one wins", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* enrolled(["shared", "other"])
        const won = yield* Effect.all(
          Array.from({ length: 6 }, () => factors.useRecoveryCode(userId, "shared")),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(won.filter(Boolean).length, 1)
        assert.strictEqual(yield* factors.recoveryCodesLeft(userId), 1)
      })
    )

    it.effect("removing TOTP removes its recovery codes; it says whether TOTP was on", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* enrolled(["a", "b"])
        assert.isTrue(yield* factors.removeTotp(userId))
        assert.isTrue(Option.isNone(yield* factors.totp(userId)))
        assert.strictEqual(yield* factors.recoveryCodesLeft(userId), 0)
        assert.isFalse(yield* factors.removeTotp(userId))
        yield* factors.setPending(userId, "pending only")
        assert.isFalse(yield* factors.removeTotp(userId), "a pending secret was no TOTP")
      })
    )

    it.effect("a pending login is found as stored, dies at its maximum of failures, and is spent once", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* someone
        const [plain, withDevice] = [digest(), digest()]
        yield* factors.createChallenge(plain, challenge(userId))
        yield* factors.createChallenge(withDevice, challenge(userId, { device: "dev-1", amr: ["oauth"] }))
        assert.deepStrictEqual(yield* factors.findChallenge(plain), Option.some(challenge(userId)))
        assert.deepStrictEqual(
          yield* factors.findChallenge(withDevice),
          Option.some(challenge(userId, { device: "dev-1", amr: ["oauth"] }))
        )
        assert.isTrue(Option.isNone(yield* factors.findChallenge(digest())))
        for (let failure = 1; failure < 3; failure++) assert.isTrue(yield* factors.failChallenge(plain, 3))
        assert.strictEqual(Option.getOrThrow(yield* factors.findChallenge(plain)).failures, 2)
        assert.isFalse(yield* factors.failChallenge(plain, 3), "the third failure of three ends it")
        assert.isTrue(Option.isNone(yield* factors.findChallenge(plain)))
        assert.isFalse(yield* factors.spendChallenge(plain))
        const won = yield* Effect.all(
          Array.from({ length: 6 }, () => factors.spendChallenge(withDevice)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(won.filter(Boolean).length, 1)
        assert.isTrue(Option.isNone(yield* factors.findChallenge(withDevice)))
      })
    )

    it.effect("the purge removes expired pending logins only", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* someone
        const [old, fresh] = [digest(), digest()]
        yield* factors.createChallenge(old, challenge(userId, { expiresAt: new Date("2020-01-01T00:00:00.000Z") }))
        yield* factors.createChallenge(fresh, challenge(userId))
        assert.isAtLeast(yield* factors.purgeChallenges(new Date("2025-01-01T00:00:00.000Z")), 1)
        assert.isTrue(Option.isNone(yield* factors.findChallenge(old)))
        assert.isTrue(Option.isSome(yield* factors.findChallenge(fresh)))
      })
    )

    it.effect("removeAll leaves the user nothing, and others everything", () =>
      Effect.gen(function* () {
        const factors = yield* store
        const userId = yield* enrolled(["a"])
        const other = yield* enrolled(["b"])
        const [mine, theirs] = [digest(), digest()]
        yield* factors.createChallenge(mine, challenge(userId))
        yield* factors.createChallenge(theirs, challenge(other))
        yield* factors.removeAll(userId)
        assert.isTrue(Option.isNone(yield* factors.totp(userId)))
        assert.strictEqual(yield* factors.recoveryCodesLeft(userId), 0)
        assert.isTrue(Option.isNone(yield* factors.findChallenge(mine)))
        assert.isTrue(Option.isSome(yield* factors.totp(other)))
        assert.isTrue(Option.isSome(yield* factors.findChallenge(theirs)))
      })
    )
  })

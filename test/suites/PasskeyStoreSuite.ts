/**
 * The `PasskeyStore` contract, for any implementation (memory, SQLite, PostgreSQL): the layer also provides a
 * `UserRepository` (SQL stores keep credentials beside their users, with a foreign key).
 */
import { assert, layer } from "@effect/vitest"
import { assertNone, assertSome } from "@effect/vitest/utils"
import { Effect, type Layer, Option, TestClock } from "effect"
import { PasskeyStore, UserRepository } from "effect-users"
import { newUser } from "./UserRepositorySuite.js"

const at = (iso: string) => new Date(iso)
const randomId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")

export const passkeyStoreSuite = (
  name: string,
  storage: Layer.Layer<PasskeyStore.PasskeyStore | UserRepository.UserRepository, unknown>
) =>
  layer(storage)(name, (it) => {
    const someone = Effect.flatMap(UserRepository.UserRepository, (users) => users.create(newUser())).pipe(
      Effect.map((user) => String(user.id))
    )
    const credential = (userId: string, overrides: Partial<PasskeyStore.Credential> = {}): PasskeyStore.Credential => ({
      id: randomId(),
      userId,
      publicKey: randomId(),
      counter: 0,
      transports: ["internal", "hybrid"],
      deviceType: "multiDevice",
      backedUp: true,
      name: "Laptop",
      createdAt: at("2026-12-01T10:00:00.000Z"),
      lastUsedAt: null,
      ...overrides
    })
    const store = PasskeyStore.PasskeyStore

    it.effect("add then find: the credential as stored; an unknown ID finds nothing", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const added = credential(yield* someone, { counter: 7, transports: [], backedUp: false })
        assert.isTrue(yield* passkeys.add(added))
        assertSome(yield* passkeys.find(added.id), added)
        assertNone(yield* passkeys.find(randomId()))
      })
    )

    it.effect("a credential ID is stored once, whoever adds it", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const first = credential(yield* someone)
        assert.isTrue(yield* passkeys.add(first))
        assert.isFalse(yield* passkeys.add({ ...credential(yield* someone), id: first.id }))
        assertSome(yield* passkeys.find(first.id), first)
      })
    )

    it.effect("listOf: the user's credentials only, oldest first", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const user = yield* someone
        const later = credential(user, { createdAt: at("2026-12-02T10:00:00.000Z"), name: "Phone" })
        const earlier = credential(user, { createdAt: at("2026-12-01T09:00:00.000Z") })
        yield* passkeys.add(later)
        yield* passkeys.add(earlier)
        yield* passkeys.add(credential(yield* someone))
        assert.deepStrictEqual(yield* passkeys.listOf(user), [earlier, later])
        assert.deepStrictEqual(yield* passkeys.listOf(yield* someone), [])
      })
    )

    it.effect("rename: the user's own credential only", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const user = yield* someone
        const added = credential(user)
        yield* passkeys.add(added)
        assertSome(yield* passkeys.rename(user, added.id, "Work key"), { ...added, name: "Work key" })
        assertNone(yield* passkeys.rename(yield* someone, added.id, "Stolen"))
        assertNone(yield* passkeys.rename(user, randomId(), "Nothing"))
        assertSome(yield* passkeys.find(added.id), { ...added, name: "Work key" })
      })
    )

    it.effect("recordUse: a counter that moves forward is recorded; one that stays or goes back is refused", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const added = credential(yield* someone, { counter: 5 })
        yield* passkeys.add(added)
        const used = at("2026-12-03T10:00:00.000Z")
        assert.isFalse(yield* passkeys.recordUse(added.id, 5, used))
        assert.isFalse(yield* passkeys.recordUse(added.id, 4, used))
        assert.isFalse(yield* passkeys.recordUse(added.id, 0, used))
        assertSome(yield* passkeys.find(added.id), added)
        assert.isTrue(yield* passkeys.recordUse(added.id, 6, used))
        assertSome(yield* passkeys.find(added.id), { ...added, counter: 6, lastUsedAt: used })
        assert.isFalse(yield* passkeys.recordUse(randomId(), 9, used))
      })
    )

    it.effect("recordUse: an authenticator without a counter (0, stays 0) is recorded every time", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const added = credential(yield* someone)
        yield* passkeys.add(added)
        assert.isTrue(yield* passkeys.recordUse(added.id, 0, at("2026-12-03T10:00:00.000Z")))
        assert.isTrue(yield* passkeys.recordUse(added.id, 0, at("2026-12-04T10:00:00.000Z")))
        assertSome(yield* passkeys.find(added.id), { ...added, lastUsedAt: at("2026-12-04T10:00:00.000Z") })
      })
    )

    it.effect("recordUse: of six concurrent uses with one counter value, exactly one is recorded", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const added = credential(yield* someone, { counter: 1 })
        yield* passkeys.add(added)
        const won = yield* Effect.all(
          Array.from({ length: 6 }, () => passkeys.recordUse(added.id, 2, new Date())),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(won.filter(Boolean).length, 1)
      })
    )

    it.effect("remove: the user's own credential; someone else's or an unknown one is notFound", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const user = yield* someone
        const added = credential(user)
        yield* passkeys.add(added)
        assert.strictEqual(yield* passkeys.remove(yield* someone, added.id, false), "notFound")
        assert.strictEqual(yield* passkeys.remove(user, randomId(), false), "notFound")
        assert.strictEqual(yield* passkeys.remove(user, added.id, false), "removed")
        assertNone(yield* passkeys.find(added.id))
        assert.strictEqual(yield* passkeys.remove(user, added.id, false), "notFound")
      })
    )

    it.effect("remove with keepOne: the last credential stays (`last`); without it, it goes", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const user = yield* someone
        const [first, second] = [credential(user), credential(user)]
        yield* passkeys.add(first)
        yield* passkeys.add(second)
        assert.strictEqual(yield* passkeys.remove(user, first.id, true), "removed")
        assert.strictEqual(yield* passkeys.remove(user, second.id, true), "last")
        assertSome(yield* passkeys.find(second.id), second)
        assert.strictEqual(yield* passkeys.remove(user, second.id, false), "removed")
      })
    )

    it.effect(
      "remove with keepOne: of concurrent removals of a user's last two credentials, exactly one succeeds",
      () =>
        Effect.gen(function* () {
          const passkeys = yield* store
          const user = yield* someone
          const pair = [credential(user), credential(user)]
          for (const each of pair) yield* passkeys.add(each)
          const results = yield* Effect.all(
            pair.map((each) => passkeys.remove(user, each.id, true)),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual([...results].sort(), ["last", "removed"])
          assert.strictEqual((yield* passkeys.listOf(user)).length, 1)
        })
    )

    it.effect("removeAllOf: every credential of the user, nobody else's", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const [user, other] = [yield* someone, yield* someone]
        const kept = credential(other)
        for (const each of [credential(user), credential(user), kept]) yield* passkeys.add(each)
        yield* passkeys.removeAllOf(user)
        assert.deepStrictEqual(yield* passkeys.listOf(user), [])
        assert.deepStrictEqual(yield* passkeys.listOf(other), [kept])
      })
    )

    it.effect("a challenge is taken once; an unknown key takes nothing", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const now = yield* TestClock.currentTimeMillis
        const challenge: PasskeyStore.Challenge = {
          challenge: randomId(),
          purpose: "registration",
          userId: yield* someone,
          expiresAt: now + 300_000
        }
        const key = randomId()
        yield* passkeys.putChallenge(key, challenge)
        assertSome(yield* passkeys.takeChallenge(key), challenge)
        assertNone(yield* passkeys.takeChallenge(key))
        assertNone(yield* passkeys.takeChallenge(randomId()))
        const anonymous = { ...challenge, purpose: "authentication", userId: null } as const
        yield* passkeys.putChallenge(key, anonymous)
        assertSome(yield* passkeys.takeChallenge(key), anonymous)
      })
    )

    it.effect("a challenge past its expiry is refused", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const now = yield* TestClock.currentTimeMillis
        const key = randomId()
        const challenge = {
          challenge: randomId(),
          purpose: "authentication",
          userId: null,
          expiresAt: now + 1000
        } as const
        yield* passkeys.putChallenge(key, challenge)
        yield* TestClock.adjust("1001 millis")
        assertNone(yield* passkeys.takeChallenge(key))
      })
    )

    it.effect("of six concurrent takes of one challenge, exactly one gets it", () =>
      Effect.gen(function* () {
        const passkeys = yield* store
        const now = yield* TestClock.currentTimeMillis
        const key = randomId()
        yield* passkeys.putChallenge(key, {
          challenge: randomId(),
          purpose: "authentication",
          userId: null,
          expiresAt: now + 300_000
        })
        const taken = yield* Effect.all(
          Array.from({ length: 6 }, () => passkeys.takeChallenge(key)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(taken.filter(Option.isSome).length, 1)
      })
    )
  })

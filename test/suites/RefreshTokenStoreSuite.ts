/**
 * The `RefreshTokenStore` contract, for any implementation (memory, SQLite, PostgreSQL, and later Redis): the
 * layer also provides a `UserRepository` (SQL stores keep families beside their users, with a foreign key).
 */
import { assert, layer } from "@effect/vitest"
import { assertSome } from "@effect/vitest/utils"
import { Effect, type Layer, Option } from "effect"
import { RefreshTokenStore, UserRepository } from "effect-users"
import { newUser } from "./UserRepositorySuite.js"

const at = (iso: string) => new Date(iso)
const digest = () => crypto.randomUUID().replaceAll("-", "")

export const refreshTokenStoreSuite = (
  name: string,
  storage: Layer.Layer<RefreshTokenStore.RefreshTokenStore | UserRepository.UserRepository, unknown>
) =>
  layer(storage)(name, (it) => {
    const someone = Effect.flatMap(UserRepository.UserRepository, (users) => users.create(newUser())).pipe(
      Effect.map((user) => String(user.id))
    )
    const family = (userId: string, overrides: Partial<RefreshTokenStore.Family> = {}): RefreshTokenStore.Family => ({
      id: digest(),
      userId,
      backend: "jwt",
      epoch: 0,
      createdAt: at("2026-12-01T10:00:00.000Z"),
      lastUsedAt: at("2026-12-01T10:00:00.000Z"),
      ...overrides
    })
    const store = RefreshTokenStore.RefreshTokenStore
    /** Six rotations of one new token at once, each to its own next token (and successor, when given one). */
    const rotateAtOnce = (successorOf?: (next: string) => string) =>
      Effect.gen(function* () {
        const tokens = yield* store
        const started = family(yield* someone)
        const first = digest()
        yield* tokens.create(started, first)
        const nexts = Array.from({ length: 6 }, digest)
        const won = yield* Effect.forEach(
          nexts,
          (next) => tokens.rotate(started.id, first, next, new Date(), successorOf?.(next)),
          { concurrency: "unbounded" }
        )
        return { first, nexts, won }
      })

    it.effect("create then find: the family as stored, unspent; an unknown digest finds nothing", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const userId = yield* someone
        const plain = family(userId, { epoch: 7, lastUsedAt: at("2026-12-01T10:05:00.123Z") })
        const withAgent = family(userId, {
          backend: "mobile",
          userAgent: "Mozilla/5.0 (X11; Linux x86_64)",
          method: "oauth:openid"
        })
        const [first, second] = [digest(), digest()]
        yield* tokens.create(plain, first)
        yield* tokens.create(withAgent, second)
        const found = Option.getOrThrow(yield* tokens.find(first))
        assert.deepStrictEqual(found.family, plain)
        assert.isTrue(Option.isNone(found.spentAt))
        assert.deepStrictEqual(Option.getOrThrow(yield* tokens.find(second)).family, withAgent)
        assert.isTrue(Option.isNone(yield* tokens.find(digest())))
      })
    )

    it.effect("rotate spends the old token, adds the next to the family and moves lastUsedAt; only once", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const started = family(yield* someone)
        const [first, second, third] = [digest(), digest(), digest()]
        yield* tokens.create(started, first)
        const when = at("2026-12-01T11:00:00.000Z")
        assert.isTrue(yield* tokens.rotate(started.id, first, second, when))
        const spent = Option.getOrThrow(yield* tokens.find(first))
        assert.strictEqual(Option.getOrThrow(spent.spentAt).getTime(), when.getTime())
        const next = Option.getOrThrow(yield* tokens.find(second))
        assert.isTrue(Option.isNone(next.spentAt))
        assert.deepStrictEqual(next.family, { ...started, lastUsedAt: when })
        assert.isFalse(yield* tokens.rotate(started.id, first, third, at("2026-12-01T12:00:00.000Z")))
        assert.isTrue(Option.isNone(yield* tokens.find(third)))
        assert.strictEqual(Option.getOrThrow(yield* tokens.find(second)).family.lastUsedAt.getTime(), when.getTime())
      })
    )

    it.effect("rotate keeps the successor of the token it spent only, until the next rotation replaces it", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const started = family(yield* someone)
        const [first, second, third, fourth] = [digest(), digest(), digest(), digest()]
        const sealed = "enc:v1:".padEnd(87, "x")
        yield* tokens.create(started, first)
        assert.isTrue(Option.isNone(Option.getOrThrow(yield* tokens.find(first)).successor))
        assert.isTrue(yield* tokens.rotate(started.id, first, second, new Date(), sealed))
        assertSome(Option.getOrThrow(yield* tokens.find(first)).successor, sealed)
        assert.isTrue(Option.isNone(Option.getOrThrow(yield* tokens.find(second)).successor))
        assert.isTrue(yield* tokens.rotate(started.id, second, third, new Date(), "second-successor"))
        assert.isTrue(Option.isNone(Option.getOrThrow(yield* tokens.find(first)).successor))
        assertSome(Option.getOrThrow(yield* tokens.find(second)).successor, "second-successor")
        // A rotation without one clears the last.
        assert.isTrue(yield* tokens.rotate(started.id, third, fourth, new Date()))
        for (const token of [first, second, third, fourth]) {
          assert.isTrue(Option.isNone(Option.getOrThrow(yield* tokens.find(token)).successor))
        }
      })
    )

    it.effect("of 6 concurrent rotations of one token with successors, the winner's successor is the one kept", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const { first, nexts, won } = yield* rotateAtOnce((next) => `successor-${next}`)
        const winner = nexts[won.indexOf(true)]!
        assertSome(Option.getOrThrow(yield* tokens.find(first)).successor, `successor-${winner}`)
      })
    )

    it.effect(
      "purgeExpired forgets the kept successors of the backend's families rotated before successorsBefore",
      () =>
        Effect.gen(function* () {
          const tokens = yield* store
          const userId = yield* someone
          const [early, late, otherBackend] = [family(userId), family(userId), family(userId, { backend: "other" })]
          const [a, b, c] = [digest(), digest(), digest()]
          for (const [started, token] of [
            [early, a],
            [late, b],
            [otherBackend, c]
          ] as const) {
            yield* tokens.create(started, token)
          }
          yield* tokens.rotate(early.id, a, digest(), at("2026-12-01T10:00:01.000Z"), "early")
          yield* tokens.rotate(late.id, b, digest(), at("2026-12-01T10:00:20.000Z"), "late")
          yield* tokens.rotate(otherBackend.id, c, digest(), at("2026-12-01T10:00:01.000Z"), "other")
          const ended = yield* tokens.purgeExpired({
            backend: "jwt",
            createdBefore: at("2026-11-01T00:00:00.000Z"),
            lastUsedBefore: at("2026-11-01T00:00:00.000Z"),
            limit: 10,
            successorsBefore: at("2026-12-01T10:00:10.000Z")
          })
          assert.strictEqual(ended, 0)
          const successorOf = (token: string) =>
            Effect.map(tokens.find(token), (found) => Option.getOrThrow(found).successor)
          assert.isTrue(Option.isNone(yield* successorOf(a)))
          assertSome(yield* successorOf(b), "late")
          assertSome(yield* successorOf(c), "other")
        })
    )

    it.effect("rotate refuses a token of another family, and an unknown token", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const userId = yield* someone
        const [mine, other] = [family(userId), family(userId)]
        const [token, next] = [digest(), digest()]
        yield* tokens.create(mine, token)
        yield* tokens.create(other, digest())
        assert.isFalse(yield* tokens.rotate(other.id, token, next, new Date()))
        assert.isFalse(yield* tokens.rotate(mine.id, digest(), next, new Date()))
        assert.isTrue(Option.isNone(Option.getOrThrow(yield* tokens.find(token)).spentAt))
        assert.isTrue(Option.isNone(yield* tokens.find(next)))
      })
    )

    it.effect("of 6 concurrent rotations of one token exactly one wins, and only its next token exists", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const { nexts, won } = yield* rotateAtOnce()
        assert.strictEqual(won.filter(Boolean).length, 1)
        const found = yield* Effect.forEach(nexts, (next) => tokens.find(next))
        assert.deepStrictEqual(found.map(Option.isSome), won)
      })
    )

    it.effect("revoke ends the family and every token of it, spent or not; with a userId only the owner's", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const [alice, bob] = [yield* someone, yield* someone]
        const started = family(alice)
        const [first, second] = [digest(), digest()]
        yield* tokens.create(started, first)
        yield* tokens.rotate(started.id, first, second, new Date())
        assert.isFalse(yield* tokens.revoke(started.id, bob))
        assert.isTrue(Option.isSome(yield* tokens.find(second)))
        assert.isTrue(yield* tokens.revoke(started.id, alice))
        assert.isTrue(Option.isNone(yield* tokens.find(first)))
        assert.isTrue(Option.isNone(yield* tokens.find(second)))
        assert.isFalse(yield* tokens.rotate(started.id, second, digest(), new Date()))
        assert.isFalse(yield* tokens.revoke(started.id))
        const other = family(bob)
        yield* tokens.create(other, digest())
        assert.isTrue(yield* tokens.revoke(other.id))
        assert.deepStrictEqual(yield* tokens.listOf(bob), [])
      })
    )

    it.effect("setEpoch carries a family to another epoch; false once the family has ended", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const started = family(yield* someone)
        const token = digest()
        yield* tokens.create(started, token)
        assert.isTrue(yield* tokens.setEpoch(started.id, 3))
        assert.strictEqual(Option.getOrThrow(yield* tokens.find(token)).family.epoch, 3)
        yield* tokens.revoke(started.id)
        assert.isFalse(yield* tokens.setEpoch(started.id, 4))
      })
    )

    it.effect("revokeAllOf ends every family of that user and no one else's; listOf lists oldest login first", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const [alice, bob] = [yield* someone, yield* someone]
        const later = family(alice, { createdAt: at("2026-12-02T00:00:00.000Z") })
        const earlier = family(alice, { createdAt: at("2026-12-01T00:00:00.000Z") })
        const kept = family(bob)
        const keptToken = digest()
        yield* tokens.create(later, digest())
        yield* tokens.create(earlier, digest())
        yield* tokens.create(kept, keptToken)
        assert.deepStrictEqual(
          (yield* tokens.listOf(alice)).map((f) => f.id),
          [earlier.id, later.id]
        )
        assert.strictEqual(yield* tokens.revokeAllOf(alice), 2)
        assert.deepStrictEqual(yield* tokens.listOf(alice), [])
        assert.strictEqual(yield* tokens.revokeAllOf(alice), 0)
        assert.isTrue(Option.isSome(yield* tokens.find(keptToken)))
        assert.deepStrictEqual(
          (yield* tokens.listOf(bob)).map((f) => f.id),
          [kept.id]
        )
      })
    )

    it.effect("purgeExpired ends the backend's families past either lifetime, in batches of at most `limit`", () =>
      Effect.gen(function* () {
        const tokens = yield* store
        const userId = yield* someone
        const cut = {
          backend: "jwt",
          createdBefore: at("2001-01-01T00:00:00.000Z"),
          lastUsedBefore: at("2001-01-01T00:00:00.000Z")
        }
        const old = [1, 2, 3].map((day) => family(userId, { createdAt: at(`2000-01-0${day}T00:00:00.000Z`) }))
        const idle = family(userId, {
          createdAt: at("2001-06-01T00:00:00.000Z"),
          lastUsedAt: at("2000-12-31T00:00:00.000Z")
        })
        const fresh = family(userId, {
          createdAt: at("2001-06-01T00:00:00.000Z"),
          lastUsedAt: at("2001-06-02T00:00:00.000Z")
        })
        const otherBackend = family(userId, { backend: "mobile", createdAt: at("2000-01-01T00:00:00.000Z") })
        const freshToken = digest()
        for (const f of [...old, idle, otherBackend]) yield* tokens.create(f, digest())
        yield* tokens.create(fresh, freshToken)
        assert.strictEqual(yield* tokens.purgeExpired({ ...cut, limit: 3 }), 3)
        assert.strictEqual(yield* tokens.purgeExpired({ ...cut, limit: 3 }), 1)
        assert.strictEqual(yield* tokens.purgeExpired({ ...cut, limit: 3 }), 0)
        assert.deepStrictEqual(
          (yield* tokens.listOf(userId)).map((f) => f.id),
          [otherBackend.id, fresh.id]
        )
        assert.isTrue(Option.isSome(yield* tokens.find(freshToken)))
      })
    )
  })

/**
 * The `AccessTokenStore` contract, for any implementation: the layer also provides a `UserRepository`
 * (SQL stores keep tokens beside their users, with a foreign key).
 */
import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import { AccessTokenStore, UserRepository } from "effect-users"
import { newUser } from "./UserRepositorySuite.js"

const at = (iso: string) => new Date(iso)

export const accessTokenStoreSuite = (
  name: string,
  storage: Layer.Layer<AccessTokenStore.AccessTokenStore | UserRepository, unknown>
) =>
  layer(storage)(name, (it) => {
    const someone = Effect.flatMap(UserRepository, (users) => users.create(newUser())).pipe(
      Effect.map((user) => String(user.id))
    )
    const digest = () => crypto.randomUUID().replaceAll("-", "")

    it.effect("write then read: the user's ID and the issue time; an unknown digest reads nothing", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const userId = yield* someone
        const token = digest()
        yield* store.write(token, { userId, createdAt: at("2026-12-01T10:00:00.000Z") })
        const stored = yield* store.read(token)
        assert.isTrue(Option.isSome(stored))
        const value = Option.getOrThrow(stored)
        assert.strictEqual(value.userId, userId)
        assert.strictEqual(value.createdAt.getTime(), at("2026-12-01T10:00:00.000Z").getTime())
        assert.isTrue(Option.isNone(yield* store.read(digest())))
      })
    )

    it.effect("delete removes that token only; deleting an unknown digest is not an error", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const userId = yield* someone
        const [first, second] = [digest(), digest()]
        yield* store.write(first, { userId, createdAt: new Date() })
        yield* store.write(second, { userId, createdAt: new Date() })
        yield* store.delete(first)
        yield* store.delete(digest())
        assert.isTrue(Option.isNone(yield* store.read(first)))
        assert.isTrue(Option.isSome(yield* store.read(second)))
      })
    )

    it.effect("deleteAllOf removes every token of that user and no one else's", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const [alice, bob] = [yield* someone, yield* someone]
        const tokens = [digest(), digest(), digest()]
        const kept = digest()
        for (const token of tokens) yield* store.write(token, { userId: alice, createdAt: new Date() })
        yield* store.write(kept, { userId: bob, createdAt: new Date() })
        assert.strictEqual(yield* store.deleteAllOf(alice), 3)
        for (const token of tokens) assert.isTrue(Option.isNone(yield* store.read(token)))
        assert.isTrue(Option.isSome(yield* store.read(kept)))
        assert.strictEqual(yield* store.deleteAllOf(alice), 0)
      })
    )

    it.effect("purgeExpired removes the tokens issued before the cut-off, and keeps the others", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const userId = yield* someone
        const [old, fresh] = [digest(), digest()]
        yield* store.write(old, { userId, createdAt: at("2001-01-01T00:00:00.000Z") })
        yield* store.write(fresh, { userId, createdAt: at("2001-01-01T00:00:02.000Z") })
        const purged = yield* store.purgeExpired(at("2001-01-01T00:00:01.000Z"))
        assert.isAtLeast(purged, 1)
        assert.isTrue(Option.isNone(yield* store.read(old)))
        assert.isTrue(Option.isSome(yield* store.read(fresh)))
      })
    )

    it.effect(
      "write fills the defaults (epoch 0, last use = issue); read returns what was written, agent cut to 512",
      () =>
        Effect.gen(function* () {
          const store = yield* AccessTokenStore.AccessTokenStore
          const userId = yield* someone
          const [plain, full] = [digest(), digest()]
          const createdAt = at("2026-12-01T10:00:00.000Z")
          yield* store.write(plain, { userId, createdAt })
          assert.deepInclude(Option.getOrThrow(yield* store.read(plain)), { userId, epoch: 0 })
          assert.strictEqual(Option.getOrThrow(yield* store.read(plain)).lastUsedAt.getTime(), createdAt.getTime())
          const lastUsedAt = at("2026-12-01T10:05:00.000Z")
          const userAgent = `Mozilla/5.0 ${"x".repeat(600)}`
          yield* store.write(full, { userId, createdAt, epoch: 7, lastUsedAt, backend: "cookie", userAgent })
          const stored = Option.getOrThrow(yield* store.read(full))
          assert.strictEqual(stored.epoch, 7)
          assert.strictEqual(stored.lastUsedAt.getTime(), lastUsedAt.getTime())
          assert.strictEqual(stored.backend, "cookie")
          assert.strictEqual(stored.userAgent, userAgent.slice(0, AccessTokenStore.maxUserAgentLength))
        })
    )

    it.effect("listOf: every token of that user with its digest, no one else's; nothing for a user without", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const [alice, bob, carol] = [yield* someone, yield* someone, yield* someone]
        const mine = [digest(), digest()]
        for (const token of mine) yield* store.write(token, { userId: alice, createdAt: new Date(), backend: "cookie" })
        yield* store.write(digest(), { userId: bob, createdAt: new Date() })
        const listed = yield* store.listOf(alice)
        assert.sameMembers(
          listed.map(([key]) => key),
          mine
        )
        for (const [, token] of listed) assert.deepInclude(token, { userId: alice, backend: "cookie", epoch: 0 })
        assert.deepStrictEqual(yield* store.listOf(carol), [])
        yield* store.delete(mine[0]!)
        assert.deepStrictEqual(
          (yield* store.listOf(alice)).map(([key]) => key),
          [mine[1]]
        )
      })
    )

    it.effect(
      "touch records the last use and setEpoch the epoch, of that token only; both false for an unknown one",
      () =>
        Effect.gen(function* () {
          const store = yield* AccessTokenStore.AccessTokenStore
          const userId = yield* someone
          const [token, other] = [digest(), digest()]
          const createdAt = at("2026-12-01T10:00:00.000Z")
          yield* store.write(token, { userId, createdAt, epoch: 1 })
          yield* store.write(other, { userId, createdAt, epoch: 1 })
          const used = at("2026-12-01T10:30:00.000Z")
          assert.isTrue(yield* store.touch(token, used))
          assert.isTrue(yield* store.setEpoch(token, 2))
          const stored = Option.getOrThrow(yield* store.read(token))
          assert.strictEqual(stored.lastUsedAt.getTime(), used.getTime())
          assert.strictEqual(stored.epoch, 2)
          assert.strictEqual(stored.createdAt.getTime(), createdAt.getTime())
          const untouched = Option.getOrThrow(yield* store.read(other))
          assert.strictEqual(untouched.epoch, 1)
          assert.strictEqual(untouched.lastUsedAt.getTime(), createdAt.getTime())
          assert.isFalse(yield* store.touch(digest(), used))
          assert.isFalse(yield* store.setEpoch(digest(), 3))
          assert.isTrue(Option.isNone(yield* store.read(digest())))
        })
    )

    it.effect("markJti/readJti: a kept record with its epoch; a denial wins over a keep, in either order, raced", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const expiresAt = new Date(Date.now() + 3_600_000)
        const kept = digest()
        yield* store.markJti(kept, { _tag: "Kept", epoch: 4 }, expiresAt)
        assert.deepStrictEqual(yield* store.readJti(kept), Option.some({ _tag: "Kept" as const, epoch: 4 }))
        assert.isTrue(Option.isNone(yield* store.readJti(digest())))
        const [first, second] = [digest(), digest()]
        yield* store.markJti(first, { _tag: "Denied" }, expiresAt)
        yield* store.markJti(first, { _tag: "Kept", epoch: 5 }, expiresAt)
        yield* store.markJti(second, { _tag: "Kept", epoch: 5 }, expiresAt)
        yield* store.markJti(second, { _tag: "Denied" }, expiresAt)
        for (const jti of [first, second]) {
          assert.deepStrictEqual(yield* store.readJti(jti), Option.some({ _tag: "Denied" as const }), jti)
        }
        const raced = Array.from({ length: 10 }, digest)
        yield* Effect.forEach(
          raced,
          (jti) =>
            Effect.all(
              [
                store.markJti(jti, { _tag: "Kept", epoch: 1 }, expiresAt),
                store.markJti(jti, { _tag: "Denied" }, expiresAt),
                store.markJti(jti, { _tag: "Kept", epoch: 2 }, expiresAt)
              ],
              { concurrency: "unbounded" }
            ),
          { concurrency: "unbounded" }
        )
        for (const jti of raced) {
          assert.deepStrictEqual(yield* store.readJti(jti), Option.some({ _tag: "Denied" as const }), jti)
        }
      })
    )

    it.effect("purgeExpired also removes idle tokens (idleBefore) and expired jti records (jtiExpiredBefore)", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const userId = yield* someone
        const createdAt = at("2001-01-01T00:00:00.000Z")
        const [idle, active] = [digest(), digest()]
        yield* store.write(idle, { userId, createdAt })
        yield* store.write(active, { userId, createdAt, lastUsedAt: at("2001-01-01T00:00:05.000Z") })
        const [expired, alive] = [digest(), digest()]
        const now = Date.now()
        yield* store.markJti(expired, { _tag: "Denied" }, new Date(now - 1_000))
        yield* store.markJti(alive, { _tag: "Denied" }, new Date(now + 3_600_000))
        const purged = yield* store.purgeExpired(at("2000-01-01T00:00:00.000Z"), {
          idleBefore: at("2001-01-01T00:00:01.000Z"),
          jtiExpiredBefore: new Date(now)
        })
        assert.isAtLeast(purged, 2)
        assert.isTrue(Option.isNone(yield* store.read(idle)))
        assert.isTrue(Option.isSome(yield* store.read(active)))
        assert.isTrue(Option.isNone(yield* store.readJti(expired)))
        assert.isTrue(Option.isSome(yield* store.readJti(alive)))
      })
    )

    it.effect("purgeExpired in batches smaller than the rows still removes them all", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const userId = yield* someone
        const tokens = Array.from({ length: 7 }, digest)
        for (const token of tokens) yield* store.write(token, { userId, createdAt: at("1990-01-01T00:00:00.000Z") })
        assert.isAtLeast(yield* store.purgeExpired(at("1990-01-01T00:00:01.000Z"), { batchSize: 2 }), 7)
        for (const token of tokens) assert.isTrue(Option.isNone(yield* store.read(token)))
      })
    )
  })

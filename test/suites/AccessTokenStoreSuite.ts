/**
 * The `AccessTokenStore` contract, for any implementation: the layer also provides a `UserRepository`
 * (SQL stores keep tokens beside their users, with a foreign key).
 */
import { assert, layer } from "@effect/vitest"
import { assertSome } from "@effect/vitest/utils"
import { Effect, type Layer, Option } from "effect"
import { AccessTokenStore, UserRepository } from "effect-users"
import { newUser } from "./UserRepositorySuite.js"

const at = (iso: string) => new Date(iso)

export const accessTokenStoreSuite = (
  name: string,
  storage: Layer.Layer<AccessTokenStore.AccessTokenStore | UserRepository.UserRepository, unknown>
) =>
  layer(storage)(name, (it) => {
    const someone = Effect.flatMap(UserRepository.UserRepository, (users) => users.create(newUser())).pipe(
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
      "a token keeps its epoch, last use, backend, user agent and method; defaults: epoch 0, last use = issue",
      () =>
        Effect.gen(function* () {
          const store = yield* AccessTokenStore.AccessTokenStore
          const userId = yield* someone
          const [full, bare] = [digest(), digest()]
          yield* store.write(full, {
            userId,
            createdAt: at("2026-12-01T10:00:00.000Z"),
            epoch: 3,
            lastUsedAt: at("2026-12-01T10:05:00.000Z"),
            backend: "cookie",
            userAgent: "x".repeat(600),
            method: "oauth:openid"
          })
          yield* store.write(bare, { userId, createdAt: at("2026-12-01T11:00:00.000Z") })
          const stored = Option.getOrThrow(yield* store.read(full))
          assert.deepInclude(stored, { userId, epoch: 3, backend: "cookie", method: "oauth:openid" })
          assert.strictEqual(stored.lastUsedAt.getTime(), at("2026-12-01T10:05:00.000Z").getTime())
          assert.strictEqual(stored.userAgent, "x".repeat(AccessTokenStore.maxUserAgentLength))
          const plain = Option.getOrThrow(yield* store.read(bare))
          assert.strictEqual(plain.epoch, 0)
          assert.strictEqual(plain.lastUsedAt.getTime(), at("2026-12-01T11:00:00.000Z").getTime())
          assert.isUndefined(plain.backend)
          assert.isUndefined(plain.userAgent)
          assert.isUndefined(plain.method)
        })
    )

    it.effect("deleteFamily removes the user's tokens of that family only; a token reads back its family", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const [alice, bob] = [yield* someone, yield* someone]
        const [family, otherFamily] = [digest(), digest()]
        const ofFamily = [digest(), digest()]
        const [sibling, unnamed, bobs] = [digest(), digest(), digest()]
        for (const token of ofFamily) yield* store.write(token, { userId: alice, createdAt: new Date(), family })
        yield* store.write(sibling, { userId: alice, createdAt: new Date(), family: otherFamily })
        yield* store.write(unnamed, { userId: alice, createdAt: new Date() })
        // Another user's token naming the same family ID: not theirs to end.
        yield* store.write(bobs, { userId: bob, createdAt: new Date(), family })
        assert.strictEqual(Option.getOrThrow(yield* store.read(ofFamily[0]!)).family, family)
        assert.isUndefined(Option.getOrThrow(yield* store.read(unnamed)).family)
        assert.strictEqual(yield* store.deleteFamily(alice, family), 2)
        for (const token of ofFamily) assert.isTrue(Option.isNone(yield* store.read(token)))
        for (const token of [sibling, unnamed, bobs]) assert.isTrue(Option.isSome(yield* store.read(token)))
        assert.strictEqual(yield* store.deleteFamily(alice, family), 0)
      })
    )

    it.effect("listOf gives every token of that user with its digest, and no one else's", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const [alice, bob] = [yield* someone, yield* someone]
        const mine = [digest(), digest()]
        for (const token of mine) yield* store.write(token, { userId: alice, createdAt: new Date() })
        yield* store.write(digest(), { userId: bob, createdAt: new Date() })
        const listed = yield* store.listOf(alice)
        assert.sameMembers(
          listed.map(([key]) => key),
          mine
        )
        assert.isTrue(listed.every(([, token]) => token.userId === alice))
        assert.deepStrictEqual(yield* store.listOf(crypto.randomUUID()), [])
      })
    )

    it.effect("touch and setEpoch rewrite one token; both say false for a token that is not stored", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const userId = yield* someone
        const [token, other] = [digest(), digest()]
        yield* store.write(token, { userId, createdAt: at("2026-12-01T10:00:00.000Z") })
        yield* store.write(other, { userId, createdAt: at("2026-12-01T10:00:00.000Z") })
        assert.isTrue(yield* store.touch(token, at("2026-12-01T10:30:00.000Z")))
        assert.isTrue(yield* store.setEpoch(token, 7))
        const stored = Option.getOrThrow(yield* store.read(token))
        assert.strictEqual(stored.lastUsedAt.getTime(), at("2026-12-01T10:30:00.000Z").getTime())
        assert.strictEqual(stored.epoch, 7)
        const untouched = Option.getOrThrow(yield* store.read(other))
        assert.deepInclude(untouched, { epoch: 0 })
        assert.strictEqual(untouched.lastUsedAt.getTime(), at("2026-12-01T10:00:00.000Z").getTime())
        assert.isFalse(yield* store.touch(digest(), new Date()))
        assert.isFalse(yield* store.setEpoch(digest(), 1))
      })
    )

    it.effect("jti records: Kept carries its epoch (the latest wins), Denied wins over Kept in either order", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const [kept, deniedAfter, deniedBefore] = [digest(), digest(), digest()]
        const expiry = at("2030-01-01T00:00:00.000Z")
        assert.isTrue(Option.isNone(yield* store.readJti(kept)))
        yield* store.markJti(kept, { _tag: "Kept", epoch: 1 }, expiry)
        yield* store.markJti(kept, { _tag: "Kept", epoch: 2 }, expiry)
        assertSome(yield* store.readJti(kept), { _tag: "Kept" as const, epoch: 2 })
        yield* store.markJti(deniedAfter, { _tag: "Kept", epoch: 1 }, expiry)
        yield* store.markJti(deniedAfter, { _tag: "Denied" }, expiry)
        assertSome(yield* store.readJti(deniedAfter), { _tag: "Denied" as const })
        yield* store.markJti(deniedBefore, { _tag: "Denied" }, expiry)
        yield* store.markJti(deniedBefore, { _tag: "Kept", epoch: 1 }, expiry)
        assertSome(yield* store.readJti(deniedBefore), { _tag: "Denied" as const })
      })
    )

    it.effect("purgeExpired: idle tokens and expired jti records too, in batches until none is left", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const userId = yield* someone
        const old = Array.from({ length: 5 }, digest)
        for (const token of old) yield* store.write(token, { userId, createdAt: at("2002-01-01T00:00:00.000Z") })
        const [idle, busy] = [digest(), digest()]
        yield* store.write(idle, { userId, createdAt: at("2002-01-01T02:00:00.000Z") })
        yield* store.write(busy, {
          userId,
          createdAt: at("2002-01-01T02:00:00.000Z"),
          lastUsedAt: at("2002-01-01T04:00:00.000Z")
        })
        const [gone, alive] = [digest(), digest()]
        yield* store.markJti(gone, { _tag: "Denied" }, at("2002-01-01T00:00:00.000Z"))
        yield* store.markJti(alive, { _tag: "Denied" }, at("2002-01-01T09:00:00.000Z"))
        const purged = yield* store.purgeExpired(at("2002-01-01T01:00:00.000Z"), {
          idleBefore: at("2002-01-01T03:00:00.000Z"),
          jtiExpiredBefore: at("2002-01-01T05:00:00.000Z"),
          batchSize: 2
        })
        assert.isAtLeast(purged, 7)
        for (const token of [...old, idle]) assert.isTrue(Option.isNone(yield* store.read(token)))
        assert.isTrue(Option.isSome(yield* store.read(busy)))
        assert.isTrue(Option.isNone(yield* store.readJti(gone)))
        assert.isTrue(Option.isSome(yield* store.readJti(alive)))
      })
    )

    it.effect("a Denied raced with Kept marks of one jti wins; a deleted token leaves listOf", () =>
      Effect.gen(function* () {
        const store = yield* AccessTokenStore.AccessTokenStore
        const expiresAt = at("2030-01-01T00:00:00.000Z")
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
          assert.deepStrictEqual(Option.getOrNull(yield* store.readJti(jti)), { _tag: "Denied" as const }, jti)
        }
        const userId = yield* someone
        const [gone, kept] = [digest(), digest()]
        yield* store.write(gone, { userId, createdAt: new Date() })
        yield* store.write(kept, { userId, createdAt: new Date() })
        yield* store.delete(gone)
        assert.deepStrictEqual(
          (yield* store.listOf(userId)).map(([key]) => key),
          [kept]
        )
      })
    )
  })

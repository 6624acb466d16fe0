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
  })

/**
 * The `EmailSignInStore` contract, for any implementation (memory, SQLite, PostgreSQL).
 */
import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import { EmailSignIn } from "effect-users"

const now = 1_800_000_000_000

export const emailSignInStoreSuite = (name: string, storage: Layer.Layer<EmailSignIn.EmailSignInStore, unknown>) =>
  layer(storage)(name, (it) => {
    const store = EmailSignIn.EmailSignInStore
    const pending = (kind: "link" | "code", overrides: Partial<EmailSignIn.Pending> = {}): EmailSignIn.Pending => {
      const key = `${crypto.randomUUID()}@camelot.bt`
      return { kind, email: key, key, digest: crypto.randomUUID(), userId: "u1", expiresAt: now + 1000, ...overrides }
    }

    it.effect("a link is spent once, by its digest, while unexpired", () =>
      Effect.gen(function* () {
        const signIns = yield* store
        const link = pending("link")
        yield* signIns.put(link)
        assert.isTrue(Option.isNone(yield* signIns.spendLink("unknown", now)))
        assert.deepStrictEqual(
          yield* signIns.spendLink(link.digest, now),
          Option.some({ email: link.email, userId: "u1" })
        )
        assert.isTrue(Option.isNone(yield* signIns.spendLink(link.digest, now)))
        const expired = pending("link")
        yield* signIns.put(expired)
        assert.isTrue(Option.isNone(yield* signIns.spendLink(expired.digest, expired.expiresAt)))
      })
    )

    it.effect("a new link for the address replaces the old one; a sign-up link has no user", () =>
      Effect.gen(function* () {
        const signIns = yield* store
        const first = pending("link", { userId: null })
        const second = { ...first, digest: crypto.randomUUID() }
        yield* signIns.put(first)
        yield* signIns.put(second)
        assert.isTrue(Option.isNone(yield* signIns.spendLink(first.digest, now)))
        assert.deepStrictEqual(
          yield* signIns.spendLink(second.digest, now),
          Option.some({ email: first.email, userId: null })
        )
      })
    )

    it.effect("8 concurrent spends of one link, or of one right code: exactly one", () =>
      Effect.gen(function* () {
        const signIns = yield* store
        const link = pending("link")
        const code = pending("code")
        yield* signIns.put(link)
        yield* signIns.put(code)
        const links = yield* Effect.all(
          Array.from({ length: 8 }, () => signIns.spendLink(link.digest, now)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(links.filter(Option.isSome).length, 1)
        const codes = yield* Effect.all(
          Array.from({ length: 8 }, () => signIns.tryCode(code.key, code.digest, now, 5)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(codes.filter(Option.isSome).length, 1)
      })
    )

    it.effect("a code: wrong tries count; the 5th spends it; a new code resets the count; expiry", () =>
      Effect.gen(function* () {
        const signIns = yield* store
        const code = pending("code")
        yield* signIns.put(code)
        for (let i = 0; i < 4; i++) assert.isTrue(Option.isNone(yield* signIns.tryCode(code.key, "wrong", now, 5)))
        assert.isTrue(Option.isSome(yield* signIns.tryCode(code.key, code.digest, now, 5)))
        yield* signIns.put(code)
        for (let i = 0; i < 5; i++) assert.isTrue(Option.isNone(yield* signIns.tryCode(code.key, "wrong", now, 5)))
        assert.isTrue(Option.isNone(yield* signIns.tryCode(code.key, code.digest, now, 5)))
        const replaced = { ...code, digest: crypto.randomUUID() }
        yield* signIns.put(code)
        yield* signIns.put(replaced)
        assert.isTrue(Option.isNone(yield* signIns.tryCode(code.key, code.digest, now, 5)))
        assert.isTrue(Option.isNone(yield* signIns.tryCode(code.key, replaced.digest, replaced.expiresAt, 5)))
        assert.isTrue(Option.isSome(yield* signIns.tryCode(code.key, replaced.digest, now, 5)))
        // A link and a code of one address are two things.
        const link = pending("link", { key: code.key, email: code.email })
        yield* signIns.put(link)
        assert.isTrue(Option.isNone(yield* signIns.tryCode(code.key, link.digest, now, 5)))
        const another = pending("code")
        yield* signIns.put(another)
        assert.isTrue(Option.isNone(yield* signIns.spendLink(another.digest, now)), "a code is no link")
        assert.isTrue(Option.isSome(yield* signIns.tryCode(another.key, another.digest, now, 5)))
      })
    )
  })

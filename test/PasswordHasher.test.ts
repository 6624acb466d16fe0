import { assert, describe, it } from "@effect/vitest"
import * as argon2 from "@node-rs/argon2"
import * as bcrypt from "@node-rs/bcrypt"
import { Deferred, Effect, Fiber, Layer, Redacted } from "effect"
import { PasswordHasher, UserManager, UserManagerConfig, UserRepository } from "effect-users"
import { eventually } from "./utils/Eventually.js"
import { resetSecret, verifySecret } from "./utils/TestUsers.js"

const hasher = PasswordHasher.makeArgon2()
const pw = Redacted.make("correct horse battery")
const current = "$argon2id$v=19$m=19456,t=2,p=1$"

describe("PasswordHasher (argon2id)", () => {
  it.effect("hashes with argon2id at OWASP's minimum row, as a PHC string with a fresh salt", () =>
    Effect.gen(function* () {
      const first = yield* hasher.hash(pw)
      const second = yield* hasher.hash(pw)
      assert.isTrue(first.startsWith(current), first)
      assert.notStrictEqual(first, second)
      assert.isTrue(yield* hasher.verify(pw, first))
      assert.isFalse(yield* hasher.verify(Redacted.make("wrong horse battery"), first))
      assert.isFalse(hasher.needsRehash(first))
    })
  )

  it.effect("verifies FastAPI Users' argon2id hashes (m=65536, t=3, p=4) and marks them outdated", () =>
    Effect.gen(function* () {
      const legacy = yield* Effect.promise(() =>
        argon2.hash(Redacted.value(pw), { memoryCost: 65536, timeCost: 3, parallelism: 4 })
      )
      assert.isTrue(legacy.startsWith("$argon2id$v=19$m=65536,t=3,p=4$"))
      assert.isTrue(yield* hasher.verify(pw, legacy))
      assert.isFalse(yield* hasher.verify(Redacted.make("nope"), legacy))
      assert.isTrue(hasher.needsRehash(legacy))
    })
  )

  it.effect("verifies bcrypt $2b$ and $2a$ hashes and marks them outdated", () =>
    Effect.gen(function* () {
      const hashed = yield* Effect.promise(() => bcrypt.hash(Redacted.value(pw), 4))
      for (const version of ["2b", "2a"] as const) {
        // $2a$ and $2b$ differ only for passwords over 255 bytes: the same digest reads under both prefixes.
        const legacy = hashed.replace(/^\$2b\$/, `$${version}$`)
        assert.isTrue(legacy.startsWith(`$${version}$`), legacy)
        assert.isTrue(yield* hasher.verify(pw, legacy))
        assert.isFalse(yield* hasher.verify(Redacted.make("nope"), legacy))
        assert.isTrue(hasher.needsRehash(legacy))
      }
    })
  )

  it.effect("a stored hash it cannot read never matches, and does not fail", () =>
    Effect.gen(function* () {
      for (const stored of ["", "plain-text", "$argon2id$v=19$m=19456,t=2,p=1$broken", "$2b$04$short", "$pbkdf2$x"]) {
        assert.isFalse(yield* hasher.verify(pw, stored), stored)
      }
    })
  )

  it.live("withConcurrencyLimit never runs more hashes at once than its bound, and runs them all", () =>
    Effect.gen(function* () {
      let inFlight = 0
      let peak = 0
      // The fake work holds until the gate opens: every job the bound lets through is in flight at once.
      const gate = yield* Deferred.make<void>()
      const track = <A>(result: A) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            inFlight++
            peak = Math.max(peak, inFlight)
          }),
          () => Effect.as(Deferred.await(gate), result),
          () => Effect.sync(() => inFlight--)
        )
      const limited = PasswordHasher.withConcurrencyLimit(
        { hash: () => track("hash"), verify: () => track(true), needsRehash: () => false },
        2
      )
      const all = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? limited.hash(pw) : limited.verify(pw, "x"))),
          { concurrency: "unbounded" }
        )
      )
      yield* eventually(
        Effect.filterOrFail(
          Effect.sync(() => inFlight),
          (n) => n === 2,
          () => new Error("waiting")
        )
      )
      // Every job has had its chance to start: the other eight wait for a permit.
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      assert.strictEqual(inFlight, 2)
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.join(all)
      assert.deepStrictEqual(
        results,
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? "hash" : true))
      )
      assert.strictEqual(peak, 2)
    })
  )
})

describe("UserManager with the argon2 hasher", () => {
  const layer = UserManager.layer.pipe(
    Layer.provideMerge(UserRepository.layerMemory),
    Layer.provide(
      UserManagerConfig.layer({ verificationTokenSecret: verifySecret, resetPasswordTokenSecret: resetSecret })
    )
  )

  it.effect("re-hashes a FastAPI Users bcrypt hash to current argon2id on the next successful login", () =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const repository = yield* UserRepository.UserRepository
      const legacy = yield* Effect.promise(() => bcrypt.hash(Redacted.value(pw), 4))
      const user = yield* repository.create({
        id: crypto.randomUUID(),
        email: "bedivere@camelot.bt",
        hashedPassword: legacy,
        isActive: true,
        isSuperuser: false,
        isVerified: true
      })
      const wrong = yield* Effect.flip(users.authenticate({ username: user.email, password: Redacted.make("nope") }))
      assert.strictEqual(wrong._tag, "InvalidCredentials")
      assert.strictEqual((yield* users.get(user.id)).hashedPassword, legacy)
      const found = yield* users.authenticate({ username: user.email, password: pw })
      assert.isTrue(found.hashedPassword.startsWith(current))
      const stored = yield* users.get(user.id)
      assert.strictEqual(stored.hashedPassword, found.hashedPassword)
      assert.isTrue(stored.isVerified)
      assert.isTrue(yield* PasswordHasher.makeArgon2().verify(pw, stored.hashedPassword))
    }).pipe(Effect.provide(layer))
  )
})

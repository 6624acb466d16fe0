/**
 * The manager with the real argon2id hasher (at cheap settings) on every storage: salted hashes are never
 * equal twice, so rules that compare hashes only show their worth here, not with the deterministic fake.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import { PasswordHasher, type UserManager, UserRepository } from "effect-users"
import { describePg, freshDatabase } from "./utils/PgTest.js"
import { defaultRepository } from "./utils/SqlTest.js"
import { freshEmail, harness, password } from "./utils/TestUsers.js"
import { recordingTracer } from "./utils/Tracing.js"

const cheap = { memoryCost: 1024, timeCost: 1 }
/** A complete PHC string of argon2id at the cheap settings: parameters, 16-byte salt, 32-byte hash. */
const currentArgon2id = /^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/

/** The real hasher, wrapped to keep every hash it was asked to verify against. */
const wrappedArgon2 = () => {
  const inner = PasswordHasher.makeArgon2(cheap)
  const verified: Array<string> = []
  const service: PasswordHasher.PasswordHasherService = {
    hash: inner.hash,
    verify: (pw, hash) =>
      Effect.zipRight(
        Effect.sync(() => verified.push(hash)),
        inner.verify(pw, hash)
      ),
    needsRehash: inner.needsRehash
  }
  return { inner, verified, layer: PasswordHasher.layer(service) }
}

// biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
const register = (users: UserManager.UserManagerService<any>, email = freshEmail()) =>
  users.create({ email, password: password("correct horse battery") })

const argon2Suite = (name: string, repository: Layer.Layer<UserRepository.UserRepository, unknown>) =>
  layer(repository)(name, (it) => {
    it.effect("forgot -> reset works with salted argon2id hashes, once; the new password logs in, the old not", () =>
      Effect.gen(function* () {
        const hasher = wrappedArgon2()
        const h = yield* harness({ extra: hasher.layer })
        const user = yield* register(h.users)
        assert.match(user.hashedPassword, currentArgon2id)
        const hooks = h.hooks.recorder()
        yield* h.users.forgotPassword(user)
        const [call] = hooks.named("onAfterForgotPassword")
        assert.strictEqual((call!.args[0] as { id: unknown }).id, user.id)
        const token = call!.args[1] as string

        const reset = yield* h.users.resetPassword(token, password("a brand new password"))
        assert.strictEqual(reset.id, user.id)
        assert.notStrictEqual(reset.hashedPassword, user.hashedPassword)
        const login = (pw: string) => h.users.authenticate({ username: user.email, password: password(pw) })
        assert.strictEqual((yield* login("a brand new password")).id, user.id)
        assert.strictEqual((yield* Effect.flip(login("correct horse battery")))._tag, "InvalidCredentials")
        const again = yield* Effect.flip(h.users.resetPassword(token, password("yet another password")))
        assert.strictEqual(again._tag, "InvalidResetPasswordToken")
        assert.lengthOf(hooks.named("onAfterResetPassword"), 1)
      })
    )

    it.effect("an unknown e-mail costs one real argon2id verify, against a readable hash at current settings", () =>
      Effect.gen(function* () {
        const hasher = wrappedArgon2()
        const h = yield* harness({ extra: hasher.layer })
        const { recorded, tracer } = recordingTracer()
        const error = yield* Effect.flip(
          h.users.authenticate({ username: freshEmail("nobody"), password: password("correct horse battery") })
        ).pipe(Effect.withTracer(tracer))
        assert.strictEqual(error._tag, "InvalidCredentials")
        assert.lengthOf(hasher.verified, 1)
        const [dummy] = hasher.verified
        assert.match(dummy!, currentArgon2id)
        assert.isFalse(hasher.inner.needsRehash(dummy!))
        // The span is opened only around a hash argon2 actually runs (an unreadable one is refused at once).
        assert.lengthOf(
          recorded.filter((entry) => "name" in entry && entry.name === "PasswordHasher.verify"),
          1
        )
      })
    )

    it.effect("an e-mail + password update checks the password against the NEW e-mail", () =>
      Effect.gen(function* () {
        const h = yield* harness({ extra: wrappedArgon2().layer })
        const user = yield* register(h.users)
        // Another domain: a password with the old address holds none of the new address's words.
        const email = freshEmail("galahad").replace("@camelot.bt", "@corbenic.bt")
        const error = yield* Effect.flip(h.users.update(user, { email, password: password(`x-${email}-x`) }))
        assert.strictEqual(error._tag, "InvalidPassword")
        assert.strictEqual((error as { reason?: string }).reason, "Password should not contain e-mail")
        const stored = yield* h.users.get(user.id)
        assert.deepStrictEqual([stored.email, stored.hashedPassword], [user.email, user.hashedPassword])
        const updated = yield* h.users.update(user, { email, password: password(`x-${user.email}-x`) })
        assert.strictEqual(updated.email, email)
      })
    )
  })

describe("UserManager with argon2id", () => {
  argon2Suite("in memory", UserRepository.layerMemory)
  argon2Suite("SQLite", defaultRepository(SqliteClient.layer({ filename: ":memory:" })))
})

describePg("UserManager with argon2id on PostgreSQL", () => {
  const db = freshDatabase()
  argon2Suite("PostgreSQL", defaultRepository(db.client))
})

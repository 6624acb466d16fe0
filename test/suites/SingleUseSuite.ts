/**
 * Hostile input and concurrency at the manager and repository level, run over every repository: one
 * account per address (NFC, full Unicode case folding), tokens that stay single-use under concurrent
 * requests, and passwords too long to be worth reading.
 */
import { assert, describe, layer } from "@effect/vitest"
import { assertSome } from "@effect/vitest/utils"
import { Cause, Effect, Exit, type Layer, Option, Redacted } from "effect"
import { PasswordHasher, TokenCodec, User, type UserManager, UserRepository } from "effect-users"
import { freshEmail, type Harness, harness, makeFakeHasher, password, resetSecret } from "../utils/TestUsers.js"
import { newUser } from "./UserRepositorySuite.js"

/** Runs the effects at once; returns the successes and the tags of the typed failures (a defect fails the test). */
export const race = <A, E extends { readonly _tag: string }>(effects: ReadonlyArray<Effect.Effect<A, E>>) =>
  Effect.gen(function* () {
    const exits = yield* Effect.all(
      effects.map((effect) => Effect.exit(effect)),
      { concurrency: "unbounded" }
    )
    const failures = exits.filter(Exit.isFailure).map((exit) => {
      const failure = Cause.failureOption(exit.cause)
      assert.isTrue(Option.isSome(failure), `ended with a defect: ${Cause.pretty(exit.cause)}`)
      return Option.getOrThrow(failure)._tag
    })
    return { successes: exits.filter(Exit.isSuccess).map((exit) => exit.value), failures }
  })

/** Every method yields to other fibers before and after it runs, as a store across a network does. */
const yielding = <S extends object>(service: S): S =>
  Object.fromEntries(
    Object.entries(service).map(([name, method]) => [
      name,
      (...args: ReadonlyArray<unknown>) =>
        Effect.yieldNow().pipe(
          Effect.zipRight(method(...args) as Effect.Effect<unknown, unknown>),
          Effect.zipLeft(Effect.yieldNow())
        )
    ])
  ) as S

/**
 * A harness whose repository and hasher yield between steps (argon2 hashes off the event loop): on the
 * in-memory store and SQLite's synchronous driver this lets concurrent operations interleave as they do in
 * production, so a read-then-write would lose the race here too.
 */
const interleaving = Effect.gen(function* () {
  // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
  const repository: UserRepository.UserRepositoryService<any> = yield* UserRepository.UserRepository
  const hasher = makeFakeHasher().service
  const { hash, verify } = yielding({ hash: hasher.hash, verify: hasher.verify })
  return yield* harness({ extra: PasswordHasher.layer({ ...hasher, hash, verify }) }).pipe(
    Effect.provideService(UserRepository.UserRepository, yielding(repository))
  )
})

/** An address spelled with an accented capital, precomposed (NFC). */
const accented = () => freshEmail("Émile.Zola").normalize("NFC")

/** The spellings of one address: NFD, lower case, upper case, padded with spaces. */
const spellings = (email: string) => [
  email.normalize("NFD"),
  email.toLowerCase(),
  email.toUpperCase(),
  `  ${email}\t`,
  email.toLowerCase().normalize("NFD")
]

const forgotPasswordToken = (h: Harness, user: unknown) =>
  Effect.gen(function* () {
    yield* h.users.forgotPassword(user)
    return h.hooks.named("onAfterForgotPassword").at(-1)!.args[1] as string
  })

const requestVerifyToken = (h: Harness, user: unknown) =>
  Effect.gen(function* () {
    yield* h.users.requestVerify(user)
    return h.hooks.named("onAfterRequestVerify").at(-1)!.args[1] as string
  })

// biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
const register = (users: UserManager.UserManagerService<any>, email = freshEmail()) =>
  users.create({ email, password: password("correct horse battery") })

/** The repository rules: the e-mail key and the conditional update. */
export const singleUseRepositorySuite = (
  name: string,
  repository: Layer.Layer<UserRepository.UserRepository, unknown>
) =>
  layer(repository, { excludeTestServices: true })(`${name}: e-mail keys and conditional updates`, (it) => {
    it.effect("emailKey: NFC and full Unicode case folding (É/é, ß/SS/ẞ, ς/σ/Σ, ﬁ/FI), trimmed", () =>
      Effect.sync(() => {
        for (const [a, b] of [
          ["Émile@zola.fr", "émile@zola.fr"],
          ["E\u0301mile@zola.fr", "émile@zola.fr"],
          ["straße@berlin.de", "STRASSE@berlin.de"],
          ["\u1e9e@berlin.de", "ss@berlin.de"],
          ["ΟΔΟΣ@athens.gr", "οδοσ@athens.gr"],
          ["ﬁne@paris.fr", "FINE@paris.fr"],
          [" king@camelot.bt ", "KING@CAMELOT.BT"]
        ]) {
          assert.strictEqual(User.emailKey(a!), User.emailKey(b!), `${a} / ${b}`)
        }
        assert.notStrictEqual(User.emailKey("emile@zola.fr"), User.emailKey("émile@zola.fr"))
      })
    )

    it.effect("emailKey: the domain is its DNS name (IDNA), so domains of different owners stay apart", () =>
      Effect.sync(() => {
        for (const [a, b] of [
          ["kay@Göttingen.DE", "kay@xn--gttingen-n4a.de"],
          ["kay@straße.de", "KAY@xn--strae-oqa.de"],
          ["kay@ｃａｍｅｌｏｔ.bt", "kay@camelot.bt"],
          ["kay@camelot.bt.", "kay@camelot.bt"]
        ]) {
          assert.strictEqual(User.emailKey(a!), User.emailKey(b!), `${a} / ${b}`)
        }
        for (const [a, b] of [
          ["kay@straße.de", "kay@strasse.de"],
          ["kay@ελλας.gr", "kay@ελλασ.gr"]
        ]) {
          assert.notStrictEqual(User.emailKey(a!), User.emailKey(b!), `${a} / ${b}`)
        }
        // Not a DNS name (an address literal, a number): folded like the local part, never a parse error.
        assert.strictEqual(User.emailKey("kay@[192.0.2.1]"), User.emailKey("KAY@[192.0.2.1]"))
        assert.strictEqual(User.emailKey("kay@1.2.3"), "kay@1.2.3")
        // A name too long for DNS is no DNS name either: never folded into a real one (ß beside ss).
        const long = "a".repeat(244)
        assert.notStrictEqual(User.emailKey(`kay@${long}straße.de`), User.emailKey(`kay@${long}strasse.de`))
        // Characters the URL parser drops (tab, newline, trailing controls) never vanish from a key.
        for (const odd of ["kay@came\tlot.bt", "kay@camelot.bt\u0000", "kay@came\nlot.bt"]) {
          assert.notStrictEqual(User.emailKey(odd), User.emailKey("kay@camelot.bt"), JSON.stringify(odd))
        }
      })
    )

    it.effect("sameMailbox: one domain by DNS name, one local part but for letter case; no folding", () =>
      Effect.sync(() => {
        assert.isTrue(User.sameMailbox("Kay@Camelot.BT", "kay@camelot.bt"))
        assert.isTrue(User.sameMailbox("Gauß@Göttingen.de", "gauß@xn--gttingen-n4a.de"))
        assert.isTrue(User.sameMailbox("E\u0301mile@zola.fr", "émile@zola.fr"))
        assert.isFalse(User.sameMailbox("gauß@göttingen.de", "GAUSS@göttingen.de"))
        assert.isFalse(User.sameMailbox("kay@straße.de", "kay@strasse.de"))
        assert.isFalse(User.sameMailbox("kay", "kay"))
      })
    )

    it.effect("an address in another case (full folding) or Unicode form is the same user", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const email = accented()
        const user = yield* repository.create(newUser(email))
        for (const variant of spellings(email)) {
          assert.strictEqual(Option.getOrThrow(yield* repository.getByEmail(variant)).id, user.id, variant)
          assert.strictEqual((yield* Effect.flip(repository.create(newUser(variant))))._tag, "UserAlreadyExists")
        }
        const german = yield* repository.create(newUser(freshEmail("straße")))
        const shouting = german.email.toUpperCase()
        assert.include(shouting, "STRASSE")
        assert.strictEqual(Option.getOrThrow(yield* repository.getByEmail(shouting)).id, german.id)
        assert.strictEqual((yield* Effect.flip(repository.create(newUser(shouting))))._tag, "UserAlreadyExists")
        const other = yield* repository.create(newUser())
        const moved = yield* Effect.flip(repository.update(other, { email: email.toLowerCase().normalize("NFD") }))
        assert.strictEqual(moved._tag, "UserAlreadyExists")
      })
    )

    it.effect("concurrent creates in every spelling of one address: one winner", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const email = accented()
        const { failures, successes } = yield* race(
          [...spellings(email), ...spellings(email)].map((variant) => repository.create(newUser(variant)))
        )
        assert.strictEqual(successes.length, 1)
        assert.deepStrictEqual(new Set(failures), new Set(["UserAlreadyExists"]))
      })
    )

    it.effect("a lookup with a NUL character finds nobody (and is no defect)", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const user = yield* repository.create(newUser())
        assert.isTrue(Option.isNone(yield* repository.getByEmail(`${user.email}\u0000`)))
      })
    )

    it.effect("updateIf writes only when the stored user matches the expectation", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const user = yield* repository.create(newUser())
        const stale = yield* repository.updateIf(user, { isVerified: true }, { hashedPassword: "fake$other" })
        assert.isTrue(Option.isNone(stale))
        assertSome(yield* repository.get(user.id), user)
        const wrongFlag = yield* repository.updateIf(user, { hashedPassword: "x" }, { isVerified: true })
        assert.isTrue(Option.isNone(wrongFlag))
        const written = yield* repository.updateIf(
          user,
          { isVerified: true },
          { email: user.email, isVerified: false, isActive: true, hashedPassword: user.hashedPassword }
        )
        assertSome(written, { ...user, isVerified: true })
        assert.deepStrictEqual(yield* repository.get(user.id), written)
        assert.isTrue(Option.isNone(yield* repository.updateIf(newUser(), { isVerified: true }, {})))
        const taken = yield* repository.create(newUser())
        const conflict = yield* Effect.flip(repository.updateIf(user, { email: taken.email.toUpperCase() }, {}))
        assert.strictEqual(conflict._tag, "UserAlreadyExists")
        // A new e-mail written through updateIf is found by its key.
        const moved = accented()
        yield* repository.updateIf(user, { email: moved }, { email: user.email })
        assert.strictEqual(Option.getOrThrow(yield* repository.getByEmail(moved.toUpperCase())).id, user.id)
      })
    )

    it.effect("of 6 concurrent updateIf expecting one state, exactly one writes", () =>
      Effect.gen(function* () {
        const repository = yield* UserRepository.UserRepository
        const user = yield* repository.create(newUser())
        const { successes } = yield* race(
          Array.from({ length: 6 }, (_, i) =>
            repository.updateIf(user, { hashedPassword: `fake$${i}` }, { hashedPassword: user.hashedPassword })
          )
        )
        const written = successes.filter(Option.isSome)
        assert.strictEqual(written.length, 1)
        assert.deepStrictEqual(yield* repository.get(user.id), written[0])
      })
    )
  })

/** The manager rules, over the repository given. */
export const singleUseManagerSuite = (name: string, repository: Layer.Layer<UserRepository.UserRepository, unknown>) =>
  layer(repository, { excludeTestServices: true })(`${name}: hostile input and concurrency`, (it) => {
    describe("one account per address", () => {
      it.effect("e-mails are stored trimmed and in NFC; every spelling logs in and collides", () =>
        Effect.gen(function* () {
          const { users } = yield* harness()
          const email = accented()
          const user = yield* register(users, `  ${email.normalize("NFD")} `)
          assert.strictEqual(user.email, email)
          for (const variant of spellings(email)) {
            assert.strictEqual((yield* users.getByEmail(variant)).id, user.id)
            const login = yield* users.authenticate({ username: variant, password: password("correct horse battery") })
            assert.strictEqual(login.id, user.id)
            assert.strictEqual((yield* Effect.flip(register(users, variant)))._tag, "UserAlreadyExists")
          }
          const other = yield* register(users)
          const updated = yield* users.update(other, { email: `${freshEmail("Zoë").normalize("NFD")} ` })
          assert.strictEqual(updated.email, updated.email.trim().normalize("NFC"))
        })
      )
    })

    describe("passwords", () => {
      it.effect("authenticate refuses a 10 MB password in well under 50 ms, without hashing, known or not", () =>
        Effect.gen(function* () {
          const { hasher, users } = yield* harness()
          const user = yield* register(users)
          const huge = password("a".repeat(10 * 1024 * 1024))
          const before = { ...hasher.counts }
          for (const username of [user.email, freshEmail("nobody")]) {
            const started = performance.now()
            const error = yield* Effect.flip(users.authenticate({ username, password: huge }))
            const ms = performance.now() - started
            assert.strictEqual(error._tag, "InvalidCredentials")
            assert.isBelow(ms, 50)
          }
          assert.deepStrictEqual(hasher.counts, before)
          // One unit under the bound is still checked (and hashed) as usual.
          const long = password("a".repeat(4096))
          assert.strictEqual(
            (yield* Effect.flip(users.authenticate({ username: user.email, password: long })))._tag,
            "InvalidCredentials"
          )
          assert.strictEqual(hasher.counts.verify, before.verify + 1)
        })
      )
    })

    describe("single-use tokens", () => {
      it.effect("of 6 concurrent resetPassword with one token exactly one succeeds; one onAfterResetPassword", () =>
        Effect.gen(function* () {
          const h = yield* interleaving
          const user = yield* register(h.users)
          const token = yield* forgotPasswordToken(h, user)
          const { failures, successes } = yield* race(
            Array.from({ length: 6 }, (_, i) => h.users.resetPassword(token, password(`new password number ${i}`)))
          )
          assert.strictEqual(successes.length, 1)
          assert.deepStrictEqual(failures, Array(5).fill("InvalidResetPasswordToken"))
          assert.strictEqual(h.hooks.named("onAfterResetPassword").length, 1)
          const stored = yield* h.users.get(user.id)
          assert.strictEqual(stored.hashedPassword, successes[0]!.hashedPassword)
        })
      )

      it.effect("of 6 concurrent verify with one token exactly one succeeds; one onAfterVerify", () =>
        Effect.gen(function* () {
          const h = yield* interleaving
          const user = yield* register(h.users)
          const token = yield* requestVerifyToken(h, user)
          const { failures, successes } = yield* race(Array.from({ length: 6 }, () => h.users.verify(token)))
          assert.strictEqual(successes.length, 1)
          assert.deepStrictEqual(failures, Array(5).fill("UserAlreadyVerified"))
          assert.strictEqual(h.hooks.named("onAfterVerify").length, 1)
          assert.isTrue((yield* h.users.get(user.id)).isVerified)
        })
      )

      it.effect("a verify racing an e-mail change never marks the new address verified (20 trials)", () =>
        Effect.gen(function* () {
          const h = yield* interleaving
          for (let trial = 0; trial < 20; trial++) {
            const user = yield* register(h.users)
            const token = yield* requestVerifyToken(h, user)
            const moved = freshEmail("moved")
            const change = h.users.update(user, { email: moved })
            const verify = h.users.verify(token)
            // Both orders of starting, so that either may reach the store first.
            yield* Effect.all(trial % 2 === 0 ? [Effect.exit(verify), change] : [change, Effect.exit(verify)], {
              concurrency: "unbounded"
            })
            const stored = yield* h.users.get(user.id)
            assert.strictEqual(stored.email, moved)
            assert.isFalse(stored.isVerified, `trial ${trial}: the new address was marked verified`)
          }
        })
      )

      it.effect("a reset racing an e-mail change never lands after it (20 trials)", () =>
        Effect.gen(function* () {
          const h = yield* interleaving
          for (let trial = 0; trial < 20; trial++) {
            const user = yield* register(h.users)
            const token = yield* forgotPasswordToken(h, user)
            const change = h.users.update(user, { email: freshEmail("moved") })
            const reset = Effect.exit(h.users.resetPassword(token, password("a brand new password")))
            const exit =
              trial % 2 === 0
                ? (yield* Effect.all([reset, change], { concurrency: "unbounded" }))[0]
                : (yield* Effect.all([change, reset], { concurrency: "unbounded" }))[1]
            // A reset that succeeds wrote over the e-mail its token names: before the change, never after it.
            if (Exit.isSuccess(exit)) {
              assert.strictEqual(exit.value.email, user.email, `trial ${trial}: the reset landed after the change`)
            }
          }
        })
      )

      it.effect("a reset token is spent by an e-mail change (and by a change of its case)", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          for (const move of [() => freshEmail("elsewhere"), (email: string) => email.toUpperCase()]) {
            const user = yield* register(h.users)
            const token = yield* forgotPasswordToken(h, user)
            yield* h.users.update(user, { email: move(user.email) })
            const error = yield* Effect.flip(h.users.resetPassword(token, password("a brand new password")))
            assert.strictEqual(error._tag, "InvalidResetPasswordToken")
            assert.strictEqual(h.hooks.named("onAfterResetPassword").length, 0)
          }
        })
      )

      it.effect("a reset token without an e-mail claim (FastAPI Users writes none) still works once", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const fingerprint = yield* h.hasher.service.hash(Redacted.make(user.hashedPassword))
          const token = yield* TokenCodec.makeJwt().sign(
            { sub: user.id, password_fgpt: fingerprint },
            { secret: resetSecret, audience: "effect-users:reset", lifetime: "1 hour" }
          )
          yield* h.users.resetPassword(token, password("a brand new password"))
          const again = yield* Effect.flip(h.users.resetPassword(token, password("another new password")))
          assert.strictEqual(again._tag, "InvalidResetPasswordToken")
        })
      )
    })
  })

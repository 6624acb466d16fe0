/**
 * `SecondFactor` over the memory store, under the TestClock (fast; the HTTP contract is in
 * `test/http/SecondFactor.test.ts`): the key's length, TOTP's window of one step either side and its single use,
 * the `mfa_token`'s lifetime of 5 minutes and its death at the fifth wrong code, recovery codes counted only beside
 * a factor, secrets sealed at rest, the purge of expired `mfa_token`s, and which `amr` values mean two factors.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Exit, Layer, Option, Redacted, TestClock } from "effect"
import { SecondFactor, SecondFactorStore } from "effect-users"
import * as OTPAuth from "otpauth"
import * as TokenCipher from "../src/internal/tokenCipher.js"

const encryptionKey = Redacted.make("an-encryption-key-of-32-bytes-ok")
const user = {
  id: "user-1",
  email: "arthur@camelot.bt",
  hashedPassword: "",
  isActive: true,
  isSuperuser: false,
  isVerified: true
}

/** The second factors over a fresh memory store (both returned), built in the test's scope and clock. */
const build = (options: Partial<SecondFactor.Options> = {}) =>
  Effect.gen(function* () {
    const store = SecondFactorStore.makeMemory()
    const factors = yield* SecondFactor.make({ encryptionKey, ...options }).pipe(
      Effect.provide(Layer.succeed(SecondFactorStore.SecondFactorStore, store)),
      Effect.orDie
    )
    return { factors, store }
  })

/** The code of `secret` for the time step `steps` away from the (test) clock's now. */
const codeAt = (secret: string, steps = 0) =>
  Effect.map(TestClock.currentTimeMillis, (now) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: now + steps * 30_000 })
  )

/** A user with TOTP on (confirmed at step 0 of the clock, moved on to `at`): its secret and recovery codes. */
const enrolled = (factors: SecondFactor.SecondFactorService, at: Duration.DurationInput = "10 minutes") =>
  Effect.gen(function* () {
    const { secret } = yield* factors.beginTotp(user)
    const codes = yield* factors
      .confirmTotp(user, Redacted.make(yield* codeAt(Redacted.value(secret))))
      .pipe(Effect.orDie)
    yield* TestClock.adjust(at)
    return { secret: Redacted.value(secret), codes: codes.map(Redacted.value) }
  })

const totp = (code: string) => ({ method: "totp", value: Redacted.make(code) })
const recovery = (code: string) => ({ method: "recovery_code", value: Redacted.make(code) })
const challenge = { userId: user.id, backend: "jwt", method: "password", amr: ["pwd"], epoch: 0 }

describe("SecondFactor", () => {
  it.scoped("the encryption key needs 32 bytes: 31 fail the layer, 32 build it", () =>
    Effect.gen(function* () {
      const short = yield* Effect.exit(build({ encryptionKey: Redacted.make("x".repeat(31)) }).pipe(Effect.sandbox))
      assert.isTrue(Exit.isFailure(short))
      const exact = yield* build({ encryptionKey: Redacted.make("x".repeat(32)) })
      assert.isTrue(exact.factors.enabled)
    })
  )

  it.scoped(
    "enrolment: a 160-bit secret, sealed at rest; a wrong code or none pending refuses; ten distinct codes",
    () =>
      Effect.gen(function* () {
        const { factors, store } = yield* build()
        assert.instanceOf(
          yield* Effect.flip(factors.confirmTotp(user, Redacted.make("123456"))),
          SecondFactor.MfaNotPending
        )
        const { secret, uri } = yield* factors.beginTotp(user)
        assert.lengthOf(Redacted.value(secret), 32, "160 bits of base32")
        assert.include(Redacted.value(uri), "issuer=effect-users")
        const sealed = Option.getOrThrow(Option.flatMap(yield* store.totp(user.id), (found) => found.pending))
        assert.notInclude(sealed, Redacted.value(secret))
        assert.isFalse(yield* factors.hasFactor(user.id), "pending is not on")
        const right = yield* codeAt(Redacted.value(secret))
        const wrong = right === "000000" ? "111111" : "000000"
        assert.instanceOf(yield* Effect.flip(factors.confirmTotp(user, Redacted.make(wrong))), SecondFactor.MfaBadCode)
        const codes = (yield* factors.confirmTotp(user, Redacted.make(right)).pipe(Effect.orDie)).map(Redacted.value)
        assert.lengthOf(codes, SecondFactor.recoveryCodeCount)
        assert.lengthOf(new Set(codes), 10)
        for (const code of codes) assert.match(code, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/)
        const stored = Option.getOrThrow(Option.flatMap(yield* store.totp(user.id), (found) => found.secret))
        assert.notInclude(stored, Redacted.value(secret))
        assert.isTrue(yield* factors.hasFactor(user.id))
        assert.deepStrictEqual(yield* factors.status(user.id), { totp: true, recoveryCodesLeft: 10 })
        // The confirming code's step is spent with it.
        assert.isTrue(Option.isNone(yield* factors.verify(user.id, totp(right))))
      })
  )

  it.scoped("a TOTP code: one step either side of now, not two; once; never a step before the last accepted", () =>
    Effect.gen(function* () {
      const { factors } = yield* build()
      const { secret } = yield* enrolled(factors)
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, totp(yield* codeAt(secret, -2)))))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, totp(yield* codeAt(secret, 2)))))
      const previous = yield* codeAt(secret, -1)
      assert.deepStrictEqual(yield* factors.verify(user.id, totp(previous)), Option.some(["otp"]))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, totp(previous))), "replayed")
      // The next step's code is accepted; the current step's code, earlier than it, is then refused.
      const next = yield* codeAt(secret, 1)
      const current = yield* codeAt(secret)
      assert.isTrue(Option.isSome(yield* factors.verify(user.id, totp(next))))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, totp(current))), "a step before the last one")
      yield* TestClock.adjust("60 seconds")
      assert.isTrue(Option.isSome(yield* factors.verify(user.id, totp(yield* codeAt(secret)))))
    })
  )

  it.scoped("a code is spent for its whole step: replayed a second or twenty later, it is refused", () =>
    Effect.gen(function* () {
      const { factors } = yield* build()
      const { secret } = yield* enrolled(factors)
      const code = yield* codeAt(secret)
      assert.isTrue(Option.isSome(yield* factors.verify(user.id, totp(code))))
      yield* TestClock.adjust("1 second")
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, totp(code))))
      yield* TestClock.adjust("20 seconds")
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, totp(code))))
    })
  )

  it.scoped("the secret is sealed under the key (purpose mfa-totp); under another key no code is accepted", () =>
    Effect.gen(function* () {
      const { factors, store } = yield* build()
      const { secret } = yield* enrolled(factors)
      const sealed = Option.getOrThrow(Option.flatMap(yield* store.totp(user.id), (found) => found.secret))
      assert.strictEqual(TokenCipher.make(encryptionKey, "effect-users:mfa-totp").decrypt(sealed), secret)
      assert.throws(() => TokenCipher.make(encryptionKey).decrypt(sealed))
      const otherKey = yield* SecondFactor.make({
        encryptionKey: Redacted.make("another-encryption-key-of-32-byte")
      }).pipe(Effect.provide(Layer.succeed(SecondFactorStore.SecondFactorStore, store)), Effect.orDie)
      const code = yield* codeAt(secret)
      assert.isTrue(Option.isNone(yield* otherKey.verify(user.id, totp(code))))
      assert.isTrue(Option.isSome(yield* factors.verify(user.id, totp(code))))
    })
  )

  it.scoped("a code that is not six digits, or not a string, is refused", () =>
    Effect.gen(function* () {
      const { factors } = yield* build()
      const { secret } = yield* enrolled(factors)
      const code = yield* codeAt(secret)
      for (const value of [` ${code}`, `${code} `, `${code}0`, code.slice(1), `x${code}`]) {
        assert.isTrue(Option.isNone(yield* factors.verify(user.id, totp(value))), JSON.stringify(value))
      }
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, { method: "totp", value: Number(code) })))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, { method: "recovery_code", value: 12345 })))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, { method: "recovery_code", value: undefined })))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, { method: "sms", value: Redacted.make(code) })))
      assert.isTrue(Option.isSome(yield* factors.verify(user.id, { method: "totp", value: code })))
    })
  )

  it.scoped("a TOTP code is bound to its user: another user's code, or a user without TOTP, is refused", () =>
    Effect.gen(function* () {
      const { factors } = yield* build()
      const { secret } = yield* enrolled(factors)
      const code = yield* codeAt(secret)
      assert.isTrue(Option.isNone(yield* factors.verify("user-2", totp(code))))
      assert.isTrue(Option.isNone(yield* factors.verify("user-2", recovery("abcd-efgh-ijkl-mnop"))))
      assert.isTrue(Option.isSome(yield* factors.verify(user.id, totp(code))))
    })
  )

  it.scoped(
    "recovery codes: each once, case, spaces and dashes aside; new ones kill the old; the count goes down",
    () =>
      Effect.gen(function* () {
        const { factors } = yield* build()
        const { codes } = yield* enrolled(factors)
        assert.deepStrictEqual(yield* factors.verify(user.id, recovery(codes[0]!)), Option.some(["otp"]))
        assert.isTrue(Option.isNone(yield* factors.verify(user.id, recovery(codes[0]!))), "used")
        const typed = ` ${codes[1]!.toUpperCase().replaceAll("-", " ")} `
        assert.isTrue(Option.isSome(yield* factors.verify(user.id, recovery(typed))))
        assert.strictEqual((yield* factors.status(user.id)).recoveryCodesLeft, 8)
        assert.isTrue(Option.isNone(yield* factors.verify(user.id, recovery("x".repeat(65)))))
        const fresh = (yield* factors.regenerateRecoveryCodes(user)).map(Redacted.value)
        assert.isTrue(Option.isNone(yield* factors.verify(user.id, recovery(codes[2]!))), "an old code")
        assert.isTrue(Option.isSome(yield* factors.verify(user.id, recovery(fresh[0]!))))
        assert.strictEqual((yield* factors.status(user.id)).recoveryCodesLeft, 9)
      })
  )

  it.scoped("recovery codes alone are no factor: not offered, not counted, not accepted", () =>
    Effect.gen(function* () {
      const { factors } = yield* build()
      const { codes } = yield* enrolled(factors)
      assert.deepStrictEqual(yield* factors.methodsOf(user.id), ["totp", "recovery_code"])
      // TOTP gone, codes left behind (as a store could hold them): a backup beside nothing.
      const fresh = (yield* factors.regenerateRecoveryCodes(user)).map(Redacted.value)
      assert.isTrue(yield* factors.disableTotp(user))
      assert.isFalse(yield* factors.disableTotp(user), "it was off already")
      assert.deepStrictEqual(yield* factors.methodsOf(user.id), [])
      assert.isFalse(yield* factors.hasFactor(user.id))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, recovery(fresh[0]!))))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, recovery(codes[0]!))))
    })
  )

  it.scoped("a backup left beside no factor is not accepted (the store still holds the code)", () =>
    Effect.gen(function* () {
      const { factors, store } = yield* build()
      yield* enrolled(factors)
      // The TOTP goes, and codes are stored again (the memory store's removeTotp takes them with it).
      yield* store.removeTotp(user.id)
      const again = (yield* factors.regenerateRecoveryCodes(user)).map(Redacted.value)
      assert.strictEqual(yield* store.recoveryCodesLeft(user.id), 10)
      assert.deepStrictEqual(yield* factors.methodsOf(user.id), [])
      assert.isFalse(yield* factors.hasFactor(user.id))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, recovery(again[0]!))))
      assert.strictEqual(yield* store.recoveryCodesLeft(user.id), 10, "nothing spent")
    })
  )

  it.scoped("an mfa_token lives 5 minutes by default: alive just before, dead at 5 minutes", () =>
    Effect.gen(function* () {
      const { factors } = yield* build()
      const token = yield* factors.issue(challenge)
      assert.match(token, /^[A-Za-z0-9_-]{43}$/)
      const alive = Option.getOrThrow(yield* factors.pending(token))
      assert.deepStrictEqual(alive.challenge, { ...challenge, expiresAt: new Date(5 * 60_000), failures: 0 })
      assert.isTrue(Option.isNone(yield* factors.pending(`${token}x`)))
      assert.isTrue(Option.isNone(yield* factors.pending(token.slice(1))))
      yield* TestClock.adjust(5 * 60_000 - 1)
      assert.isTrue(Option.isSome(yield* factors.pending(token)))
      yield* TestClock.adjust(1)
      assert.isTrue(Option.isNone(yield* factors.pending(token)))
    })
  )

  it.scoped("an mfa_token's lifetime is configurable", () =>
    Effect.gen(function* () {
      const { factors } = yield* build({ challengeLifetime: "1 minute" })
      const token = yield* factors.issue(challenge)
      yield* TestClock.adjust("59 seconds")
      assert.isTrue(Option.isSome(yield* factors.pending(token)))
      yield* TestClock.adjust("1 second")
      assert.isTrue(Option.isNone(yield* factors.pending(token)))
    })
  )

  it.scoped("an mfa_token dies at the fifth wrong code by default, is spent once, and is nobody else's", () =>
    Effect.gen(function* () {
      const { factors } = yield* build()
      const token = yield* factors.issue(challenge)
      const { digest } = Option.getOrThrow(yield* factors.pending(token))
      for (let failure = 1; failure < 5; failure++) assert.isTrue(yield* factors.fail(digest), `failure ${failure}`)
      assert.strictEqual(Option.getOrThrow(yield* factors.pending(token)).challenge.failures, 4)
      assert.isFalse(yield* factors.fail(digest), "the fifth")
      assert.isTrue(Option.isNone(yield* factors.pending(token)))
      const other = yield* factors.issue(challenge)
      const second = Option.getOrThrow(yield* factors.pending(other)).digest
      assert.notStrictEqual(second, digest)
      assert.isTrue(yield* factors.spend(second))
      assert.isFalse(yield* factors.spend(second))
      assert.isTrue(Option.isNone(yield* factors.pending(other)))
    })
  )

  it.scoped("maxFailures is configurable", () =>
    Effect.gen(function* () {
      const { factors } = yield* build({ maxFailures: 2 })
      const { digest } = Option.getOrThrow(yield* factors.pending(yield* factors.issue(challenge)))
      assert.isTrue(yield* factors.fail(digest))
      assert.isFalse(yield* factors.fail(digest))
    })
  )

  it.scoped("expired mfa_tokens are purged from the store every purgeInterval; live ones stay", () =>
    Effect.gen(function* () {
      const { factors, store } = yield* build({ challengeLifetime: "1 minute", purgeInterval: "10 minutes" })
      const expiring = Option.getOrThrow(yield* factors.pending(yield* factors.issue(challenge))).digest
      yield* TestClock.adjust("9 minutes")
      const live = Option.getOrThrow(yield* factors.pending(yield* factors.issue(challenge))).digest
      assert.isTrue(Option.isSome(yield* store.findChallenge(expiring)), "not purged yet")
      yield* TestClock.adjust("1 minute")
      assert.isTrue(Option.isNone(yield* store.findChallenge(expiring)))
      assert.isTrue(Option.isSome(yield* store.findChallenge(live)))
    })
  )

  it.scoped("reset removes every factor and the user's pending logins", () =>
    Effect.gen(function* () {
      const { factors } = yield* build()
      yield* enrolled(factors)
      const token = yield* factors.issue(challenge)
      yield* factors.reset(user.id)
      assert.isFalse(yield* factors.hasFactor(user.id))
      assert.deepStrictEqual(yield* factors.status(user.id), { totp: false, recoveryCodesLeft: 0 })
      assert.isTrue(Option.isNone(yield* factors.pending(token)))
    })
  )

  it.scoped("a registered factor counts until its scope closes", () =>
    Effect.gen(function* () {
      const { factors } = yield* build()
      const key: SecondFactor.Factor = {
        method: "webauthn",
        amr: ["hwk", "user"],
        enrolled: () => Effect.succeed(true),
        verify: (_userId, value) => Effect.succeed(value === "ok"),
        remove: () => Effect.void
      }
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* factors.register(key)
          assert.deepStrictEqual(yield* factors.methodsOf(user.id), ["webauthn"])
          assert.deepStrictEqual(
            yield* factors.verify(user.id, { method: "webauthn", value: "ok" }),
            Option.some(["hwk", "user"])
          )
        })
      )
      assert.deepStrictEqual(yield* factors.methodsOf(user.id), [])
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, { method: "webauthn", value: "ok" })))
    })
  )

  it.effect("layerFactor registers a factor with the SecondFactor layer", () =>
    Effect.gen(function* () {
      const factors = yield* SecondFactor.SecondFactor
      assert.deepStrictEqual(yield* factors.methodsOf(user.id), ["webauthn"])
    }).pipe(
      Effect.provide(
        SecondFactor.layerFactor({
          method: "webauthn",
          amr: ["hwk", "user"],
          enrolled: () => Effect.succeed(true),
          verify: () => Effect.succeed(false),
          remove: () => Effect.void
        }).pipe(
          Layer.provideMerge(SecondFactor.layer({ encryptionKey })),
          Layer.provide(SecondFactorStore.layerMemory),
          Layer.orDie
        )
      )
    )
  )

  it("two factors in an amr: mfa, or a passkey with user verification (hwk AND user); nothing less", () => {
    assert.isTrue(SecondFactor.isMultiFactor(["pwd", "otp", "mfa"]))
    assert.isTrue(SecondFactor.isMultiFactor(["hwk", "user"]))
    assert.isFalse(SecondFactor.isMultiFactor(["hwk"]))
    assert.isFalse(SecondFactor.isMultiFactor(["user"]))
    assert.isFalse(SecondFactor.isMultiFactor(["pwd", "otp"]))
    assert.isFalse(SecondFactor.isMultiFactor([]))
    assert.isFalse(SecondFactor.isMultiFactor(undefined))
    assert.deepStrictEqual(SecondFactor.combinedAmr(["pwd"], ["otp"]), ["pwd", "otp", "mfa"])
    assert.deepStrictEqual(SecondFactor.combinedAmr(["otp", "mfa"], ["otp"]), ["otp", "mfa"])
  })

  it.effect("disabled: nobody has a factor and nothing verifies", () =>
    Effect.gen(function* () {
      const factors = SecondFactor.disabled
      assert.isFalse(factors.enabled)
      assert.isFalse(yield* factors.hasFactor(user.id))
      assert.isTrue(Option.isNone(yield* factors.verify(user.id, totp("123456"))))
      assert.isTrue(Option.isNone(yield* factors.pending("x".repeat(43))))
      assert.isFalse(yield* factors.spend("digest"))
      assert.isFalse(yield* factors.fail("digest"))
      assert.deepStrictEqual(yield* factors.methodsOf(user.id), [])
      assert.isFalse(yield* factors.disableTotp(user))
      assert.deepStrictEqual(yield* factors.status(user.id), { totp: false, recoveryCodesLeft: 0 })
    })
  )
})

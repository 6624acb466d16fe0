import { createHmac } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import { deepStrictEqual } from "@effect/vitest/utils"
import { Clock, Effect, Exit, type Layer, Logger, Option, Redacted, TestClock } from "effect"
import {
  IdParser,
  PasswordHasher,
  PasswordValidator,
  TokenCodec,
  UserError,
  type UserManager,
  UserManagerConfig,
  UserRepository
} from "effect-users"
import { freshEmail, harness, password, resetSecret, testConfig, verifySecret } from "../utils/TestUsers.js"

const codec = TokenCodec.makeJwt()
const hour = "1 hour"
const signVerify = (
  claims: Record<string, unknown>,
  options: { secret?: Redacted.Redacted<string>; audience?: string } = {}
) =>
  codec.sign(claims, {
    secret: options.secret ?? verifySecret,
    audience: options.audience ?? "effect-users:verify",
    lifetime: hour
  })
const signReset = (
  claims: Record<string, unknown>,
  options: { secret?: Redacted.Redacted<string>; audience?: string } = {}
) =>
  codec.sign(claims, {
    secret: options.secret ?? resetSecret,
    audience: options.audience ?? "effect-users:reset",
    lifetime: hour
  })

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/** A token with `alg: none`, which must never be accepted. */
const unsignedToken = (claims: Record<string, unknown>) =>
  `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`

/** A JWT built byte by byte the way PyJWT (FastAPI Users) writes it, without our codec. */
const pyJwtToken = (claims: Record<string, unknown>, secret: Redacted.Redacted<string>) => {
  const signingInput = `${base64url({ alg: "HS256", typ: "JWT" })}.${base64url(claims)}`
  const signature = createHmac("sha256", Redacted.value(secret)).update(signingInput).digest("base64url")
  return `${signingInput}.${signature}`
}

/** Registers a user through the manager (unsafe, so flags can be set). */
const register = (
  // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
  users: UserManager.UserManagerService<any>,
  fields: { email?: string; password?: string; isActive?: boolean; isVerified?: boolean; isSuperuser?: boolean } = {}
) =>
  users.create({
    email: fields.email ?? freshEmail(),
    password: password(fields.password ?? "correct horse battery"),
    isActive: fields.isActive,
    isVerified: fields.isVerified,
    isSuperuser: fields.isSuperuser
  })

/** The verification token the manager hands to `onAfterRequestVerify`. */
// biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
const requestVerifyToken = (h: Effect.Effect.Success<ReturnType<typeof harness>>, user: any) =>
  Effect.gen(function* () {
    yield* h.users.requestVerify(user)
    return h.hooks.named("onAfterRequestVerify").at(-1)!.args[1] as string
  })

/** The reset token the manager hands to `onAfterForgotPassword`. */
// biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
const forgotPasswordToken = (h: Effect.Effect.Success<ReturnType<typeof harness>>, user: any) =>
  Effect.gen(function* () {
    yield* h.users.forgotPassword(user)
    return h.hooks.named("onAfterForgotPassword").at(-1)!.args[1] as string
  })

/**
 * The manager's specification, run over any repository layer: the in-memory one and each SQL backend.
 * Tests share the repository, so each uses its own e-mail addresses.
 */
export const userManagerSuite = (name: string, repository: Layer.Layer<UserRepository.UserRepository, unknown>) =>
  layer(repository)(name, (it) => {
    describe("lookups", () => {
      it.effect("get finds a user by ID and fails with UserNotExists for an unknown one", () =>
        Effect.gen(function* () {
          const { users } = yield* harness()
          const user = yield* register(users)
          assert.deepStrictEqual((yield* users.get(user.id)).email, user.email)
          const missing = yield* Effect.flip(users.get("0b5d1f9a-7c3e-4c1e-9b0a-2f4f7f6a1d11"))
          assert.strictEqual(missing._tag, "UserNotExists")
        })
      )

      it.effect("getByEmail ignores case", () =>
        Effect.gen(function* () {
          const { users } = yield* harness()
          const email = freshEmail("King.Arthur")
          const user = yield* register(users, { email })
          assert.strictEqual((yield* users.getByEmail(email.toLowerCase())).id, user.id)
          assert.strictEqual((yield* users.getByEmail(email.toUpperCase())).id, user.id)
          assert.strictEqual((yield* Effect.flip(users.getByEmail(freshEmail("nobody"))))._tag, "UserNotExists")
        })
      )

      it.effect("parseId uses the default UUID parser", () =>
        Effect.gen(function* () {
          const { users } = yield* harness()
          assert.strictEqual(
            yield* users.parseId("0B5D1F9A-7C3E-4C1E-9B0A-2F4F7F6A1D11"),
            "0b5d1f9a-7c3e-4c1e-9b0a-2f4f7f6a1d11"
          )
          assert.strictEqual((yield* Effect.flip(users.parseId("abc")))._tag, "InvalidID")
        })
      )

      it.effect("parseId uses the IdParser layer provided", () =>
        Effect.gen(function* () {
          const { users } = yield* harness({ extra: IdParser.layerInteger })
          assert.strictEqual(yield* users.parseId("123"), 123)
          assert.strictEqual((yield* Effect.flip(users.parseId("123.42")))._tag, "InvalidID")
        })
      )
    })

    describe("create", () => {
      it.effect(
        "stores the user with a hash of the password, active, not superuser, not verified, then runs onAfterRegister",
        () =>
          Effect.gen(function* () {
            const { hasher, hooks, users } = yield* harness()
            const email = freshEmail()
            const user = yield* users.create({ email, password: password("correct horse battery") })
            assert.strictEqual(user.email, email)
            assert.strictEqual(user.hashedPassword, hasher.digest(password("correct horse battery")))
            assert.isTrue(user.isActive)
            assert.isFalse(user.isSuperuser)
            assert.isFalse(user.isVerified)
            assert.deepStrictEqual(
              hooks.calls.map((c) => c.hook),
              ["onAfterRegister"]
            )
            deepStrictEqual(hooks.calls[0]!.args, [user, Option.none()])
          })
      )

      it.effect("safe create ignores the flags; unsafe create applies them", () =>
        Effect.gen(function* () {
          const { users } = yield* harness()
          const flags = { isActive: false, isSuperuser: true, isVerified: true }
          const safe = yield* users.create(
            { email: freshEmail(), password: password("correct horse"), ...flags },
            {
              safe: true
            }
          )
          assert.deepStrictEqual([safe.isActive, safe.isSuperuser, safe.isVerified], [true, false, false])
          const unsafe = yield* users.create({ email: freshEmail(), password: password("correct horse"), ...flags })
          assert.deepStrictEqual([unsafe.isActive, unsafe.isSuperuser, unsafe.isVerified], [false, true, true])
        })
      )

      it.effect("an invalid password fails with InvalidPassword and its reason; nothing is stored, no hook runs", () =>
        Effect.gen(function* () {
          const { hasher, hooks, users } = yield* harness()
          const email = freshEmail()
          const error = yield* Effect.flip(users.create({ email, password: password("short") }))
          assert.strictEqual(error._tag, "InvalidPassword")
          // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
          assert.strictEqual((error as any).reason, "Password should be at least 8 characters")
          assert.strictEqual(hasher.counts.hash, 1) // the dummy hash made when the manager was built
          assert.isTrue(Option.isNone(yield* Effect.option(users.getByEmail(email))))
          assert.lengthOf(hooks.calls, 0)
        })
      )

      it.effect("an e-mail taken in any case fails with UserAlreadyExists; nothing is stored, no hook runs", () =>
        Effect.gen(function* () {
          const { hooks, users } = yield* harness()
          const email = freshEmail("Lancelot")
          const first = yield* register(users, { email })
          const error = yield* Effect.flip(register(users, { email: email.toUpperCase() }))
          assert.strictEqual(error._tag, "UserAlreadyExists")
          assert.strictEqual((yield* users.getByEmail(email)).id, first.id)
          assert.deepStrictEqual(
            hooks.calls.map((c) => c.hook),
            ["onAfterRegister"]
          )
        })
      )

      it.effect("the password never appears in errors", () =>
        Effect.gen(function* () {
          const { users } = yield* harness()
          const email = freshEmail()
          const secret = `pw-containing-${email}`
          const error = yield* Effect.flip(users.create({ email, password: password(secret) }))
          assert.strictEqual(error._tag, "InvalidPassword")
          assert.notInclude(JSON.stringify(error), secret)
          assert.notInclude(String(error), secret)
          assert.notInclude(error.message, secret)
        })
      )
    })

    describe("list and count", () => {
      it.effect("list and count the users matching the filters; an unsafe create makes a superuser", () =>
        Effect.gen(function* () {
          const { users } = yield* harness()
          const tag = `mgr${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
          const admin = yield* register(users, {
            email: `${tag}.admin@camelot.bt`,
            isSuperuser: true,
            isVerified: true
          })
          const knight = yield* register(users, { email: `${tag}.knight@camelot.bt` })
          const byId = [admin, knight].sort((a, b) => (a.id < b.id ? -1 : 1))
          assert.deepStrictEqual(yield* users.list({ emailPrefix: tag }), byId)
          assert.deepStrictEqual(yield* users.list({ emailPrefix: tag, isSuperuser: true }), [admin])
          assert.deepStrictEqual(yield* users.list({ emailPrefix: tag, limit: 1, offset: 1 }), [byId[1]])
          assert.strictEqual(yield* users.count({ emailPrefix: tag.toUpperCase() }), 2)
          assert.strictEqual(yield* users.count({ emailPrefix: tag, isVerified: false }), 1)
          assert.isTrue(admin.isSuperuser && admin.isVerified)
        })
      )
    })

    describe("hook failures", () => {
      it.effect("a failing after-hook is logged and the stored change stands", () =>
        Effect.gen(function* () {
          const logs: Array<string> = []
          const logger = Logger.replace(
            Logger.defaultLogger,
            Logger.make(({ annotations, message }) =>
              logs.push(`${String(message)} ${JSON.stringify([...annotations])}`)
            )
          )
          const { users } = yield* harness({ hooks: { onAfterRegister: () => Effect.fail("mail server down") } })
          const email = freshEmail()
          const user = yield* users
            .create({ email, password: password("correct horse battery") })
            .pipe(Effect.provide(logger))
          assert.strictEqual((yield* users.getByEmail(email)).id, user.id)
          assert.lengthOf(logs, 1)
          assert.include(logs[0]!, "UserHooks.onAfterRegister failed")
          assert.include(logs[0]!, String(user.id))
          assert.notInclude(logs[0]!, "correct horse battery")
        })
      )

      it.effect("a failing onBeforeDelete aborts the deletion with UserDeleteAborted", () =>
        Effect.gen(function* () {
          const { hooks, users } = yield* harness({ hooks: { onBeforeDelete: () => Effect.fail("has open orders") } })
          const user = yield* register(users)
          const error = yield* Effect.flip(users.delete(user))
          assert.strictEqual(error._tag, "UserDeleteAborted")
          assert.strictEqual((yield* users.get(user.id)).id, user.id)
          assert.lengthOf(hooks.named("onAfterDelete"), 0)
        })
      )
    })

    describe("requestVerify and verify", () => {
      it.effect("requestVerify fails for inactive and for verified users, without running the hook", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const inactive = yield* register(h.users, { isActive: false })
          const verified = yield* register(h.users, { isVerified: true })
          assert.strictEqual((yield* Effect.flip(h.users.requestVerify(inactive)))._tag, "UserInactive")
          assert.strictEqual((yield* Effect.flip(h.users.requestVerify(verified)))._tag, "UserAlreadyVerified")
          assert.lengthOf(h.hooks.named("onAfterRequestVerify"), 0)
        })
      )

      it.effect("requestVerify hands a token to the hook; verify marks the user verified and runs onAfterVerify", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const token = yield* requestVerifyToken(h, user)
          assert.deepStrictEqual(h.hooks.named("onAfterRequestVerify")[0]!.args[0], user)
          const verified = yield* h.users.verify(token)
          assert.isTrue(verified.isVerified)
          assert.isTrue((yield* h.users.get(user.id)).isVerified)
          deepStrictEqual(h.hooks.named("onAfterVerify")[0]!.args, [verified, Option.none()])
          assert.strictEqual((yield* Effect.flip(h.users.verify(token)))._tag, "UserAlreadyVerified")
        })
      )

      it.effect("the verify token carries sub, email and aud as FastAPI Users writes them", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const token = yield* requestVerifyToken(h, user)
          const [header, payload] = token
            .split(".")
            .slice(0, 2)
            .map((part) => JSON.parse(Buffer.from(part, "base64url").toString()))
          assert.deepStrictEqual(header, { alg: "HS256", typ: "JWT" })
          assert.strictEqual(payload.sub, String(user.id))
          assert.strictEqual(payload.email, user.email)
          assert.strictEqual(payload.aud, "effect-users:verify")
          const now = yield* Clock.currentTimeMillis
          assert.strictEqual(payload.exp, Math.floor(now / 1000) + 3600)
        })
      )

      it.effect("an inactive user can be verified", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users, { isActive: false })
          const token = yield* signVerify({ sub: String(user.id), email: user.email })
          assert.isTrue((yield* h.users.verify(token)).isVerified)
        })
      )

      it.effect("verify accepts a token within its lifetime and refuses it after (Clock)", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const early = yield* register(h.users)
          const earlyToken = yield* requestVerifyToken(h, early)
          yield* TestClock.adjust("59 minutes")
          assert.isTrue((yield* h.users.verify(earlyToken)).isVerified)
          const user = yield* register(h.users)
          const token = yield* requestVerifyToken(h, user)
          yield* TestClock.adjust("61 minutes")
          assert.strictEqual((yield* Effect.flip(h.users.verify(token)))._tag, "InvalidVerifyToken")
          assert.isFalse((yield* h.users.get(user.id)).isVerified)
        })
      )

      it.effect("verify rejects every bad token with InvalidVerifyToken and changes nothing", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const other = yield* register(h.users)
          const claims = { sub: String(user.id), email: user.email }
          const bad = {
            "wrong secret": yield* signVerify(claims, {
              secret: Redacted.make("another-secret-another-secret-another")
            }),
            "wrong audience": yield* signVerify(claims, { audience: "effect-users:reset" }),
            "alg none": unsignedToken({ ...claims, aud: "effect-users:verify", exp: 10_000 }),
            "not a JWT": "not-a-token",
            empty: "",
            "missing email": yield* signVerify({ sub: String(user.id) }),
            "missing sub": yield* signVerify({ email: user.email }),
            "unknown email": yield* signVerify({ sub: String(user.id), email: freshEmail("ghost") }),
            "unparseable sub": yield* signVerify({ sub: "not-a-uuid", email: user.email }),
            "sub of another user": yield* signVerify({ sub: String(other.id), email: user.email }),
            "non-string sub": yield* signVerify({ sub: 42, email: user.email })
          }
          for (const [label, token] of Object.entries(bad)) {
            const exit = yield* Effect.exit(h.users.verify(token))
            assert.isTrue(Exit.isFailure(exit), label)
            assert.strictEqual((yield* Effect.flip(h.users.verify(token)))._tag, "InvalidVerifyToken", label)
          }
          assert.isFalse((yield* h.users.get(user.id)).isVerified)
          assert.lengthOf(h.hooks.named("onAfterVerify"), 0)
        })
      )

      it.effect("a token without exp is refused", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const token = pyJwtToken(
            { sub: String(user.id), email: user.email, aud: "effect-users:verify" },
            verifySecret
          )
          assert.strictEqual((yield* Effect.flip(h.users.verify(token)))._tag, "InvalidVerifyToken")
        })
      )

      it.effect("with FastAPI Users' audience and secret, a token written by FastAPI Users verifies", () =>
        Effect.gen(function* () {
          const h = yield* harness({ extra: testConfig({ verificationTokenAudience: "fastapi-users:verify" }) })
          const user = yield* register(h.users)
          const exp = Math.floor((yield* Clock.currentTimeMillis) / 1000) + 3600
          const token = pyJwtToken(
            { sub: String(user.id), email: user.email, aud: "fastapi-users:verify", exp },
            verifySecret
          )
          assert.isTrue((yield* h.users.verify(token)).isVerified)
        })
      )
    })

    describe("forgotPassword and resetPassword", () => {
      it.effect("forgotPassword fails for an inactive user without running the hook", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users, { isActive: false })
          assert.strictEqual((yield* Effect.flip(h.users.forgotPassword(user)))._tag, "UserInactive")
          assert.lengthOf(h.hooks.named("onAfterForgotPassword"), 0)
        })
      )

      it.effect("the reset token carries sub, a fingerprint of the password hash, and the reset audience", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const token = yield* forgotPasswordToken(h, user)
          const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString())
          assert.strictEqual(payload.sub, String(user.id))
          assert.strictEqual(payload.aud, "effect-users:reset")
          assert.strictEqual(payload.password_fgpt, h.hasher.digest(Redacted.make(user.hashedPassword)))
          assert.notInclude(token, user.hashedPassword)
        })
      )

      it.effect("resetPassword sets the new password once, then runs onAfterResetPassword", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const token = yield* forgotPasswordToken(h, user)
          const updated = yield* h.users.resetPassword(token, password("a brand new password"))
          assert.strictEqual(updated.hashedPassword, h.hasher.digest(password("a brand new password")))
          const credentials = { username: user.email, password: password("a brand new password") }
          assert.strictEqual((yield* h.users.authenticate(credentials)).id, user.id)
          deepStrictEqual(h.hooks.named("onAfterResetPassword")[0]!.args, [updated, Option.none()])
          assert.lengthOf(h.hooks.named("onAfterUpdate"), 0)
          // The fingerprint no longer matches: the token is spent.
          const reuse = yield* Effect.flip(h.users.resetPassword(token, password("yet another password")))
          assert.strictEqual(reuse._tag, "InvalidResetPasswordToken")
        })
      )

      it.effect("a reset token dies when the password changes some other way", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const token = yield* forgotPasswordToken(h, user)
          yield* h.users.update(user, { password: password("changed meanwhile") })
          const error = yield* Effect.flip(h.users.resetPassword(token, password("a brand new password")))
          assert.strictEqual(error._tag, "InvalidResetPasswordToken")
        })
      )

      it.effect("resetPassword expires after the configured lifetime", () =>
        Effect.gen(function* () {
          const h = yield* harness({ extra: testConfig({ resetPasswordTokenLifetime: "15 minutes" }) })
          const user = yield* register(h.users)
          const token = yield* forgotPasswordToken(h, user)
          yield* TestClock.adjust("16 minutes")
          const error = yield* Effect.flip(h.users.resetPassword(token, password("a brand new password")))
          assert.strictEqual(error._tag, "InvalidResetPasswordToken")
        })
      )

      it.effect("resetPassword rejects bad tokens with InvalidResetPasswordToken and writes nothing", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const fingerprint = h.hasher.digest(Redacted.make(user.hashedPassword))
          const claims = { sub: String(user.id), password_fgpt: fingerprint }
          const bad = {
            "wrong secret": yield* signReset(claims, { secret: verifySecret }),
            "wrong audience": yield* signReset(claims, { audience: "effect-users:verify" }),
            "a verify token": yield* signVerify({ sub: String(user.id), email: user.email }),
            "alg none": unsignedToken({ ...claims, aud: "effect-users:reset", exp: 10_000 }),
            malformed: "a.b.c",
            "missing fingerprint": yield* signReset({ sub: String(user.id) }),
            "missing sub": yield* signReset({ password_fgpt: fingerprint }),
            "unparseable sub": yield* signReset({ sub: "42", password_fgpt: fingerprint }),
            "wrong fingerprint": yield* signReset({ sub: String(user.id), password_fgpt: "fake$0000" })
          }
          for (const [label, token] of Object.entries(bad)) {
            const error = yield* Effect.flip(h.users.resetPassword(token, password("a brand new password")))
            assert.strictEqual(error._tag, "InvalidResetPasswordToken", label)
          }
          assert.strictEqual((yield* h.users.get(user.id)).hashedPassword, user.hashedPassword)
          assert.lengthOf(h.hooks.named("onAfterResetPassword"), 0)
        })
      )

      it.effect("resetPassword fails with UserNotExists, UserInactive or InvalidPassword, and writes nothing", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const gone = yield* register(h.users)
          const goneToken = yield* forgotPasswordToken(h, gone)
          yield* h.users.delete(gone)
          assert.strictEqual(
            (yield* Effect.flip(h.users.resetPassword(goneToken, password("a brand new password"))))._tag,
            "UserNotExists"
          )

          const user = yield* register(h.users)
          const token = yield* forgotPasswordToken(h, user)
          const invalid = yield* Effect.flip(h.users.resetPassword(token, password("short")))
          assert.strictEqual(invalid._tag, "InvalidPassword")

          const inactive = yield* h.users.update(user, { isActive: false })
          assert.strictEqual(
            (yield* Effect.flip(h.users.resetPassword(token, password("a brand new password"))))._tag,
            "UserInactive"
          )
          assert.strictEqual((yield* h.users.get(user.id)).hashedPassword, inactive.hashedPassword)
          assert.lengthOf(h.hooks.named("onAfterResetPassword"), 0)
        })
      )
    })

    describe("update", () => {
      it.effect("a new e-mail is stored and resets isVerified; the hook sees the changes", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users, { isVerified: true })
          const email = freshEmail("new")
          const updated = yield* h.users.update(user, { email })
          assert.strictEqual(updated.email, email)
          assert.isFalse(updated.isVerified)
          deepStrictEqual(h.hooks.named("onAfterUpdate")[0]!.args, [
            updated,
            { email, isVerified: false },
            Option.none()
          ])
        })
      )

      it.effect("an e-mail taken by another user in any case fails with UserAlreadyExists and runs no hook", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const taken = yield* register(h.users)
          const user = yield* register(h.users)
          const error = yield* Effect.flip(h.users.update(user, { email: taken.email.toUpperCase() }))
          assert.strictEqual(error._tag, "UserAlreadyExists")
          assert.strictEqual((yield* h.users.get(user.id)).email, user.email)
          assert.lengthOf(h.hooks.named("onAfterUpdate"), 0)
        })
      )

      it.effect("a user may change the case of their own e-mail", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users, { email: freshEmail("arthur") })
          const updated = yield* h.users.update(user, { email: user.email.toUpperCase() })
          assert.strictEqual(updated.email, user.email.toUpperCase())
        })
      )

      it.effect("the same e-mail changes nothing and keeps isVerified", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users, { isVerified: true })
          const updated = yield* h.users.update(user, { email: user.email })
          assert.isTrue(updated.isVerified)
          assert.deepStrictEqual(h.hooks.named("onAfterUpdate")[0]!.args[1], {})
        })
      )

      it.effect("a password is validated then hashed; the hook learns it changed but never sees it", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const error = yield* Effect.flip(h.users.update(user, { password: password("short") }))
          assert.strictEqual(error._tag, "InvalidPassword")
          assert.lengthOf(h.hooks.named("onAfterUpdate"), 0)
          const updated = yield* h.users.update(user, { password: password("another good one") })
          assert.strictEqual(updated.hashedPassword, h.hasher.digest(password("another good one")))
          const changes = h.hooks.named("onAfterUpdate")[0]!.args[1]
          assert.deepStrictEqual(changes, { passwordChanged: true })
        })
      )

      it.effect("a null password leaves the hash unchanged", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const updated = yield* h.users.update(user, { password: null, isActive: false })
          assert.strictEqual(updated.hashedPassword, user.hashedPassword)
          assert.isFalse(updated.isActive)
        })
      )

      it.effect("safe update ignores the flags; unsafe update applies them", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const flags = { isActive: false, isSuperuser: true, isVerified: true }
          const safe = yield* h.users.update(user, flags, { safe: true })
          assert.deepStrictEqual([safe.isActive, safe.isSuperuser, safe.isVerified], [true, false, false])
          const unsafe = yield* h.users.update(user, flags)
          assert.deepStrictEqual([unsafe.isActive, unsafe.isSuperuser, unsafe.isVerified], [false, true, true])
        })
      )

      it.effect("id and hashedPassword cannot be set through a patch", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
          const patch = { id: "0b5d1f9a-7c3e-4c1e-9b0a-2f4f7f6a1d11", hashedPassword: "x" } as any
          const updated = yield* h.users.update(user, patch)
          assert.strictEqual(updated.id, user.id)
          assert.strictEqual(updated.hashedPassword, user.hashedPassword)
        })
      )
    })

    describe("deactivate and activate", () => {
      it.effect("a ban with a reason and an end: inactive, every session ended, active again once until passes", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const epoch = (yield* h.sessions.lookup(String(user.id))).pipe(Option.getOrThrow).sessionEpoch
          const until = new Date((yield* Clock.currentTimeMillis) + 60 * 60_000)
          const banned = yield* h.users.deactivate(user, { reason: "chargeback", until })
          assert.isFalse(banned.isActive)
          const during = Option.getOrThrow(yield* h.sessions.lookup(String(user.id)))
          assert.deepStrictEqual([during.user.isActive, during.sessionEpoch], [false, epoch + 1])
          assert.deepStrictEqual(Option.getOrNull(yield* h.users.deactivationOf(user)), { reason: "chargeback", until })
          assert.deepStrictEqual(h.hooks.named("onAfterUpdate").at(-1)!.args.slice(0, 2), [banned, { isActive: false }])
          // Inactive users get no reset mail while banned.
          assert.strictEqual(
            (yield* Effect.flip(h.users.forgotPassword(yield* h.users.get(user.id))))._tag,
            "UserInactive"
          )

          yield* TestClock.adjust("59 minutes")
          assert.isFalse((yield* h.users.get(user.id)).isActive)
          yield* TestClock.adjust("1 minute")
          const lifted = yield* h.users.getByEmail(user.email)
          assert.isTrue(lifted.isActive)
          assert.isTrue(Option.isNone(yield* h.users.deactivationOf(user)))
          // Lifting starts no session: those the ban ended stay ended.
          assert.strictEqual(Option.getOrThrow(yield* h.sessions.lookup(String(user.id))).sessionEpoch, epoch + 1)
          yield* h.users.forgotPassword(lifted)
        })
      )

      it.effect("without an end the ban lasts until activate, which clears the detail", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          yield* h.users.deactivate(user, { reason: "fraud", until: null })
          yield* TestClock.adjust("3650 days")
          assert.isFalse((yield* h.users.get(user.id)).isActive)
          const active = yield* h.users.activate(user)
          assert.isTrue(active.isActive)
          assert.isTrue(Option.isNone(yield* h.users.deactivationOf(user)))
          assert.deepStrictEqual(h.hooks.named("onAfterUpdate").at(-1)!.args.slice(0, 2), [active, { isActive: true }])
        })
      )

      it.effect("an until not in the future fails with DeactivationUntilPast and changes nothing", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const now = yield* Clock.currentTimeMillis
          for (const until of [new Date(now), new Date(now - 1)]) {
            const error = yield* Effect.flip(h.users.deactivate(user, { reason: "typo", until }))
            assert.strictEqual(error._tag, "DeactivationUntilPast")
          }
          assert.isTrue((yield* h.users.get(user.id)).isActive)
          assert.strictEqual(Option.getOrThrow(yield* h.sessions.lookup(String(user.id))).sessionEpoch, 0)
          assert.lengthOf(h.hooks.named("onAfterUpdate"), 0)
        })
      )

      it.effect("an unknown user fails with UserNotExists", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const ghost = { ...(yield* register(h.users)), id: "0b5d1f9a-7c3e-4c1e-9b0a-2f4f7f6a1d12" }
          assert.strictEqual(
            (yield* Effect.flip(h.users.deactivate(ghost, { reason: null, until: null })))._tag,
            "UserNotExists"
          )
          assert.strictEqual((yield* Effect.flip(h.users.activate(ghost)))._tag, "UserNotExists")
        })
      )
    })

    describe("delete", () => {
      it.effect("runs onBeforeDelete, deletes, then runs onAfterDelete", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          yield* h.users.delete(user)
          assert.strictEqual((yield* Effect.flip(h.users.get(user.id)))._tag, "UserNotExists")
          assert.deepStrictEqual(
            h.hooks.calls.slice(1).map((c) => c.hook),
            ["onBeforeDelete", "onAfterDelete"]
          )
        })
      )
    })

    describe("authenticate", () => {
      it.effect("returns the user for the right password, in any e-mail case, even when inactive", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users, { email: freshEmail("Percival"), isActive: false })
          const found = yield* h.users.authenticate({
            username: user.email.toUpperCase(),
            password: password("correct horse battery")
          })
          assert.strictEqual(found.id, user.id)
        })
      )

      it.effect("a wrong password and an unknown e-mail both fail with InvalidCredentials after one verify", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const before = h.hasher.counts.verify
          const wrong = yield* Effect.flip(h.users.authenticate({ username: user.email, password: password("wrong!") }))
          assert.strictEqual(wrong._tag, "InvalidCredentials")
          assert.strictEqual(h.hasher.counts.verify, before + 1)
          const unknown = yield* Effect.flip(
            h.users.authenticate({ username: freshEmail("nobody"), password: password("wrong!") })
          )
          assert.strictEqual(unknown._tag, "InvalidCredentials")
          // Unknown e-mails cost the same hash work as a wrong password, so timing reveals nothing.
          assert.strictEqual(h.hasher.counts.verify, before + 2)
          assert.deepStrictEqual(wrong, unknown)
        })
      )

      it.effect("an outdated hash is replaced on the next successful login, and only then", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const repository = yield* UserRepository.UserRepository
          const current = h.hasher.digest(password("correct horse battery"))
          // A hash this hasher reads but considers outdated (say, FastAPI Users' bcrypt).
          const user = yield* repository.create({
            id: crypto.randomUUID(),
            email: freshEmail(),
            hashedPassword: current,
            isActive: true,
            isSuperuser: false,
            isVerified: false
          })
          const outdated = yield* repository.update(user, { hashedPassword: `old$${current}` })
          const legacy = {
            ...h.hasher.service,
            verify: (p: Redacted.Redacted<string>, hash: string) =>
              h.hasher.service.verify(p, hash.replace(/^old\$/, ""))
          }
          const { users } = yield* harness({ extra: PasswordHasher.layer(legacy) })
          yield* Effect.flip(users.authenticate({ username: outdated.email, password: password("wrong!") }))
          assert.strictEqual((yield* users.get(user.id)).hashedPassword, `old$${current}`)
          const found = yield* users.authenticate({
            username: outdated.email,
            password: password("correct horse battery")
          })
          assert.strictEqual(found.hashedPassword, current)
          assert.strictEqual((yield* users.get(user.id)).hashedPassword, current)
        })
      )
    })

    describe("OAuth", () => {
      const account = (email: string, accountId: string = crypto.randomUUID()) => ({
        oauthName: "github",
        accessToken: "access-1",
        accountId,
        accountEmail: email,
        expiresAt: 1_700_000_000,
        refreshToken: "refresh-1"
      })

      const trusted = { emailVerified: true } as const

      it.effect("a new account with a trusted verified e-mail registers a verified user and runs onAfterRegister", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const email = freshEmail("oauth")
          const user = yield* h.users.oauthCallback(account(email), trusted)
          assert.strictEqual(user.email, email)
          assert.isTrue(user.isVerified)
          assert.lengthOf(user.oauthAccounts, 1)
          assert.strictEqual(user.oauthAccounts[0]!.accessToken, "access-1")
          assert.deepStrictEqual(h.hooks.named("onAfterRegister").length, 1)
        })
      )

      it.effect("an e-mail the provider did not verify (or is not trusted for) registers nobody", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const email = freshEmail("claimed")
          for (const options of [
            undefined,
            { emailVerified: false },
            { emailVerified: false, associateByEmail: true }
          ]) {
            const error = yield* Effect.flip(h.users.oauthCallback(account(email), options))
            assert.strictEqual(error._tag, "OAuthEmailNotVerified")
          }
          assert.isTrue(Option.isNone(yield* Effect.option(h.users.getByEmail(email))))
          assert.lengthOf(h.hooks.named("onAfterRegister"), 0)
        })
      )

      it.effect("a known account gets its tokens refreshed and no register hook runs", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const first = yield* h.users.oauthCallback(account(freshEmail("oauth"), "acct-refresh"), trusted)
          const again = yield* h.users.oauthCallback({
            ...account(first.email, "acct-refresh"),
            accessToken: "access-2",
            refreshToken: null,
            expiresAt: null
          })
          assert.strictEqual(again.id, first.id)
          assert.lengthOf(again.oauthAccounts, 1)
          assert.strictEqual(again.oauthAccounts[0]!.accessToken, "access-2")
          assert.isNull(again.oauthAccounts[0]!.refreshToken)
          assert.lengthOf(h.hooks.named("onAfterRegister"), 1)
          const found = yield* h.users.getByOAuthAccount("github", "acct-refresh")
          assert.strictEqual(found.id, first.id)
        })
      )

      it.effect("an account whose e-mail belongs to a user fails unless associateByEmail links it", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users, { email: freshEmail("Gawain"), isVerified: true })
          const error = yield* Effect.flip(h.users.oauthCallback(account(user.email.toLowerCase()), trusted))
          assert.strictEqual(error._tag, "UserAlreadyExists")
          const linked = yield* h.users.oauthCallback(account(user.email.toLowerCase()), {
            associateByEmail: true,
            emailVerified: true
          })
          assert.strictEqual(linked.id, user.id)
          assert.lengthOf(linked.oauthAccounts, 1)
          assert.lengthOf(h.hooks.named("onAfterRegister"), 1)
        })
      )

      it.effect("associateByEmail links only when the provider and the local account verified the e-mail", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const verified = yield* register(h.users, { email: freshEmail("Tristan"), isVerified: true })
          const unverified = yield* register(h.users, { email: freshEmail("Mordred") })
          const attempt = (email: string, emailVerified: boolean) =>
            Effect.flip(h.users.oauthCallback(account(email.toUpperCase()), { associateByEmail: true, emailVerified }))
          assert.strictEqual((yield* attempt(verified.email, false))._tag, "OAuthEmailNotVerified")
          assert.strictEqual((yield* attempt(unverified.email, false))._tag, "OAuthEmailNotVerified")
          assert.strictEqual((yield* attempt(unverified.email, true))._tag, "UserAlreadyExists")
          assert.strictEqual(
            (yield* Effect.flip(h.users.oauthCallback(account(verified.email), { associateByEmail: true })))._tag,
            "OAuthEmailNotVerified"
          )
          assert.lengthOf(h.hooks.named("onAfterOAuthLink"), 0)
        })
      )

      it.effect("associateByEmail links only the same mailbox, not a lookalike that shares its key", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const link = (email: string) =>
            h.users.oauthCallback(account(email, `acct-${crypto.randomUUID()}`), {
              associateByEmail: true,
              emailVerified: true
            })
          // ß and SS are one account here (a lookalike cannot register), but maybe two people's mailboxes.
          const gauss = yield* register(h.users, { email: freshEmail("gauß"), isVerified: true })
          const shouted = gauss.email.toUpperCase()
          assert.include(shouted, "GAUSS")
          assert.strictEqual((yield* Effect.flip(link(shouted)))._tag, "UserAlreadyExists")
          assert.strictEqual((yield* link(gauss.email.replace("gauß", "GAUß"))).id, gauss.id)
          // straße.de and strasse.de are two domains of two owners: a login from one never reaches the other.
          const victim = yield* register(h.users, { email: `kay.${crypto.randomUUID()}@strasse.de`, isVerified: true })
          const twin = yield* link(victim.email.replace("@strasse.de", "@straße.de"))
          assert.notStrictEqual(twin.id, victim.id)
          assert.isTrue(twin.email.endsWith("@straße.de"), twin.email)
        })
      )

      it.effect("concurrent first logins of one provider account end with one user, all logged in as it", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const details = account(freshEmail("Galahad"))
          const users = yield* Effect.all(
            Array.from({ length: 6 }, () => h.users.oauthCallback(details, trusted)),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(new Set(users.map((user) => String(user.id))).size, 1)
          const found = yield* h.users.getByOAuthAccount("github", details.accountId)
          assert.lengthOf(found.oauthAccounts, 1)
          assert.lengthOf(h.hooks.named("onAfterRegister"), 1)
        })
      )

      it.effect("oauthAssociateCallback: again refreshes the tokens without a new row; another user's fails", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const owner = yield* register(h.users)
          const details = account(freshEmail("shared"))
          yield* h.users.oauthAssociateCallback(owner, details)
          const again = yield* h.users.oauthAssociateCallback(owner, { ...details, accessToken: "access-2" })
          assert.lengthOf(again.oauthAccounts, 1)
          assert.strictEqual(again.oauthAccounts[0]!.accessToken, "access-2")
          const thief = yield* register(h.users)
          const error = yield* Effect.flip(h.users.oauthAssociateCallback(thief, details))
          assert.strictEqual(error._tag, "OAuthAccountAlreadyLinked")
        })
      )

      it.effect("oauthAssociateCallback links an account and runs onAfterUpdate with no changes", () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const user = yield* register(h.users)
          const linked = yield* h.users.oauthAssociateCallback(user, account(freshEmail("other")))
          assert.lengthOf(linked.oauthAccounts, 1)
          deepStrictEqual(h.hooks.named("onAfterUpdate")[0]!.args.slice(1), [{}, Option.none()])
        })
      )
    })

    describe("password policy", () => {
      it.effect("the default policy: 8 to 128 characters, not common, not containing the e-mail or its words", () =>
        Effect.gen(function* () {
          const { users } = yield* harness()
          const owner = { email: "Arthur@Camelot.bt" }
          const reason = (pw: string) =>
            users.validatePassword(password(pw), owner).pipe(
              Effect.flip,
              Effect.map((e) => e.reason),
              Effect.orElseSucceed(() => "ok")
            )
          assert.strictEqual(yield* reason("1234567"), "Password should be at least 8 characters")
          assert.strictEqual(yield* reason("28471936"), "ok")
          assert.strictEqual(yield* reason("12345678"), "Password is too common")
          assert.strictEqual(yield* reason("é".repeat(8)), "ok")
          assert.strictEqual(yield* reason("x".repeat(128)), "ok")
          assert.strictEqual(yield* reason("x".repeat(129)), "Password should be at most 128 characters")
          assert.strictEqual(yield* reason("my arthur@camelot.BT pw"), "Password should not contain e-mail")
          assert.strictEqual(
            yield* reason("CAMELOT rules!"),
            "Password should not contain parts of your e-mail address"
          )
        })
      )

      it.effect("PasswordValidator.layer replaces the policy with its rules, checked in order", () =>
        Effect.gen(function* () {
          const needsDigit = (pw: Redacted.Redacted<string>) =>
            /\d/.test(Redacted.value(pw))
              ? Effect.void
              : Effect.fail(new UserError.InvalidPassword({ reason: "needs a digit" }))
          const { users } = yield* harness({
            extra: PasswordValidator.layer(PasswordValidator.minLength(12), needsDigit)
          })
          const reason = (pw: string) =>
            users.create({ email: freshEmail(), password: password(pw) }).pipe(
              Effect.flip,
              Effect.map((e) => (e._tag === "InvalidPassword" ? e.reason : e._tag))
            )
          assert.strictEqual(yield* reason("eleven1char"), "Password should be at least 12 characters")
          assert.strictEqual(yield* reason("twelve chars"), "needs a digit")
          assert.strictEqual(
            (yield* users.create({ email: freshEmail(), password: password("twelve char5") })).isActive,
            true
          )
        })
      )
    })

    it.effect("config overrides reach the manager", () =>
      Effect.gen(function* () {
        const h = yield* harness({
          extra: UserManagerConfig.layer({
            verificationTokenSecret: verifySecret,
            resetPasswordTokenSecret: resetSecret,
            verificationTokenAudience: "fastapi-users:verify"
          })
        })
        const user = yield* register(h.users)
        const token = yield* requestVerifyToken(h, user)
        const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString())
        assert.strictEqual(payload.aud, "fastapi-users:verify")
      })
    )
  })

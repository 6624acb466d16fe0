/** Security decisions no other test pins: the flags of users OAuth registers, the JWT strategy's key length. */
import { assert, describe, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Redacted } from "effect"
import { AccessTokenStore, AuthStrategy, Sessions, type User, UserRepository } from "effect-users"
import { freshEmail, harness } from "../utils/TestUsers.js"

const account = (email: string) => ({
  oauthName: "github",
  accessToken: "access-1",
  accountId: crypto.randomUUID(),
  accountEmail: email,
  expiresAt: null,
  refreshToken: null
})

layer(UserRepository.layerMemory)("security defaults", (it) => {
  describe("oauthCallback", () => {
    it.effect(
      "registers an active, verified (the provider proved the address), non-superuser with a password nobody knows",
      () =>
        Effect.gen(function* () {
          const h = yield* harness()
          const first = yield* h.users.oauthCallback(account(freshEmail("oauth")), { emailVerified: true })
          const second = yield* h.users.oauthCallback(account(freshEmail("oauth")), { emailVerified: true })
          assert.deepStrictEqual([first.isActive, first.isSuperuser, first.isVerified], [true, false, true])
          assert.notStrictEqual(first.hashedPassword, second.hashedPassword)
          assert.notStrictEqual(first.hashedPassword, h.hasher.digest(Redacted.make("")))
        })
    )
  })

  describe("oauthCallback on a known account", () => {
    it.effect("refreshes that account's tokens only, keeping a new expiry and refresh token", () =>
      Effect.gen(function* () {
        const h = yield* harness()
        const github = account(freshEmail("linked"))
        const user = yield* h.users.oauthCallback(github, { emailVerified: true })
        const google = { ...account(user.email), oauthName: "google", accessToken: "google-1" }
        yield* h.users.oauthAssociateCallback(user, google)
        const refreshed = yield* h.users.oauthCallback({
          ...google,
          accessToken: "google-2",
          expiresAt: 1_900_000_000,
          refreshToken: "google-refresh"
        })
        const byName = Object.fromEntries(refreshed.oauthAccounts.map((a: User.OAuthAccount) => [a.oauthName, a]))
        assert.deepInclude(byName.google, {
          accessToken: "google-2",
          expiresAt: 1_900_000_000,
          refreshToken: "google-refresh"
        })
        assert.deepInclude(byName.github, { accessToken: "access-1", expiresAt: null, refreshToken: null })
      })
    )
  })

  describe("JWT strategy", () => {
    it.effect("refuses a secret shorter than 32 bytes, accepts one of exactly 32", () =>
      Effect.gen(function* () {
        const { sessions } = yield* harness()
        const build = (secret: string) =>
          Effect.exit(
            AuthStrategy.jwt({ secret: Redacted.make(secret) }).pipe(
              Effect.provideService(Sessions.Sessions, sessions),
              Effect.provideService(AccessTokenStore.AccessTokenStore, AccessTokenStore.makeMemory())
            )
          )
        const short = yield* build("x".repeat(31))
        // A configuration error (a failure, printed without a stack trace), not a defect.
        assert.isTrue(Exit.isFailure(short) && Cause.isFailType(short.cause) && !Cause.isDie(short.cause))
        if (Exit.isFailure(short)) assert.include(Cause.pretty(short.cause), "at least 32 bytes")
        assert.isTrue(Exit.isSuccess(yield* build("x".repeat(32))))
        // Bytes, not characters: 16 two-byte characters are 32 bytes.
        assert.isTrue(Exit.isSuccess(yield* build("é".repeat(16))))
        assert.isTrue(Exit.isFailure(yield* build("é".repeat(15))))
      })
    )

    it.effect("a valid token whose user is gone, or whose sub is no ID, yields no user", () =>
      Effect.gen(function* () {
        const { sessions, users } = yield* harness()
        const secret = Redacted.make("auth-secret-auth-secret-auth-secret-auth")
        const jwt = yield* AuthStrategy.jwt({ secret }).pipe(
          Effect.provideService(Sessions.Sessions, sessions),
          Effect.provideService(AccessTokenStore.AccessTokenStore, AccessTokenStore.makeMemory())
        )
        const user = yield* users.create({ email: freshEmail(), password: Redacted.make("correct horse battery") })
        const token = yield* jwt.write(user)
        assert.strictEqual((yield* jwt.read(token))._tag, "Some")
        yield* users.delete(user)
        assert.strictEqual((yield* jwt.read(token))._tag, "None")
        const noId = yield* jwt.write({ ...user, id: "not-an-id" })
        assert.strictEqual((yield* jwt.read(noId))._tag, "None")
      })
    )
  })
})

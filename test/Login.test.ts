/**
 * `Login` below HTTP, on memory storage: what it refuses, what it opens on each kind of backend, what it records
 * and when it runs `onAfterLogin`.
 */
import { HttpServerResponse } from "@effect/platform"
import { assert, describe, it, layer } from "@effect/vitest"
import { assertSome } from "@effect/vitest/utils"
import { Cause, Clock, Effect, Exit, Layer, Option, Redacted, TestClock } from "effect"
import {
  AccessTokenStore,
  AuthStrategy,
  DeviceTokens,
  IdParser,
  Login,
  RefreshTokenStore,
  RefreshTokens,
  Sessions,
  UserError,
  UserManager,
  UserRepository
} from "effect-users"
import { loggedInOnly } from "./utils/LoggedIn.js"
import { freshEmail, harness } from "./utils/TestUsers.js"
import { recordingTracer } from "./utils/Tracing.js"

const secret = Redacted.make("login-secret-login-secret-login-secret-log")

/** A manager, its sessions, and a login over a database backend and a JWT backend with refresh tokens. */
const setup = (
  options: {
    readonly requiresVerification?: boolean
    readonly idParser?: Layer.Layer<IdParser.IdParser> | undefined
  } = {}
) =>
  Effect.gen(function* () {
    const { hooks, sessions, users } = yield* harness(options.idParser === undefined ? {} : { extra: options.idParser })
    const tokens = AccessTokenStore.makeMemory()
    const families = RefreshTokenStore.makeMemory()
    const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(
        Effect.provideService(Sessions.Sessions, sessions),
        Effect.provideService(UserManager.UserManager, users),
        Effect.provideService(AccessTokenStore.AccessTokenStore, tokens),
        Effect.provideService(RefreshTokenStore.RefreshTokenStore, families)
      )
    const database = yield* provide(AuthStrategy.database())
    const jwt = yield* provide(AuthStrategy.jwt({ secret }))
    const family = Option.getOrThrow(RefreshTokens.familyStrategy(jwt))
    const refresh = yield* provide(RefreshTokens.make({ name: "mobile", strategy: family }))
    const login = yield* provide(
      Login.make({
        backends: [
          { name: "web", strategy: database },
          { name: "mobile", strategy: RefreshTokens.withRefresh(family, refresh), refresh }
        ],
        requiresVerification: options.requiresVerification
      })
    ).pipe(Effect.map(loggedInOnly))
    const user = yield* users.create({ email: freshEmail("login"), password: Redacted.make("correct horse battery") })
    return { database, families, hooks, login, refresh, sessions, tokens, user, users }
  })

const refusal = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail"
      ? exit.cause.error._tag
      : Exit.isSuccess(exit)
        ? "opened"
        : "died"
  )

layer(UserRepository.layerMemory)("Login", (it) => {
  it.scoped("opens a stored session on a backend without refresh tokens, recording backend, agent and method", () =>
    Effect.gen(function* () {
      const { database, login, tokens, user } = yield* setup()
      const outcome = yield* login.start({
        user,
        backend: "web",
        method: "oauth:openid",
        client: { userAgent: "Agent/1.0", address: "10.0.0.1" }
      })
      assert.strictEqual(outcome._tag, "LoggedIn")
      assert.isTrue(Option.isNone(outcome.tokens.refreshToken))
      assert.isTrue(Option.isNone(outcome.response), "no response without respond")
      assert.strictEqual(Option.getOrThrow(yield* database.read(outcome.tokens.accessToken)).id, user.id)
      const [[, stored]] = (yield* tokens.listOf(String(user.id))) as [[string, AccessTokenStore.StoredToken]]
      assert.deepInclude(stored, { backend: "web", userAgent: "Agent/1.0", method: "oauth:openid", epoch: 0 })
    })
  )

  it.scoped("starts a refresh-token family on a backend with refresh tokens; a refresh keeps its method", () =>
    Effect.gen(function* () {
      const { families, login, user } = yield* setup()
      const outcome = yield* login.start({ user, backend: "mobile", method: "password", client: { userAgent: "App" } })
      const refreshToken = Option.getOrThrow(outcome.tokens.refreshToken)
      const [family] = yield* families.listOf(String(user.id))
      assert.deepInclude(family, { backend: "mobile", method: "password", userAgent: "App", epoch: 0 })
      const next = yield* login.refresh("mobile", refreshToken)
      assert.notStrictEqual(Option.getOrThrow(next.refreshToken), refreshToken)
      assert.deepStrictEqual(
        (yield* families.listOf(String(user.id))).map(({ id, method }) => ({ id, method })),
        [{ id: family!.id, method: "password" }]
      )
    })
  )

  it.scoped("with DeviceTokens in context, every login (OAuth too) issues a device token for the user's account", () =>
    Effect.gen(function* () {
      const { database, login: withoutDevices, sessions, user, users } = yield* setup()
      const devices = yield* DeviceTokens.make({ secret })
      const login = yield* Login.make({ backends: [{ name: "web", strategy: database }] }).pipe(
        Effect.provideService(Sessions.Sessions, sessions),
        Effect.provideService(UserManager.UserManager, users),
        Effect.provideService(DeviceTokens.DeviceTokens, devices),
        Effect.map(loggedInOnly)
      )
      const first = yield* login.start({ user, backend: "web", method: "oauth:openid" })
      const issued = first.tokens.device!
      assertSome(yield* devices.verify(issued.token, user.email), issued.nonce)
      // A login from a known device keeps its nonce; without the service, no token.
      const again = yield* login.start({ user, backend: "web", method: "password", device: issued.nonce })
      assert.strictEqual(again.tokens.device?.nonce, issued.nonce)
      const none = yield* withoutDevices.start({ user, backend: "web", method: "password" })
      assert.isUndefined(none.tokens.device)
    })
  )

  it.scoped("stamps the session with the user's epoch as it is now", () =>
    Effect.gen(function* () {
      const { database, login, sessions, user } = yield* setup()
      yield* sessions.endAll(user)
      yield* sessions.endAll(user)
      const outcome = yield* login.start({ user, backend: "web", method: "password" })
      assert.isTrue(Option.isSome(yield* database.read(outcome.tokens.accessToken)), "a session at epoch 2 lives")
    })
  )

  it.scoped("refuses an inactive user, a user gone, and a password changed since the proof", () =>
    Effect.gen(function* () {
      const { login, users, user } = yield* setup()
      const attempt = { backend: "web", method: "password" } as const
      const inactive = yield* users.update(user, { isActive: false })
      assert.strictEqual(yield* refusal(login.start({ ...attempt, user: inactive })), "UserInactive")
      // The proof was of the active user; the row says inactive now.
      assert.strictEqual(yield* refusal(login.start({ ...attempt, user })), "UserInactive")

      const other = yield* users.create({ email: freshEmail("changed"), password: Redacted.make("first password!") })
      yield* users.update(other, { password: Redacted.make("second password!") })
      assert.strictEqual(yield* refusal(login.start({ ...attempt, user: other })), "InvalidCredentials")

      const gone = yield* users.create({ email: freshEmail("gone"), password: Redacted.make("first password!") })
      yield* users.delete(gone)
      assert.strictEqual(yield* refusal(login.start({ ...attempt, user: gone })), "InvalidCredentials")
    })
  )

  it.scoped("refuses a banned user until the ban's end, then opens a session on either backend", () =>
    Effect.gen(function* () {
      const { login, user, users } = yield* setup()
      const until = new Date((yield* Clock.currentTimeMillis) + 24 * 3_600_000)
      yield* users.deactivate(user, { reason: "spam", until })
      for (const backend of ["web", "mobile"]) {
        assert.strictEqual(yield* refusal(login.start({ user, backend, method: "password" })), "UserInactive")
      }
      yield* TestClock.adjust("24 hours")
      for (const backend of ["web", "mobile"]) {
        assert.strictEqual(yield* refusal(login.start({ user, backend, method: "password" })), "opened")
      }
    })
  )

  it.scoped("refuses an unverified user only when verification is required", () =>
    Effect.gen(function* () {
      const relaxed = yield* setup()
      assert.strictEqual(
        yield* refusal(relaxed.login.start({ user: relaxed.user, backend: "web", method: "password" })),
        "opened"
      )
      const strict = yield* setup({ requiresVerification: true })
      assert.strictEqual(
        yield* refusal(strict.login.start({ user: strict.user, backend: "web", method: "password" })),
        "UserNotVerified"
      )
      const verified = yield* strict.users.update(strict.user, { isVerified: true })
      assert.strictEqual(
        yield* refusal(strict.login.start({ user: verified, backend: "web", method: "password" })),
        "opened"
      )
    })
  )

  it.scoped("runs onAfterLogin once, with the response built from the tokens; never for a refused login", () =>
    Effect.gen(function* () {
      const { hooks, login, users, user } = yield* setup()
      const recorder = hooks.recorder()
      const outcome = yield* login.start({
        user,
        backend: "mobile",
        method: "password",
        respond: (tokens) => HttpServerResponse.unsafeJson({ access_token: tokens.accessToken })
      })
      const response = Option.getOrThrow(outcome.response)
      const calls = recorder.named("onAfterLogin")
      assert.lengthOf(calls, 1)
      assert.strictEqual((calls[0]!.args[0] as { id: unknown }).id, user.id)
      assert.strictEqual(Option.getOrThrow(calls[0]!.args[2] as Option.Option<unknown>), response)

      const inactive = yield* users.update(user, { isActive: false })
      yield* Effect.exit(login.start({ user: inactive, backend: "mobile", method: "password" }))
      assert.lengthOf(recorder.named("onAfterLogin"), 1, "no hook for a refused login")
    })
  )

  it.scoped("works with an IdParser that reads IDs as text only, as tokens and stored rows carry them", () =>
    Effect.gen(function* () {
      // Integer IDs the store assigns, parsed from text alone: what arrives from outside is text.
      const textOnly = IdParser.layer((value) =>
        typeof value === "string" && /^\d+$/.test(value) ? Effect.succeed(Number(value)) : new UserError.InvalidID()
      )
      const { database, login, sessions, user } = yield* setup({ idParser: textOnly })
      assert.strictEqual(typeof user.id, "number")
      const outcome = yield* login.start({ user, backend: "web", method: "password" })
      assert.isTrue(Option.isSome(yield* database.read(outcome.tokens.accessToken)))
      assert.lengthOf(yield* database.sessions!.list(user, Option.none()), 1, "the session is listed")
      // A token written without an epoch is stamped with the user's epoch as it is now.
      yield* sessions.endAll(user)
      const token = yield* database.write(user)
      assert.isTrue(Option.isSome(yield* database.read(token)), "a token of the current epoch lives")
    })
  )

  it.scoped("an unknown backend, or a refresh on a backend without refresh tokens, is a defect", () =>
    Effect.gen(function* () {
      const { login, user } = yield* setup()
      assert.strictEqual(yield* refusal(login.start({ user, backend: "nope", method: "password" })), "died")
      assert.strictEqual(yield* refusal(login.refresh("web", "x".repeat(43))), "died")
      assert.strictEqual(yield* refusal(login.refresh("mobile", "x".repeat(43))), "RefreshTokenInvalid")
    })
  )

  it.scoped("Login.layer provides the same login over the UserManager and Sessions in context", () =>
    Effect.gen(function* () {
      const { database, sessions, user, users } = yield* setup()
      const login = yield* Effect.provide(
        Login.Login,
        Login.layer({ backends: [{ name: "web", strategy: database }], requiresVerification: true }).pipe(
          Layer.provide(Layer.succeed(UserManager.UserManager, users)),
          Layer.provide(Layer.succeed(Sessions.Sessions, sessions))
        )
      )
      assert.deepStrictEqual(
        login.backends.map((backend) => backend.name),
        ["web"]
      )
      assert.strictEqual(yield* refusal(login.start({ user, backend: "web", method: "password" })), "UserNotVerified")
    })
  )

  it.scoped("a misconfiguration dies with a message naming it", () =>
    Effect.gen(function* () {
      const { login, user } = yield* setup()
      const defect = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.map(Effect.exit(effect), (exit) =>
          Exit.isFailure(exit) && Cause.isDie(exit.cause) ? String(Cause.squash(exit.cause)) : "no defect"
        )
      assert.include(
        yield* defect(login.start({ user, backend: "nope", method: "password" })),
        "Login: no backend named nope"
      )
      assert.include(yield* defect(login.refresh("nope", "x".repeat(43))), "Login: no backend named nope")
      assert.include(yield* defect(login.refresh("web", "x".repeat(43))), "Login: backend web has no refresh tokens")
    })
  )

  it.scoped("a login and a refresh are spans of their own: Login.start, Login.refresh", () =>
    Effect.gen(function* () {
      const { login, user } = yield* setup()
      const { recorded, tracer } = recordingTracer()
      const outcome = yield* login
        .start({ user, backend: "mobile", method: "password" })
        .pipe(Effect.withTracer(tracer))
      yield* login.refresh("mobile", Option.getOrThrow(outcome.tokens.refreshToken)).pipe(Effect.withTracer(tracer))
      const names = recorded.flatMap((entry) => ("name" in entry ? [entry.name] : []))
      assert.includeMembers(names, ["Login.start", "Login.refresh"])
    })
  )
})

describe("Login.Outcome", () => {
  it("is a tagged union: LoggedIn carries the user, the tokens and the response", () => {
    const outcome = Login.Outcome.LoggedIn({
      user: {} as never,
      tokens: { accessToken: "a", refreshToken: Option.none() },
      response: Option.none()
    })
    assert.strictEqual(outcome._tag, "LoggedIn")
  })
})

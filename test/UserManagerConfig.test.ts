import { assert, describe, it } from "@effect/vitest"
import { Cause, Config, ConfigError, ConfigProvider, Duration, Effect, Exit, Layer, Option, Redacted } from "effect"
import { AccessTokenStore, AuthStrategy, DeviceTokens, Sessions, UserManagerConfig } from "effect-users"

const good = Redacted.make("x".repeat(32))

const build = (layer: Layer.Layer<UserManagerConfig.UserManagerConfig, unknown>) =>
  Effect.exit(Effect.scoped(Layer.build(layer)))

describe("UserManagerConfig", () => {
  it.effect("fills in FastAPI Users' lifetimes and our audiences", () =>
    Effect.gen(function* () {
      const config = yield* Effect.provide(
        UserManagerConfig.UserManagerConfig,
        UserManagerConfig.layer({ resetPasswordTokenSecret: good, verificationTokenSecret: good })
      )
      assert.isTrue(Duration.equals(config.resetPasswordTokenLifetime, Duration.seconds(3600)))
      assert.isTrue(Duration.equals(config.verificationTokenLifetime, Duration.seconds(3600)))
      assert.strictEqual(config.resetPasswordTokenAudience, "effect-users:reset")
      assert.strictEqual(config.verificationTokenAudience, "effect-users:verify")
    })
  )

  it.effect("a secret shorter than 32 bytes fails the layer, naming the setting", () =>
    Effect.gen(function* () {
      const exit = yield* build(
        UserManagerConfig.layer({ resetPasswordTokenSecret: Redacted.make("short"), verificationTokenSecret: good })
      )
      assert.isTrue(exit._tag === "Failure")
      const message = String(exit._tag === "Failure" ? exit.cause : "")
      assert.include(message, "resetPasswordTokenSecret")
      assert.include(message, "at least 32 bytes")
      assert.notInclude(message, 'short"')
    })
  )

  it.effect("a missing secret fails the layer, naming the setting", () =>
    Effect.gen(function* () {
      const exit = yield* build(
        UserManagerConfig.layer({
          resetPasswordTokenSecret: good,
          verificationTokenSecret: Redacted.make(undefined as unknown as string)
        })
      )
      assert.include(String(exit._tag === "Failure" ? exit.cause : ""), "verificationTokenSecret is missing")
    })
  )

  it.effect("layerConfig reads the USERS_* environment variables", () =>
    Effect.gen(function* () {
      const provider = ConfigProvider.fromMap(
        new Map([
          ["USERS_RESET_PASSWORD_TOKEN_SECRET", "r".repeat(40)],
          ["USERS_VERIFICATION_TOKEN_SECRET", "v".repeat(40)],
          ["USERS_VERIFICATION_TOKEN_LIFETIME", "15 minutes"],
          ["USERS_RESET_PASSWORD_TOKEN_AUDIENCE", "fastapi-users:reset"]
        ])
      )
      const config = yield* Effect.provide(
        UserManagerConfig.UserManagerConfig,
        UserManagerConfig.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(provider)))
      )
      assert.strictEqual(Redacted.value(config.resetPasswordTokenSecret), "r".repeat(40))
      assert.isTrue(Duration.equals(config.verificationTokenLifetime, Duration.minutes(15)))
      assert.isTrue(Duration.equals(config.resetPasswordTokenLifetime, Duration.hours(1)))
      assert.strictEqual(config.resetPasswordTokenAudience, "fastapi-users:reset")
    })
  )

  it("a secret's value never shows when the settings are printed", () => {
    const secret = Redacted.make("s".repeat(40))
    assert.notInclude(String(secret), "ssss")
    assert.notInclude(JSON.stringify({ secret }), "ssss")
  })

  it.effect("layerConfig fails naming the variable when a secret is unset", () =>
    Effect.gen(function* () {
      const provider = ConfigProvider.fromMap(new Map([["USERS_RESET_PASSWORD_TOKEN_SECRET", "r".repeat(40)]]))
      const exit = yield* build(UserManagerConfig.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(provider))))
      assert.include(String(exit._tag === "Failure" ? exit.cause : ""), "USERS_VERIFICATION_TOKEN_SECRET")
    })
  )
})

/** The configuration error an effect fails with: a failure (printed without a stack trace), never a defect. */
const configErrorOf = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    assert.isTrue(Exit.isFailure(exit), "it fails")
    const cause = Exit.isFailure(exit) ? exit.cause : Cause.empty
    assert.isFalse(Cause.isDie(cause), "not a defect")
    const error = Option.getOrThrow(Cause.failureOption(cause))
    assert.isTrue(ConfigError.isConfigError(error), String(error))
    return String(error)
  })

const withEnv = (entries: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

describe("configuration errors name the environment variable (issue 25)", () => {
  it.effect("layerConfig: an unset, empty or short secret names its variable, never '<redacted>' or the value", () =>
    Effect.gen(function* () {
      const layerWith = (entries: Record<string, string>) =>
        Effect.scoped(Layer.build(UserManagerConfig.layerConfig().pipe(Layer.provide(withEnv(entries)))))
      const unset = yield* configErrorOf(layerWith({ USERS_RESET_PASSWORD_TOKEN_SECRET: "r".repeat(40) }))
      assert.include(unset, "USERS_VERIFICATION_TOKEN_SECRET is missing: set it to a secret of at least 32 bytes")
      assert.notInclude(unset, "<redacted>")
      const empty = yield* configErrorOf(
        layerWith({ USERS_RESET_PASSWORD_TOKEN_SECRET: "", USERS_VERIFICATION_TOKEN_SECRET: "v".repeat(40) })
      )
      assert.include(empty, "USERS_RESET_PASSWORD_TOKEN_SECRET is missing")
      const short = yield* configErrorOf(
        layerWith({ USERS_RESET_PASSWORD_TOKEN_SECRET: "hunter2", USERS_VERIFICATION_TOKEN_SECRET: "v".repeat(40) })
      )
      assert.include(short, "USERS_RESET_PASSWORD_TOKEN_SECRET is too short: it must be at least 32 bytes")
      assert.notInclude(short, "hunter2")
      assert.notInclude(short, "resetPasswordTokenSecret")
    })
  )

  it.effect(
    "AuthStrategy.jwt: a secret from UserManagerConfig.secret names its variable; a short one is no defect",
    () =>
      Effect.gen(function* () {
        const jwt = (secret: AuthStrategy.Configurable<Redacted.Redacted<string>>, entries: Record<string, string>) =>
          AuthStrategy.jwt({ secret }).pipe(
            Effect.provideService(Sessions.Sessions, {
              lookup: () => Effect.succeedNone,
              endAll: () => Effect.void,
              endAllBut: () => Effect.void,
              denyUntil: () => Effect.void
            }),
            Effect.provideService(AccessTokenStore.AccessTokenStore, AccessTokenStore.makeMemory()),
            Effect.provide(withEnv(entries))
          )
        const short = yield* configErrorOf(
          jwt(UserManagerConfig.secret("USERS_AUTH_SECRET"), { USERS_AUTH_SECRET: "abc" })
        )
        assert.include(short, "USERS_AUTH_SECRET is too short")
        const unset = yield* configErrorOf(jwt(UserManagerConfig.secret("USERS_AUTH_SECRET"), {}))
        assert.include(unset, "USERS_AUTH_SECRET is missing")
        // The app's own `Config.redacted` (whose errors Effect redacts): the variable is named all the same.
        const redacted = yield* configErrorOf(jwt(Config.redacted("USERS_AUTH_SECRET"), {}))
        assert.include(redacted, "USERS_AUTH_SECRET is missing")
        assert.notInclude(redacted, "<redacted>")
        // A literal too short: a ConfigError too (it was a defect with a stack trace).
        const literal = yield* configErrorOf(jwt(Redacted.make("x".repeat(31)), {}))
        assert.include(literal, "AuthStrategy.jwt: the secret is too short: it must be at least 32 bytes")
      })
  )

  it.effect("DeviceTokens.layerConfig names USERS_DEVICE_TOKEN_SECRET", () =>
    Effect.gen(function* () {
      const build = (entries: Record<string, string>) =>
        Effect.scoped(Layer.build(DeviceTokens.layerConfig().pipe(Layer.provide(withEnv(entries)))))
      assert.include(yield* configErrorOf(build({})), "USERS_DEVICE_TOKEN_SECRET is missing")
      assert.include(
        yield* configErrorOf(build({ USERS_DEVICE_TOKEN_SECRET: "short" })),
        "USERS_DEVICE_TOKEN_SECRET is too short"
      )
    })
  )
})

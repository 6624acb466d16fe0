import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Redacted } from "effect"
import { UserManagerConfig } from "effect-users"

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

  it.effect("layerConfig fails naming the variable when a secret is unset", () =>
    Effect.gen(function* () {
      const provider = ConfigProvider.fromMap(new Map([["USERS_RESET_PASSWORD_TOKEN_SECRET", "r".repeat(40)]]))
      const exit = yield* build(UserManagerConfig.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(provider))))
      assert.include(String(exit._tag === "Failure" ? exit.cause : ""), "USERS_VERIFICATION_TOKEN_SECRET")
    })
  )

  it("a secret's value never shows when the settings are printed", () => {
    const secret = Redacted.make("s".repeat(40))
    assert.notInclude(String(secret), "ssss")
    assert.notInclude(JSON.stringify({ secret }), "ssss")
  })
})

/**
 * The manager's settings: the secrets, lifetimes and audiences of verification and reset-password tokens.
 * A missing secret, or one shorter than 32 bytes, fails the layer with a `ConfigError` naming the environment
 * variable (`layerConfig`) or the option (`layer`).
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { optional, read, secret as secretConfig } from "./internal/config.js"

/**
 * The settings as given; everything but the secrets has a default.
 *
 * @since 0.1.0
 */
export interface UserManagerOptions {
  readonly resetPasswordTokenSecret: Redacted.Redacted<string>
  readonly verificationTokenSecret: Redacted.Redacted<string>
  /** Default 1 hour. */
  readonly resetPasswordTokenLifetime?: Duration.DurationInput | undefined
  /** Default 1 hour. */
  readonly verificationTokenLifetime?: Duration.DurationInput | undefined
  /** Default "effect-users:reset" (FastAPI Users writes "fastapi-users:reset"). */
  readonly resetPasswordTokenAudience?: string | undefined
  /** Default "effect-users:verify" (FastAPI Users writes "fastapi-users:verify"). */
  readonly verificationTokenAudience?: string | undefined
}

/**
 * The settings in force.
 *
 * @since 0.1.0
 */
export interface UserManagerSettings {
  readonly resetPasswordTokenSecret: Redacted.Redacted<string>
  readonly verificationTokenSecret: Redacted.Redacted<string>
  readonly resetPasswordTokenLifetime: Duration.Duration
  readonly verificationTokenLifetime: Duration.Duration
  readonly resetPasswordTokenAudience: string
  readonly verificationTokenAudience: string
}

/**
 * The shortest secret accepted, in bytes (HS256 keys should be at least as long as the hash).
 *
 * @since 0.1.0
 */
export const minimumSecretBytes = 32

/**
 * Fails with a `ConfigError` naming the setting when a secret is missing or shorter than `minimumSecretBytes`.
 *
 * @since 0.2.0
 */
export const checkSecret = (
  name: string,
  secret: Redacted.Redacted<string> | undefined
): Effect.Effect<void, ConfigError.ConfigError> => {
  const value = secret === undefined ? undefined : Redacted.value(secret)
  if (typeof value !== "string" || value.length === 0) {
    return Effect.fail(ConfigError.MissingData([name], `${name} is missing: set a secret of at least 32 bytes`))
  }
  return Buffer.byteLength(value, "utf8") < minimumSecretBytes
    ? Effect.fail(ConfigError.InvalidData([name], `${name} is too short: it must be at least 32 bytes`))
    : Effect.void
}

/**
 * A secret read from the environment variable `name` (or the app's `ConfigProvider`): a missing, empty or short
 * one (under `minimumSecretBytes`) fails with a `ConfigError` naming the variable, e.g.
 * `AuthStrategy.jwt({ secret: UserManagerConfig.secret("USERS_AUTH_SECRET") })`.
 *
 * @since 0.3.0
 */
export const secret = (name: string): Config.Config<Redacted.Redacted<string>> => secretConfig(name, minimumSecretBytes)

/**
 * Checks the options and fills in the defaults.
 *
 * @since 0.2.0
 */
export const make = (options: UserManagerOptions): Effect.Effect<UserManagerSettings, ConfigError.ConfigError> =>
  Effect.gen(function* () {
    yield* checkSecret("resetPasswordTokenSecret", options.resetPasswordTokenSecret)
    yield* checkSecret("verificationTokenSecret", options.verificationTokenSecret)
    return {
      resetPasswordTokenSecret: options.resetPasswordTokenSecret,
      verificationTokenSecret: options.verificationTokenSecret,
      resetPasswordTokenLifetime: Duration.decode(options.resetPasswordTokenLifetime ?? "1 hour"),
      verificationTokenLifetime: Duration.decode(options.verificationTokenLifetime ?? "1 hour"),
      resetPasswordTokenAudience: options.resetPasswordTokenAudience ?? "effect-users:reset",
      verificationTokenAudience: options.verificationTokenAudience ?? "effect-users:verify"
    }
  })

/**
 * The environment variables `layerConfig()` reads when given no config.
 *
 * @since 0.2.0
 */
export const fromEnv: Config.Config.Wrap<UserManagerOptions> = {
  resetPasswordTokenSecret: secret("USERS_RESET_PASSWORD_TOKEN_SECRET"),
  verificationTokenSecret: secret("USERS_VERIFICATION_TOKEN_SECRET"),
  resetPasswordTokenLifetime: optional(Config.duration("USERS_RESET_PASSWORD_TOKEN_LIFETIME")),
  verificationTokenLifetime: optional(Config.duration("USERS_VERIFICATION_TOKEN_LIFETIME")),
  resetPasswordTokenAudience: optional(Config.string("USERS_RESET_PASSWORD_TOKEN_AUDIENCE")),
  verificationTokenAudience: optional(Config.string("USERS_VERIFICATION_TOKEN_AUDIENCE"))
}

/**
 * The manager's settings.
 *
 * @since 0.1.0
 */
export class UserManagerConfig extends Context.Tag("effect-users/UserManagerConfig")<
  UserManagerConfig,
  UserManagerSettings
>() {}

/**
 * Settings given as values.
 *
 * @since 0.1.0
 */
export const layer = (options: UserManagerOptions): Layer.Layer<UserManagerConfig, ConfigError.ConfigError> =>
  Layer.effect(UserManagerConfig, make(options))

/**
 * Settings read through `Config` (by default from the `USERS_*` environment variables of `fromEnv`).
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<UserManagerOptions> = fromEnv
): Layer.Layer<UserManagerConfig, ConfigError.ConfigError> =>
  Layer.effect(UserManagerConfig, Effect.flatMap(read(Config.unwrap(config)), make))

/**
 * What the `layerConfig` of the config modules share.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/** A setting that may be missing: `undefined` then, so that the option's default applies. */
export const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * `Config.unwrap` that also reads an empty record (every option left to its default): effect 3.22's `Config.all`
 * throws on one.
 */
export const unwrap = <A>(config: Config.Config.Wrap<A>): Config.Config<A> =>
  !Config.isConfig(config) && Object.keys(config).length === 0 ? Config.succeed({} as A) : Config.unwrap(config)

/**
 * A confidential value read as text, then redacted: a missing one fails naming the variable
 * (`Config.redacted(name)` replaces every message of its errors with "<redacted>").
 */
export const redacted = (name: string): Config.Config<Redacted.Redacted<string>> =>
  Config.map(Config.string(name), (value) => Redacted.make(value))

/**
 * A secret of at least `minimumBytes` bytes: a missing or empty variable and a short one fail with a `ConfigError`
 * naming the variable (never its value).
 */
export const secret = (name: string, minimumBytes: number): Config.Config<Redacted.Redacted<string>> =>
  Config.mapOrFail(Config.option(Config.string(name)), (value) => {
    if (Option.isNone(value) || value.value === "") {
      return Either.left(
        ConfigError.MissingData([name], `${name} is missing: set it to a secret of at least ${minimumBytes} bytes`)
      )
    }
    return Buffer.byteLength(value.value, "utf8") < minimumBytes
      ? Either.left(ConfigError.InvalidData([name], `${name} is too short: it must be at least ${minimumBytes} bytes`))
      : Either.right(Redacted.make(value.value))
  })

/**
 * A `ConfigError` whose messages `Config.redacted` replaced with "<redacted>", with messages naming the path
 * instead (the path names the variable; the value is never in it).
 */
export const unredact = (error: ConfigError.ConfigError): ConfigError.ConfigError =>
  ConfigError.reduceWithContext<undefined, ConfigError.ConfigError>(error, undefined, {
    andCase: (_, left, right) => ConfigError.And(left, right),
    orCase: (_, left, right) => ConfigError.Or(left, right),
    invalidDataCase: (_, path, message) =>
      ConfigError.InvalidData(path, message === "<redacted>" ? `${path.join(".")} is invalid` : message),
    missingDataCase: (_, path, message) =>
      ConfigError.MissingData(path, message === "<redacted>" ? `${path.join(".")} is missing` : message),
    sourceUnavailableCase: (_, path, message, cause) => ConfigError.SourceUnavailable(path, message, cause),
    unsupportedCase: (_, path, message) => ConfigError.Unsupported(path, message)
  })

/** Reads a `Config`, with `unredact`ed errors. */
export const read = <A>(config: Config.Config<A>): Effect.Effect<A, ConfigError.ConfigError> =>
  Effect.mapError(config, unredact)

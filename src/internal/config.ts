/**
 * What the `layerConfig` of the config modules share.
 */
import * as Config from "effect/Config"
import * as Option from "effect/Option"

/** A setting that may be missing: `undefined` then, so that the option's default applies. */
export const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * `Config.unwrap` that also reads an empty record (every option left to its default): effect 3.22's `Config.all`
 * throws on one.
 */
export const unwrap = <A>(config: Config.Config.Wrap<A>): Config.Config<A> =>
  !Config.isConfig(config) && Object.keys(config).length === 0 ? Config.succeed({} as A) : Config.unwrap(config)

/**
 * What the `layerConfig` of the config modules share.
 */
import * as Config from "effect/Config"
import * as Option from "effect/Option"

/** A setting that may be missing: `undefined` then, so that the option's default applies. */
export const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * Every store the user routes use, in memory: for an app's tests (an HTTP test on memory layers) and prototypes.
 * Each build of the layer starts empty.
 */
import * as Layer from "effect/Layer"
import * as AccessTokenStore from "./AccessTokenStore.js"
import * as OAuthStateStore from "./OAuthStateStore.js"
import * as RefreshTokenStore from "./RefreshTokenStore.js"
import * as UserRepository from "./UserRepository.js"

/**
 * What `layer` provides.
 *
 * @since 0.3.0
 */
export type Stores =
  | UserRepository.UserRepository
  | AccessTokenStore.AccessTokenStore
  | RefreshTokenStore.RefreshTokenStore
  | OAuthStateStore.OAuthStateStore

/**
 * The users (any model), the access-token deny records, the refresh-token families and the OAuth states, each
 * in memory and empty.
 *
 * @since 0.3.0
 */
export const layer: Layer.Layer<Stores> = Layer.mergeAll(
  UserRepository.layerMemory,
  AccessTokenStore.layerMemory,
  RefreshTokenStore.layerMemory,
  OAuthStateStore.layerMemory
)

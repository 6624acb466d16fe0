/**
 * Every store of the user routes, the second factors, passkeys, the outbox and the sign-ins by e-mail, in memory:
 * for an app's tests (an HTTP test on memory layers) and prototypes. Each build of the layer starts empty.
 */
import * as Layer from "effect/Layer"
import * as AccessTokenStore from "./AccessTokenStore.js"
import * as EmailSignIn from "./EmailSignIn.js"
import * as OAuthStateStore from "./OAuthStateStore.js"
import * as Outbox from "./Outbox.js"
import * as PasskeyStore from "./PasskeyStore.js"
import * as RefreshTokenStore from "./RefreshTokenStore.js"
import * as SecondFactorStore from "./SecondFactorStore.js"
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
  | SecondFactorStore.SecondFactorStore
  | PasskeyStore.PasskeyStore
  | Outbox.OutboxStore
  | EmailSignIn.EmailSignInStore

/**
 * The users (any model), the access-token deny records, the refresh-token families, the OAuth states, the second
 * factors and pending logins (`SecondFactor.layer`'s store), the passkeys (`Passkeys.layer`'s), the outbox
 * (`Outbox.layer`'s) and the e-mail links and codes (`EmailSignIn.layer`'s), each in memory and empty.
 *
 * @since 0.3.0
 */
export const layer: Layer.Layer<Stores> = Layer.mergeAll(
  UserRepository.layerMemory,
  AccessTokenStore.layerMemory,
  RefreshTokenStore.layerMemory,
  OAuthStateStore.layerMemory,
  SecondFactorStore.layerMemory,
  PasskeyStore.layerMemory,
  Outbox.layerStoreMemory,
  EmailSignIn.layerStoreMemory
)

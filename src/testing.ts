/**
 * `effect-users/testing`: the in-memory implementations, for an app's tests and prototypes
 * (`UserRepository.layerMemory`, `AccessTokenStore.layerMemory`, `RefreshTokenStore.layerMemory`). The same
 * values as the package root exports.
 */

export * as AccessTokenStore from "./AccessTokenStore.js"
export * as RefreshTokenStore from "./RefreshTokenStore.js"
export { makeMemory, UserRepository } from "./UserRepository.js"

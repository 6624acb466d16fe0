/**
 * `effect-users/testing`: the in-memory implementations, for an app's tests and prototypes
 * (`UserRepository.layerMemory`). The same values as the package root exports.
 */

export { makeMemory, UserRepository } from "./UserRepository.js"

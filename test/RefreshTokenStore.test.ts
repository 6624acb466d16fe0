/** The memory refresh-token store passes the conformance suite. */
import { Layer } from "effect"
import { RefreshTokenStore, UserRepository } from "effect-users"
import { refreshTokenStoreSuite } from "./suites/RefreshTokenStoreSuite.js"

refreshTokenStoreSuite(
  "RefreshTokenStore.layerMemory",
  Layer.merge(RefreshTokenStore.layerMemory, UserRepository.layerMemory)
)

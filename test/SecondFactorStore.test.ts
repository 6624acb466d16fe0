/** The memory second-factor store passes the conformance suite. */
import { Layer } from "effect"
import { SecondFactorStore, UserRepository } from "effect-users"
import { secondFactorStoreSuite } from "./suites/SecondFactorStoreSuite.js"

secondFactorStoreSuite(
  "SecondFactorStore.layerMemory",
  Layer.merge(SecondFactorStore.layerMemory, UserRepository.layerMemory)
)

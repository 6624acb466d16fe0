/** The memory passkey store passes the conformance suite. */
import { Layer } from "effect"
import { PasskeyStore, UserRepository } from "effect-users"
import { passkeyStoreSuite } from "./suites/PasskeyStoreSuite.js"

passkeyStoreSuite("PasskeyStore.layerMemory", Layer.merge(PasskeyStore.layerMemory, UserRepository.layerMemory))

import { UserRepository } from "effect-users"
import { singleUseRepositorySuite } from "./suites/SingleUseSuite.js"
import { userRepositorySuite } from "./suites/UserRepositorySuite.js"

userRepositorySuite("UserRepository.layerMemory", {
  default: UserRepository.layerMemory,
  custom: UserRepository.layerMemory
})
singleUseRepositorySuite("UserRepository.layerMemory", UserRepository.layerMemory)

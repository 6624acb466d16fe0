import { UserRepository } from "effect-users"
import { singleUseRepositorySuite } from "./SingleUseSuite.js"
import { userRepositorySuite } from "./UserRepositorySuite.js"

userRepositorySuite("UserRepository.layerMemory", {
  default: UserRepository.layerMemory,
  custom: UserRepository.layerMemory
})
singleUseRepositorySuite("UserRepository.layerMemory", UserRepository.layerMemory)

import { UserRepository } from "effect-users"
import { userRepositorySuite } from "./UserRepositorySuite.js"

userRepositorySuite("UserRepository.layerMemory", {
  default: UserRepository.layerMemory,
  custom: UserRepository.layerMemory
})

import { UserRepository } from "effect-users"
import { userManagerSuite } from "./UserManagerSuite.js"

userManagerSuite("UserManager (in memory)", UserRepository.layerMemory)

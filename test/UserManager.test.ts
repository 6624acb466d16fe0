import { UserRepository } from "effect-users"
import { singleUseManagerSuite } from "./SingleUseSuite.js"
import { userManagerSuite } from "./UserManagerSuite.js"

userManagerSuite("UserManager (in memory)", UserRepository.layerMemory)
singleUseManagerSuite("UserManager (in memory)", UserRepository.layerMemory)

import { UserRepository } from "effect-users"
import { singleUseManagerSuite } from "./suites/SingleUseSuite.js"
import { userManagerSuite } from "./suites/UserManagerSuite.js"

userManagerSuite("UserManager (in memory)", UserRepository.layerMemory)
singleUseManagerSuite("UserManager (in memory)", UserRepository.layerMemory)

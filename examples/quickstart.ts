import { Effect, Layer, Redacted } from "effect"
import { UserHooks, UserManager, UserManagerConfig, UserRepository } from "effect-users"

const Users = UserManager.layer.pipe(
  Layer.provide(UserRepository.layerMemory),
  Layer.provide(
    UserManagerConfig.layer({
      resetPasswordTokenSecret: Redacted.make("change me: a reset secret of 32+ bytes"),
      verificationTokenSecret: Redacted.make("change me: a verify secret of 32+ bytes")
    })
  ),
  Layer.provide(UserHooks.layer({ onAfterRegister: (user) => Effect.log(`User ${user.id} has registered.`) }))
)

const program = Effect.gen(function* () {
  const users = yield* UserManager.UserManager
  const user = yield* users.create({ email: "king.arthur@camelot.bt", password: Redacted.make("excalibur!") })
  const again = yield* users.authenticate({ username: "King.Arthur@camelot.bt", password: Redacted.make("excalibur!") })
  console.log(again.id === user.id ? "logged in" : "not logged in")
})

Effect.runPromise(Effect.provide(program, Users))

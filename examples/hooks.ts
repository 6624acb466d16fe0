import { Effect, Layer, Redacted } from "effect"
import { UserManager, UserManagerConfig, UserRepository } from "effect-users"

// FastAPI Users' usual pattern: registering asks for the verification e-mail, which the next hook sends.
const Hooks = UserManager.layerHooks((users) => ({
  onAfterRegister: (user) => users.requestVerify(user),
  onAfterRequestVerify: (user, token) => Effect.log(`To ${user.email}: verify with ${token}`)
}))

const Users = UserManager.layer.pipe(
  Layer.provide(UserRepository.layerMemory),
  Layer.provide(
    UserManagerConfig.layer({
      resetPasswordTokenSecret: Redacted.make("change me: a reset secret of 32+ bytes"),
      verificationTokenSecret: Redacted.make("change me: a verify secret of 32+ bytes")
    })
  ),
  Layer.provide(Hooks)
)

const program = Effect.gen(function* () {
  const users = yield* UserManager.UserManager
  yield* users.create({ email: "king.arthur@camelot.bt", password: Redacted.make("excalibur!") })
})

Effect.runPromise(Effect.provide(program, Users))

import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, Schema } from "effect"
import { IdParser, PasswordHasher, type UserHooks, UserManager, UserModel, UserRepository } from "effect-users"
import { freshEmail, makeFakeHasher, password, testConfig } from "./utils/TestUsers.js"

const Knight = UserModel.make({ id: Schema.Int, fields: { firstName: Schema.String } })
type Knight = UserModel.UserOf<typeof Knight>
const Knights = UserManager.forModel(Knight)

/** A manager over a fresh memory store with a fake hasher and these hooks. */
const managerWith = (hooks: Layer.Layer<UserHooks.UserHooks>) =>
  UserManager.layer.pipe(
    Layer.provide([
      UserRepository.layerMemory,
      testConfig(),
      hooks,
      IdParser.layerInteger,
      PasswordHasher.layer(makeFakeHasher().service)
    ])
  )

/** An app's own service, as hooks would use it. */
class Mailer extends Context.Tag("test/Mailer")<
  Mailer,
  { readonly send: (to: string, text: string) => Effect.Effect<void> }
>() {}

describe("UserManager.layerHooks", () => {
  it.effect("hooks may use the app's services: the layer requires them, and the hooks get them and the manager", () => {
    const sent: Array<string> = []
    const MailerLive = Layer.succeed(Mailer, {
      send: (to, text) => Effect.sync(() => sent.push(`${to}: ${text}`))
    })
    // The layer carries the effect's requirement: without a Mailer it does not type-check as a complete program.
    const Hooks: Layer.Layer<UserHooks.UserHooks, never, Mailer> = UserManager.layerHooks<Knight, never, Mailer>(
      (users) =>
        Effect.gen(function* () {
          const mailer = yield* Mailer
          return {
            onAfterRegister: (user) => users.requestVerify(user),
            onAfterRequestVerify: (user, token) => mailer.send(user.email, `Dear ${user.firstName}, verify: ${token}`)
          }
        })
    )
    return Effect.gen(function* () {
      const users = yield* Knights
      const email = freshEmail("lamorak")
      yield* users.create({ email, password: password("correct horse"), firstName: "Lamorak" })
      yield* users.create({ email: freshEmail(), password: password("correct horse"), firstName: "Tor" })
      assert.lengthOf(sent, 2)
      assert.match(sent[0]!, new RegExp(`^${email.replace(/\./g, "\\.")}: Dear Lamorak, verify: [\\w-]+\\.`))
      const token = sent[0]!.split("verify: ")[1]!
      assert.isTrue((yield* users.verify(token)).isVerified)
    }).pipe(Effect.provide(managerWith(Hooks.pipe(Layer.provide(MailerLive)))))
  })

  it.effect("onAfterRegister calls requestVerify; onAfterRequestVerify gets a token that verifies the user", () => {
    const tokens: Array<{ readonly firstName: string; readonly token: string }> = []
    // Typed for the app's model: the hooks and the manager they receive see `firstName`.
    const Hooks = UserManager.layerHooks<Knight>((users) => ({
      onAfterRegister: (user) => users.requestVerify(user),
      onAfterRequestVerify: (user, token) => Effect.sync(() => tokens.push({ firstName: user.firstName, token }))
    }))
    return Effect.gen(function* () {
      const users = yield* Knights
      const user = yield* users.create({
        email: freshEmail(),
        password: password("correct horse"),
        firstName: "Gawain"
      })
      assert.lengthOf(tokens, 1)
      assert.strictEqual(tokens[0]!.firstName, "Gawain")
      const verified = yield* users.verify(tokens[0]!.token)
      assert.strictEqual(verified.id, user.id)
      assert.isTrue(verified.isVerified)
    }).pipe(Effect.provide(managerWith(Hooks)))
  })

  it.effect("builds the hooks once per manager, with that manager; the hooks left out stay no-ops", () => {
    const seen: Array<UserManager.UserManagerService<Knight>> = []
    const Hooks = UserManager.layerHooks<Knight>((users) => {
      seen.push(users)
      return { onAfterUpdate: () => Effect.void }
    })
    return Effect.gen(function* () {
      const users = yield* Knights
      const user = yield* users.create({ email: freshEmail(), password: password("correct horse"), firstName: "Bors" })
      yield* users.update(user, { firstName: "Bors the Younger" })
      yield* users.requestVerify(user)
      yield* users.delete(user)
      assert.lengthOf(seen, 1)
      assert.strictEqual(seen[0], users)
    }).pipe(Effect.provide(managerWith(Hooks)))
  })

  it.effect("a failing call to the manager from an after-hook is logged; the registration stands", () => {
    const logs: Array<string> = []
    const Hooks = UserManager.layerHooks<Knight>((users) => ({
      // Already verified: requestVerify fails with UserAlreadyVerified.
      onAfterRegister: (user) => users.requestVerify(user)
    }))
    return Effect.gen(function* () {
      const users = yield* Knights
      const user = yield* users.create({
        email: freshEmail(),
        password: password("correct horse"),
        firstName: "Kay",
        isVerified: true
      })
      assert.strictEqual((yield* users.get(user.id)).firstName, "Kay")
      assert.lengthOf(logs, 1)
      assert.include(logs[0]!, "UserHooks.onAfterRegister failed")
      assert.include(logs[0]!, "UserAlreadyVerified")
    }).pipe(
      Effect.provide(managerWith(Hooks)),
      Effect.provide(
        Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ cause, message }) => logs.push(`${message} ${cause}`))
        )
      )
    )
  })
})

import { assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { IdParser, PasswordHasher, UserManager, UserManagerConfig, UserModel, UserRepository } from "effect-users"
import { makeFakeHasher, resetSecret, verifySecret } from "./utils/TestUsers.js"

// An app's own model: integer IDs assigned by the store, and a first name.
const AppUser = UserModel.make({ id: Schema.Int, fields: { firstName: Schema.String } })
const Users = UserManager.forModel(AppUser)

const AppLayer = UserManager.layer.pipe(
  Layer.provide(UserRepository.layerMemory),
  Layer.provide(
    UserManagerConfig.layer({ verificationTokenSecret: verifySecret, resetPasswordTokenSecret: resetSecret })
  ),
  Layer.provide(Layer.mergeAll(IdParser.layerInteger, PasswordHasher.layer(makeFakeHasher().service)))
)

it.effect("an app's model with integer IDs and extra fields is typed and stored end to end", () =>
  Effect.gen(function* () {
    const users = yield* Users
    const arthur = yield* users.create({
      email: "arthur@camelot.bt",
      password: Redacted.make("excalibur!"),
      firstName: "Arthur"
    })
    const lancelot = yield* users.create({
      email: "lancelot@camelot.bt",
      password: Redacted.make("guinevere"),
      firstName: "Lancelot"
    })
    // Typed: `id` is a number and `firstName` a string, without casts.
    const id: number = arthur.id
    const firstName: string = arthur.firstName
    assert.deepStrictEqual([id, lancelot.id], [1, 2])
    assert.strictEqual(firstName, "Arthur")
    const renamed = yield* users.update(arthur, { firstName: "Art" })
    assert.strictEqual((yield* users.get(yield* users.parseId("1"))).firstName, "Art")
    assert.strictEqual(renamed.firstName, "Art")
    assert.isTrue(Schema.is(AppUser.User)(renamed))
  }).pipe(Effect.provide(AppLayer))
)

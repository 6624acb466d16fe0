import { assert, describe, it } from "@effect/vitest"
import { Redacted, Schema } from "effect"
import { UserModel } from "effect-users"
import { UserSchemas } from "effect-users/http"

const Knight = UserModel.make({
  id: Schema.Int,
  fields: { firstName: Schema.String, birthYear: Schema.NullOr(Schema.Int) }
})
const schemas = UserSchemas.make(Knight)

describe("UserSchemas", () => {
  it("sends a user in snake_case, with the app's fields and never the hash", () => {
    const user = {
      id: 7,
      email: "lancelot@camelot.bt",
      hashedPassword: "$argon2id$secret",
      isActive: true,
      isSuperuser: false,
      isVerified: true,
      firstName: "Lancelot",
      birthYear: null
    }
    assert.deepStrictEqual(Schema.encodeSync(schemas.UserRead)(user), {
      id: 7,
      email: "lancelot@camelot.bt",
      is_active: true,
      is_superuser: false,
      is_verified: true,
      first_name: "Lancelot",
      birth_year: null
    })
  })

  it("reads create and update bodies in snake_case; only the given fields are set", () => {
    const created = Schema.decodeUnknownSync(schemas.UserCreate)({
      email: "gawain@camelot.bt",
      password: "correct-horse-battery",
      first_name: "Gawain",
      birth_year: 480,
      is_superuser: true
    })
    assert.strictEqual(created.firstName, "Gawain")
    assert.strictEqual(created.isSuperuser, true)
    assert.isTrue(Redacted.isRedacted(created.password))
    const patch = Schema.decodeUnknownSync(schemas.UserUpdate)({ first_name: "Sir Gawain", password: null })
    assert.deepStrictEqual(Object.keys(patch).sort(), ["firstName", "password"])
    assert.throws(() => Schema.decodeUnknownSync(schemas.UserCreate)({ email: "nope", password: "x", first_name: "A" }))
  })
})

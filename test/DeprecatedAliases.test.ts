import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { IdParser, PasswordHasher, TokenCodec } from "effect-users"

// The README of earlier releases used these names: they stay, as the same layers under their new names.
describe("deprecated layer names", () => {
  it("are the layer* constructors", () => {
    assert.strictEqual(PasswordHasher.argon2, PasswordHasher.layerArgon2)
    assert.strictEqual(TokenCodec.jwt, TokenCodec.layerJwt)
    assert.strictEqual(IdParser.uuid, IdParser.layerUuid)
    assert.strictEqual(IdParser.integer, IdParser.layerInteger)
    assert.strictEqual(IdParser.make, IdParser.layer)
  })

  it.effect("still provide their service", () =>
    Effect.gen(function* () {
      const parser = yield* IdParser
      assert.strictEqual(yield* parser.parse("42"), 42)
    }).pipe(Effect.provide(IdParser.integer))
  )
})

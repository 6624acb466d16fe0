import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { IdParser } from "effect-users"

const parses = <Id>(parser: IdParser.IdParserService<Id>, value: unknown) =>
  Effect.runSync(Effect.exit(parser.parse(value)))

describe("IdParser", () => {
  describe("uuid", () => {
    it("accepts UUID strings in the forms Python's uuid.UUID reads, as lowercase canonical strings", () => {
      const canonical = "0b5d1f9a-7c3e-4c1e-9b0a-2f4f7f6a1d11"
      for (const value of [
        canonical,
        canonical.toUpperCase(),
        canonical.replaceAll("-", ""),
        `{${canonical}}`,
        `urn:uuid:${canonical}`
      ]) {
        assert.deepStrictEqual(parses(IdParser.uuidParser, value), Exit.succeed(canonical), value)
      }
    })

    it("rejects anything else with InvalidID", () => {
      for (const value of [
        "abc",
        "",
        "0b5d1f9a-7c3e-4c1e-9b0a-2f4f7f6a1d1",
        "0b5d1f9a-7c3e-4c1e-9b0a-2f4f7f6a1d11x",
        123,
        null,
        {}
      ]) {
        const exit = parses(IdParser.uuidParser, value)
        assert.isTrue(
          Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag === "InvalidID",
          String(value)
        )
      }
    })

    it("generates new IDs in the app", () => {
      assert.strictEqual(IdParser.uuidParser.generate._tag, "Some")
    })
  })

  describe("integer", () => {
    it("accepts integers and integer strings", () => {
      assert.deepStrictEqual(parses(IdParser.integerParser, 123), Exit.succeed(123))
      assert.deepStrictEqual(parses(IdParser.integerParser, "123"), Exit.succeed(123))
      assert.deepStrictEqual(parses(IdParser.integerParser, "-7"), Exit.succeed(-7))
    })

    it("rejects floats, float strings, words, booleans and unsafe integers with InvalidID", () => {
      for (const value of [123.42, "123.42", "abc", "", true, Number.NaN, 2 ** 60, "1e3", null]) {
        const exit = parses(IdParser.integerParser, value)
        assert.isTrue(
          Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag === "InvalidID",
          String(value)
        )
      }
    })

    it("leaves ID assignment to the store", () => {
      assert.strictEqual(IdParser.integerParser.generate._tag, "None")
    })
  })
})

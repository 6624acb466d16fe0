import { assert, describe, it } from "@effect/vitest"
import { assertSome } from "@effect/vitest/utils"
import { Effect, Exit, Option, Redacted, TestClock } from "effect"
import { DeviceTokens } from "effect-users"

const secret = Redacted.make("device-secret-device-secret-device-secret")
const tokens = DeviceTokens.make({ secret, lifetime: "30 days" })

describe("DeviceTokens", () => {
  it.effect("a token names its account (any spelling of the address) and its device", () =>
    Effect.gen(function* () {
      const devices = yield* tokens
      const issued = yield* devices.issue("Arthur@Camelot.bt")
      assert.strictEqual(issued.nonce.length, 22)
      assert.notInclude(issued.token.toLowerCase(), "arthur")
      assertSome(yield* devices.verify(issued.token, "  arthur@CAMELOT.bt"), issued.nonce)
      // A login from a known device keeps its nonce.
      const again = yield* devices.issue("arthur@camelot.bt", issued.nonce)
      assert.strictEqual(again.nonce, issued.nonce)
      assert.notStrictEqual((yield* devices.issue("arthur@camelot.bt")).nonce, issued.nonce)
    })
  )

  it.effect("another account's token, a forged or altered one, junk: unknown", () =>
    Effect.gen(function* () {
      const devices = yield* tokens
      const { nonce, token } = yield* devices.issue("mordred@camelot.bt")
      const [version, , expiry, mac] = token.split(".") as [string, string, string, string]
      const forged = [
        token.slice(0, -2) + (token.endsWith("AA") ? "AB" : "AA"),
        `${version}.${"A".repeat(22)}.${expiry}.${mac}`,
        `${version}.${nonce}.${(Number.parseInt(expiry, 36) + 1_000_000).toString(36)}.${mac}`,
        `v2.${nonce}.${expiry}.${mac}`,
        // A MAC of another length: refused, never a defect (the comparison needs equal lengths).
        `${version}.${nonce}.${expiry}.${mac.slice(1)}`,
        `${token}.x`,
        "",
        "not a token",
        `v1.${"A".repeat(500)}.1.x`
      ]
      assert.isTrue(Option.isNone(yield* devices.verify(token, "arthur@camelot.bt")))
      for (const candidate of forged)
        assert.isTrue(Option.isNone(yield* devices.verify(candidate, "mordred@camelot.bt")))
      // Signed with another secret: unknown; with the same secret (another instance): known.
      const other = yield* DeviceTokens.make({ secret: Redacted.make("another-secret-another-secret-another!!") })
      assert.isTrue(Option.isNone(yield* other.verify(token, "mordred@camelot.bt")))
      const sibling = yield* tokens
      assertSome(yield* sibling.verify(token, "mordred@camelot.bt"), nonce)
    })
  )

  it.effect("a token expires after its lifetime", () =>
    Effect.gen(function* () {
      // A clock at a real date (the TestClock starts at 0), and the service made now, in the test.
      yield* TestClock.setTime(Date.UTC(2025, 0, 1))
      const devices = yield* DeviceTokens.make({ secret, lifetime: "30 days" })
      const { token } = yield* devices.issue("gawain@camelot.bt")
      yield* TestClock.adjust("29 days")
      assert.isTrue(Option.isSome(yield* devices.verify(token, "gawain@camelot.bt")))
      yield* TestClock.adjust("1 day")
      assert.isTrue(Option.isNone(yield* devices.verify(token, "gawain@camelot.bt")))
    })
  )

  it.effect("orDefault: the tokens in context, else a random key of this process", () =>
    Effect.gen(function* () {
      const devices = yield* tokens
      const { nonce, token } = yield* devices.issue("kay@camelot.bt")
      const given = yield* Effect.provideService(DeviceTokens.orDefault, DeviceTokens.DeviceTokens, devices)
      assertSome(yield* given.verify(token, "kay@camelot.bt"), nonce)
      const ephemeral = yield* DeviceTokens.orDefault
      assert.isTrue(Option.isNone(yield* ephemeral.verify(token, "kay@camelot.bt")))
      const own = yield* ephemeral.issue("kay@camelot.bt")
      assertSome(yield* ephemeral.verify(own.token, "kay@camelot.bt"), own.nonce)
    })
  )

  it.effect("a secret shorter than 32 bytes is refused", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(DeviceTokens.make({ secret: Redacted.make("short") }))
      assert.isTrue(Exit.isFailure(exit))
    })
  )
})

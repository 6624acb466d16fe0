/**
 * What the adapters' outage recognisers share (`src/Unavailable.ts`, no driver): walking an error's causes, Node's
 * socket errors, finding a `ServiceUnavailable` in a chain, and the `orDie` that dies with `ServiceUnavailable`
 * for a recognised outage and with the error itself otherwise.
 */
import { assert, describe, it } from "@effect/vitest"
import { assertSome } from "@effect/vitest/utils"
import { Cause, Effect, Exit, Option } from "effect"
import { Unavailable, UserError } from "effect-users"

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code })

const defectOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

describe("Unavailable", () => {
  it("isNetworkFault: Node's socket errors, in the error, its causes or an AggregateError's errors", () => {
    const refused = withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")
    assert.isTrue(Unavailable.isNetworkFault(refused))
    assert.isTrue(Unavailable.isNetworkFault(new Error("wrapped", { cause: withCode("reset", "ECONNRESET") })))
    assert.isTrue(Unavailable.isNetworkFault(new Error("outer", { cause: new AggregateError([refused]) })))
    for (const code of ["ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]) {
      assert.isTrue(Unavailable.isNetworkFault(withCode("socket", code)), code)
    }
    assert.isFalse(Unavailable.isNetworkFault(withCode("no such file", "ENOENT")))
    assert.isFalse(Unavailable.isNetworkFault(new Error("ECONNREFUSED in a message is not a code")))
    assert.isFalse(Unavailable.isNetworkFault("ECONNREFUSED"))
  })

  it("someCause stops a few levels deep (a cyclic cause chain ends)", () => {
    const cyclic: { cause?: unknown } = {}
    cyclic.cause = cyclic
    assert.isFalse(Unavailable.someCause(cyclic, () => false))
    let deep: unknown = withCode("refused", "ECONNREFUSED")
    for (let i = 0; i < 10; i++) deep = new Error(`level ${i}`, { cause: deep })
    assert.isFalse(Unavailable.isNetworkFault(deep))
  })

  it("find: a ServiceUnavailable, or one in the causes, with its Retry-After (1 when it gives none)", () => {
    const down = new UserError.ServiceUnavailable({ reason: "queue full", retryAfter: 3 })
    assertSome(Unavailable.find(down), { reason: "queue full", retryAfter: 3 })
    assertSome(Unavailable.find(new Error("outer", { cause: new UserError.ServiceUnavailable({ reason: "down" }) })), {
      reason: "down",
      retryAfter: 1
    })
    assert.isTrue(Option.isNone(Unavailable.find(withCode("refused", "ECONNREFUSED"))))
  })

  it.effect("orDieWith: a recognised outage dies with ServiceUnavailable naming it, without its data", () =>
    Effect.gen(function* () {
      const orDie = Unavailable.orDieWith((error) => Unavailable.isNetworkFault(error))
      const refused = Object.assign(new Error("Failed to acquire connection"), {
        _tag: "SqlError",
        cause: withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"),
        parameters: ["s3cret-parameter"]
      })
      const defect = defectOf(yield* Effect.exit(orDie(Effect.fail(refused))))
      assert.instanceOf(defect, UserError.ServiceUnavailable)
      const { reason, retryAfter } = defect as UserError.ServiceUnavailable
      assert.strictEqual(retryAfter, Unavailable.storageRetryAfter)
      assert.strictEqual(
        reason,
        "storage unavailable: SqlError: Failed to acquire connection <- Error: connect ECONNREFUSED 127.0.0.1:5432 [ECONNREFUSED]"
      )
      assert.notInclude(reason, "s3cret")

      // Anything else dies as itself, and a success passes through.
      const bug = new Error("a bug")
      assert.strictEqual(defectOf(yield* Effect.exit(orDie(Effect.fail(bug)))), bug)
      assert.strictEqual(yield* orDie(Effect.succeed(42)), 42)
    })
  )
})

import { assert, it } from "@effect/vitest"
import { Effect, Either, Layer, Logger, Option, Redacted } from "effect"
import { UserManager, UserManagerConfig, UserRepository } from "effect-users"
import { resetSecret, verifySecret } from "./utils/TestUsers.js"
import { recordingTracer } from "./utils/Tracing.js"

const plain = "a-Very-Secret-Passw0rd"

it.effect("passwords and secrets never reach spans or logs", () =>
  Effect.gen(function* () {
    const { recorded, tracer } = recordingTracer()
    const logs: Array<unknown> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make((entry) => logs.push(entry))
    )
    const traced = <A, E>(effect: Effect.Effect<A, E, UserManager.UserManager>) =>
      effect.pipe(Effect.withTracer(tracer), Effect.provide(logger), Effect.either)

    const users = UserManager.layer.pipe(
      Layer.provide(UserRepository.layerMemory),
      Layer.provide(
        UserManagerConfig.layer({ verificationTokenSecret: verifySecret, resetPasswordTokenSecret: resetSecret })
      )
    )
    yield* Effect.gen(function* () {
      const manager = yield* UserManager.UserManager
      /** What an operation ended with: the user's e-mail, the error's tag (and reason), or "done". */
      const outcome = <A, E>(effect: Effect.Effect<A, E, UserManager.UserManager>) =>
        Effect.map(traced(effect), (result) =>
          Either.match(result, {
            onLeft: (error) => {
              const { _tag, reason } = error as { _tag: string; reason?: string }
              return reason === undefined ? _tag : `${_tag}: ${reason}`
            },
            onRight: (value) => (value === undefined ? "done" : (value as { email: string }).email)
          })
        )
      const weak = yield* outcome(
        manager.create({ email: "arthur@camelot.bt", password: Redacted.make(`${plain}arthur@camelot.bt`) })
      )
      assert.strictEqual(weak, "InvalidPassword: Password should not contain e-mail")
      const user = yield* manager.create({ email: "kay@camelot.bt", password: Redacted.make(plain) })
      const outcomes = yield* Effect.all([
        outcome(manager.authenticate({ username: "kay@camelot.bt", password: Redacted.make(plain) })),
        outcome(manager.authenticate({ username: "kay@camelot.bt", password: Redacted.make(`${plain}x`) })),
        outcome(manager.authenticate({ username: "nobody@camelot.bt", password: Redacted.make(plain) })),
        outcome(manager.update(user, { password: Redacted.make(`${plain}2`) })),
        outcome(manager.update(user, { password: Redacted.make("short") })),
        outcome(manager.resetPassword("not-a-token", Redacted.make(plain))),
        outcome(manager.onAfterLogin(user, Option.none()))
      ])
      assert.deepStrictEqual(outcomes, [
        "kay@camelot.bt",
        "InvalidCredentials",
        "InvalidCredentials",
        "kay@camelot.bt",
        "InvalidPassword: Password should be at least 8 characters",
        "InvalidResetPasswordToken",
        "done"
      ])
      const login = (pw: string) =>
        outcome(manager.authenticate({ username: "kay@camelot.bt", password: Redacted.make(pw) }))
      assert.deepStrictEqual(yield* Effect.all([login(`${plain}2`), login(plain)]), [
        "kay@camelot.bt",
        "InvalidCredentials"
      ])
    }).pipe(Effect.provide(users))

    assert.isAbove(recorded.length, 10)
    const seen = JSON.stringify([recorded, logs], (_key, value) => (typeof value === "bigint" ? String(value) : value))
    for (const secret of [plain, "short", Redacted.value(verifySecret), Redacted.value(resetSecret)]) {
      assert.notInclude(seen, secret)
    }
    assert.notInclude(seen, "$argon2id$")
  })
)

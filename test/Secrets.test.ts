import { assert, it } from "@effect/vitest"
import { Effect, Layer, Logger, Option, Redacted } from "effect"
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
    const traced = <A, E>(effect: Effect.Effect<A, E, UserManager>) =>
      effect.pipe(Effect.withTracer(tracer), Effect.provide(logger), Effect.either)

    const users = UserManager.layer.pipe(
      Layer.provide(UserRepository.layerMemory),
      Layer.provide(
        UserManagerConfig.layer({ verificationTokenSecret: verifySecret, resetPasswordTokenSecret: resetSecret })
      )
    )
    yield* Effect.gen(function* () {
      const manager = yield* UserManager
      yield* traced(
        manager.create({ email: "arthur@camelot.bt", password: Redacted.make(`${plain}arthur@camelot.bt`) })
      )
      const user = yield* manager.create({ email: "kay@camelot.bt", password: Redacted.make(plain) })
      yield* traced(manager.authenticate({ username: "kay@camelot.bt", password: Redacted.make(plain) }))
      yield* traced(manager.authenticate({ username: "kay@camelot.bt", password: Redacted.make(`${plain}x`) }))
      yield* traced(manager.authenticate({ username: "nobody@camelot.bt", password: Redacted.make(plain) }))
      yield* traced(manager.update(user, { password: Redacted.make(`${plain}2`) }))
      yield* traced(manager.update(user, { password: Redacted.make("short") }))
      yield* traced(manager.resetPassword("not-a-token", Redacted.make(plain)))
      yield* traced(manager.onAfterLogin(user, Option.none()))
    }).pipe(Effect.provide(users))

    assert.isAbove(recorded.length, 10)
    const seen = JSON.stringify([recorded, logs], (_key, value) => (typeof value === "bigint" ? String(value) : value))
    for (const secret of [plain, "short", Redacted.value(verifySecret), Redacted.value(resetSecret)]) {
      assert.notInclude(seen, secret)
    }
    assert.notInclude(seen, "$argon2id$")
  })
)

/**
 * What happens after a registration, a verification request or a forgotten password: mail through the app's
 * `Mailer`. The layer needs a `Mailer`, which the app provides beside it.
 */
import { Config, Effect } from "effect"
import { UserHooks } from "effect-users"
import { Mailer } from "./Mailer.js"
import type { NoteUser } from "./Model.js"

export const HooksLive = UserHooks.layerEffect(
  Effect.gen(function* () {
    const mailer = yield* Mailer
    const publicUrl = yield* Config.string("PUBLIC_URL").pipe(Config.withDefault("http://127.0.0.1:8000"))
    const hooks: Partial<UserHooks.UserHooksService<NoteUser>> = {
      onAfterRegister: (user) =>
        mailer.send({ to: user.email, subject: "Welcome to Notes", text: `Hello ${user.displayName}!` }),
      onAfterRequestVerify: (user, token) =>
        mailer.send({ to: user.email, subject: "Verify your e-mail", text: `${publicUrl}/verify?token=${token}` }),
      onAfterForgotPassword: (user, token) =>
        mailer.send({ to: user.email, subject: "Reset your password", text: `${publicUrl}/reset?token=${token}` })
    }
    return hooks
  })
)

/** `POST /auth/forgot-password` and `/auth/reset-password`. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Throttle from "../../Throttle.js"
import { UserManager } from "../../UserManager.js"
import { noStore } from "../AuthBackend.js"
import * as UsersErrors from "../UsersErrors.js"
import type { ErasedApi, Tools } from "./Handlers.js"

/** The handlers of the reset group. */
export const layer = (api: ErasedApi, { limited, mailLater }: Tools) =>
  HttpApiBuilder.group(api, "reset", (handlers) =>
    Effect.map(Effect.zip(UserManager, Throttle.Throttle), ([users, throttle]) =>
      handlers
        .handle("forgotPassword", ({ payload }) =>
          mailLater("forgotPassword", payload.email, users.forgotPasswordByEmail(payload.email))
        )
        .handle("resetPassword", ({ payload }) =>
          users.resetPassword(payload.token, payload.password).pipe(
            // The owner proved control of the mailbox: a stranger's guesses no longer hold the account back.
            Effect.tap((user) => throttle.clearAccount(user.email)),
            Effect.as(HttpServerResponse.unsafeJson(null, { headers: noStore })),
            Effect.mapError((error) => UsersErrors.ResetPasswordErrors.body(error)),
            limited("resetPassword")
          )
        )
    )
  )

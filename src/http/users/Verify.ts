/** `POST /auth/request-verify-token` and `/auth/verify`. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { UserManager } from "../../UserManager.js"
import * as UsersErrors from "../UsersErrors.js"
import type { ErasedApi, Tools } from "./Handlers.js"

/** The handlers of the verify group. */
export const layer = (api: ErasedApi, { limited, mailLater, sendUser }: Tools) =>
  HttpApiBuilder.group(api, "verify", (handlers) =>
    Effect.map(UserManager, (users) =>
      handlers
        .handle("requestVerifyToken", ({ payload }) =>
          mailLater("requestVerifyToken", payload.email, users.requestVerifyByEmail(payload.email))
        )
        .handle("verify", ({ payload }) =>
          users.verify(payload.token).pipe(
            Effect.map((user) => sendUser(user)),
            Effect.mapError((error) => UsersErrors.VerifyErrors.body(error)),
            limited("verify")
          )
        )
    )
  )

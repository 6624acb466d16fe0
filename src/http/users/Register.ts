/** `POST /auth/register`. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { UserManager } from "../../UserManager.js"
import * as UsersErrors from "../UsersErrors.js"
import type { ErasedApi, Tools } from "./Handlers.js"

/** The handler of the register group. */
export const layer = (api: ErasedApi, { created, limited, sendUser }: Tools) =>
  HttpApiBuilder.group(api, "register", (handlers) =>
    handlers.handle("register", ({ payload }) =>
      Effect.flatMap(UserManager, (users) =>
        users.create(payload, { safe: true }).pipe(
          Effect.map((user) => sendUser(user, created)),
          Effect.mapError((error) => UsersErrors.RegisterErrors.body(error)),
          limited("register")
        )
      )
    )
  )

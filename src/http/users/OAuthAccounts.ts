/** `GET /users/me/oauth-accounts` and `DELETE /users/me/oauth-accounts/{oauth_name}/{account_id}`. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { UserManager } from "../../UserManager.js"
import { noStore } from "../AuthBackend.js"
import { CurrentUser } from "../CurrentUser.js"
import { requireRecentSignIn } from "../Reauthentication.js"
import * as UserSchemas from "../UserSchemas.js"
import * as UsersErrors from "../UsersErrors.js"
import type { ErasedApi, Tools } from "./Handlers.js"

const encodeLinks = Schema.encodeSync(Schema.Array(UserSchemas.OAuthAccountRead))

/** The handlers of the linked accounts group. */
export const layer = (api: ErasedApi, { ok, settings }: Tools) =>
  HttpApiBuilder.group(api, "oauthAccounts", (handlers) =>
    Effect.gen(function* () {
      const manager = yield* UserManager
      const reauthenticate = requireRecentSignIn(settings.reauthenticationWindow)
      return handlers
        .handle("listOAuthAccounts", () =>
          Effect.gen(function* () {
            const links = yield* manager.oauthLinks(yield* CurrentUser)
            const rows = links.map((link) => ({
              oauth_name: link.oauthName,
              account_id: link.accountId,
              account_email: link.accountEmail,
              created_at: link.createdAt
            }))
            return HttpServerResponse.unsafeJson(encodeLinks(rows), ok)
          })
        )
        .handle("unlinkOAuthAccount", ({ path }) =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            yield* reauthenticate
            yield* manager.oauthUnlink(user, path.oauth_name, path.account_id)
            return HttpServerResponse.empty({ status: 204, headers: noStore })
          }).pipe(Effect.mapError((error) => UsersErrors.UnlinkOAuthAccountErrors.body(error)))
        )
    })
  )

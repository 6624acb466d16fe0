/** `GET|PATCH /users/me` and the superuser's `GET /users`, `GET|PATCH|DELETE /users/{id}`. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as AuthEvents from "../../AuthEvents.js"
import { normalizeEmail, type User } from "../../User.js"
import { UserManager } from "../../UserManager.js"
import { pageOf } from "../../UserRepository.js"
import { noStore } from "../AuthBackend.js"
import * as Authenticator from "../Authenticator.js"
import { CurrentUser } from "../CurrentUser.js"
import type { Unauthorized } from "../HttpErrors.js"
import { proofOf } from "../SignIn.js"
import * as StepUp from "../StepUp.js"
import type * as UserSchemas from "../UserSchemas.js"
import * as UsersErrors from "../UsersErrors.js"
import { type ErasedApi, endAllStored, isThrottled, type Tools, throttledResponse, userById } from "./Handlers.js"

const unauthorized: Unauthorized = { detail: "Unauthorized" }

/** The handlers of the users group. */
export const layer = (api: ErasedApi, { client, encodeRead, ok, sendUser, settings }: Tools) =>
  HttpApiBuilder.group(api, "users", (handlers) =>
    Effect.gen(function* () {
      const users = yield* UserManager
      const authenticator = yield* Authenticator.Authenticator
      const byId = (id: string) => userById(users, id)
      /**
       * The caller changes their own account: a new `password` or `email` needs the step-up (`current_password`
       * unless `requireCurrentPassword: false`; and a current code from a user with a second factor), and every
       * other session ends while the one that made the change stays.
       */
      const updateOwn = (user: User, payload: typeof UserSchemas.Default.UserUpdate.Type, safe: boolean) =>
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const { code, currentPassword, recoveryCode, ...patch } = payload
          const sensitive =
            (patch.password !== undefined && patch.password !== null) ||
            (patch.email !== undefined && normalizeEmail(patch.email) !== user.email)
          if (sensitive) {
            yield* StepUp.require(
              user,
              { currentPassword, proof: proofOf({ code, recoveryCode }) },
              {
                window: settings.reauthenticationWindow,
                client: yield* client,
                passwordRequired: settings.requireCurrentPassword
              }
            )
          }
          const session = authenticator.sessionOf(request)
          const keepSession = (epoch: number) =>
            Option.match(session, {
              onNone: () => Effect.void,
              onSome: ({ backend, token }) => backend.strategy.keep?.(token, user, epoch) ?? Effect.void
            })
          return yield* users.update(user, patch, { safe, keepSession })
        })
      return handlers
        .handle("me", () => Effect.map(CurrentUser, (user) => sendUser(user)))
        .handle("patchMe", ({ payload }) =>
          Effect.flatMap(CurrentUser, (user) =>
            updateOwn(user, payload, true).pipe(
              Effect.map((updated) => sendUser(updated)),
              Effect.catchIf(isThrottled, throttledResponse),
              // Deleted between authentication and update: as if the token named no user.
              Effect.mapError((error) =>
                error._tag === "UserNotExists" ? unauthorized : UsersErrors.PatchMeErrors.body(error)
              )
            )
          )
        )
        .handle("list", ({ urlParams }) =>
          Effect.gen(function* () {
            const filters = {
              emailPrefix: urlParams.email,
              isActive: urlParams.is_active,
              isVerified: urlParams.is_verified,
              isSuperuser: urlParams.is_superuser
            }
            const page = pageOf(urlParams)
            const [items, total] = yield* Effect.all([users.list({ ...filters, ...page }), users.count(filters)], {
              concurrency: 2
            })
            return HttpServerResponse.unsafeJson({ items: items.map((user) => encodeRead(user)), total, ...page }, ok)
          })
        )
        .handle("user", ({ path }) =>
          byId(path.id).pipe(
            Effect.map((user) => sendUser(user)),
            Effect.mapError((error) => UsersErrors.UserErrors.body(error))
          )
        )
        .handle("patchUser", ({ path, payload }) =>
          Effect.gen(function* () {
            const user = yield* byId(path.id)
            const caller = yield* CurrentUser
            // A superuser's own account is theirs like any user's: the same proof as on /users/me.
            if (user.id === caller.id) return yield* updateOwn(user, payload, false)
            const { code: _code, currentPassword: _, recoveryCode: _recovery, ...patch } = payload
            return yield* users
              .update(user, patch, { safe: false })
              .pipe(AuthEvents.withRequest({ actorId: String(caller.id) }))
          }).pipe(
            Effect.map((updated) => sendUser(updated)),
            Effect.catchIf(isThrottled, throttledResponse),
            Effect.mapError((error) => UsersErrors.PatchUserErrors.body(error))
          )
        )
        .handle("deleteUser", ({ path }) =>
          byId(path.id).pipe(
            Effect.tap((user) =>
              Effect.flatMap(CurrentUser, (caller) =>
                users.delete(user).pipe(AuthEvents.withRequest({ actorId: String(caller.id) }))
              )
            ),
            Effect.flatMap((user) => endAllStored(authenticator, user)),
            Effect.as(HttpServerResponse.empty({ status: 204, headers: noStore })),
            Effect.mapError((error) => UsersErrors.DeleteUserErrors.body(error))
          )
        )
    })
  )

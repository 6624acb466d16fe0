/**
 * A superuser's controls over a user: `POST /users/{id}/logout-all`, `POST /users/{id}/deactivate`,
 * `POST /users/{id}/activate`, `GET /users/{id}/deactivation` and `DELETE /users/{id}/mfa` (every second factor
 * removed: the way back in for a user who lost them all; ends the user's sessions).
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AuthEvents from "../../AuthEvents.js"
import { Mail } from "../../Mail.js"
import { resetMethodText, SecondFactor } from "../../SecondFactor.js"
import { Sessions } from "../../Sessions.js"
import type { User } from "../../User.js"
import { UserManager } from "../../UserManager.js"
import type { Deactivation } from "../../UserRepository.js"
import { noStore } from "../AuthBackend.js"
import * as Authenticator from "../Authenticator.js"
import { CurrentUser } from "../CurrentUser.js"
import * as UserSchemas from "../UserSchemas.js"
import * as UsersErrors from "../UsersErrors.js"
import { type ErasedApi, endAllStored, endEverySession, type Tools, userById } from "./Handlers.js"

const encodeDeactivation = Schema.encodeSync(Schema.NullOr(UserSchemas.DeactivationRead))

/** The handlers of the admin group. */
export const layer = (api: ErasedApi, { ok, sendUser }: Tools) =>
  HttpApiBuilder.group(api, "admin", (handlers) =>
    Effect.gen(function* () {
      const users = yield* UserManager
      const sessions = yield* Sessions
      const authenticator = yield* Authenticator.Authenticator
      const factors = yield* SecondFactor
      const events = yield* AuthEvents.AuthEvents
      const mail = Option.getOrUndefined(yield* Effect.serviceOption(Mail))
      // The factors go, and (with `Mail` in context, a factor to remove) the user's notice, in one transaction.
      const resetFactors = (user: User) =>
        Effect.gen(function* () {
          const userId = String(user.id)
          if (mail === undefined) return yield* factors.reset(userId)
          const had = yield* factors.hasFactor(userId)
          yield* mail.transaction(
            Effect.zipRight(factors.reset(userId), had ? mail.signInMethod(user, resetMethodText, false) : Effect.void)
          )
        })
      const noContent = HttpServerResponse.empty({ status: 204, headers: noStore })

      /** Every session of the user ends, on every backend and instance (ASVS 7.4.5); the caller's own stay. */
      const logoutAll = (user: User) => endEverySession(sessions, authenticator, user)
      /** The user is inactive until `until` (or until activated); their sessions end and their stored ones go. */
      const deactivate = (user: User, deactivation: Deactivation) =>
        Effect.tap(users.deactivate(user, deactivation), (updated) => endAllStored(authenticator, updated))

      // The superuser acting is the events' actor.
      const asActor = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.flatMap(CurrentUser, (caller) => AuthEvents.withRequest({ actorId: String(caller.id) })(effect))

      return handlers
        .handle("logoutAll", ({ path }) =>
          userById(users, path.id).pipe(
            Effect.flatMap((user) => asActor(logoutAll(user))),
            Effect.as(noContent),
            Effect.mapError((error) => UsersErrors.UserErrors.body(error))
          )
        )
        .handle("deactivate", ({ path, payload }) =>
          userById(users, path.id).pipe(
            Effect.flatMap((user) => asActor(deactivate(user, payload))),
            Effect.map((updated) => sendUser(updated)),
            Effect.mapError((error) => UsersErrors.DeactivateErrors.body(error))
          )
        )
        .handle("activate", ({ path }) =>
          userById(users, path.id).pipe(
            Effect.flatMap((user) => asActor(users.activate(user))),
            Effect.map((updated) => sendUser(updated)),
            Effect.mapError((error) => UsersErrors.UserErrors.body(error))
          )
        )
        .handle("resetMfa", ({ path }) =>
          userById(users, path.id).pipe(
            Effect.flatMap((user) =>
              asActor(
                Effect.all([
                  resetFactors(user),
                  events.emit((common) => new AuthEvents.SecondFactorReset({ ...common, userId: String(user.id) })),
                  logoutAll(user)
                ])
              )
            ),
            Effect.as(noContent),
            Effect.mapError((error) => UsersErrors.UserErrors.body(error))
          )
        )
        .handle("deactivation", ({ path }) =>
          userById(users, path.id).pipe(
            Effect.flatMap((user) => users.deactivationOf(user)),
            Effect.map((deactivation) =>
              HttpServerResponse.unsafeJson(encodeDeactivation(Option.getOrNull(deactivation)), ok)
            ),
            Effect.mapError((error) => UsersErrors.UserErrors.body(error))
          )
        )
    })
  )

/** `POST /auth/logout-all`, `GET /users/me/sessions` and `DELETE /users/me/sessions/{id}`. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AuthEvents from "../../AuthEvents.js"
import { type Listed, Sessions } from "../../Sessions.js"
import { noStore } from "../AuthBackend.js"
import * as Authenticator from "../Authenticator.js"
import { CurrentUser } from "../CurrentUser.js"
import * as UserSchemas from "../UserSchemas.js"
import * as UsersErrors from "../UsersErrors.js"
import { type ErasedApi, endEverySession, strategiesOf, type Tools } from "./Handlers.js"

const encodeSessions = Schema.encodeSync(Schema.Array(UserSchemas.SessionRead))

/** The handlers of the sessions group. */
export const layer = (api: ErasedApi, { ok }: Tools) =>
  HttpApiBuilder.group(api, "sessions", (handlers) =>
    Effect.gen(function* () {
      const sessions = yield* Sessions
      const events = yield* AuthEvents.AuthEvents
      const authenticator = yield* Authenticator.Authenticator
      const listed = strategiesOf(authenticator).flatMap((strategy) =>
        strategy.sessions === undefined ? [] : [{ strategy, sessions: strategy.sessions }]
      )
      return handlers
        .handle("logoutAll", () =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            const request = yield* HttpServerRequest.HttpServerRequest
            yield* endEverySession(sessions, authenticator, user)
            // A cookie session is cleared in the browser too.
            return Option.match(authenticator.sessionOf(request), {
              onNone: () => HttpServerResponse.empty({ status: 204, headers: noStore }),
              onSome: ({ backend }) => backend.transport.logoutResponse()
            })
          })
        )
        .handle("listSessions", () =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            const current = authenticator.sessionOf(yield* HttpServerRequest.HttpServerRequest)
            const lists = yield* Effect.forEach(listed, ({ sessions, strategy }) =>
              sessions.list(
                user,
                Option.flatMap(current, (session) =>
                  session.backend.strategy === strategy ? Option.some(session.token) : Option.none()
                )
              )
            )
            // Two backends over one store list the same sessions: each once, current if either says so.
            const byId = new Map<string, Listed>()
            for (const session of lists.flat()) {
              const seen = byId.get(session.id)
              byId.set(session.id, seen === undefined ? session : { ...seen, current: seen.current || session.current })
            }
            const rows = [...byId.values()].map((session) => ({
              id: session.id,
              created_at: session.createdAt,
              last_used_at: session.lastUsedAt,
              backend: session.backend,
              user_agent: session.userAgent,
              method: session.method,
              amr: session.amr,
              current: session.current
            }))
            return HttpServerResponse.unsafeJson(encodeSessions(rows), ok)
          })
        )
        .handle("revokeSession", ({ path }) =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            for (const { sessions } of listed) {
              if (yield* sessions.revoke(user, path.id)) {
                yield* events.emit(
                  (common) => new AuthEvents.SessionRevoked({ ...common, userId: String(user.id), sessionId: path.id })
                )
                return HttpServerResponse.empty({ status: 204, headers: noStore })
              }
            }
            return yield* UsersErrors.RevokeSessionErrors.fail("SessionNotFound")
          })
        )
    })
  )

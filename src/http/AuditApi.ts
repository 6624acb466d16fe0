/**
 * The audit routes: `GET /admin/events` (superusers: every account's events, filtered by user, kind and time) and
 * `GET /users/me/events` (the caller's own security history: sign-ins, password and e-mail changes, links), both
 * newest first with cursor paging, over the `AuditLog` in context. Malformed filters answer 422.
 *
 * @since 0.2.0
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AuditLog from "../AuditLog.js"
import * as AuthEvents from "../AuthEvents.js"
import type * as AuthBackend from "./AuthBackend.js"
import { noStore } from "./AuthBackend.js"
import { CurrentUser } from "./CurrentUser.js"
import type * as UsersGroups from "./UsersGroups.js"

/**
 * The kinds a user's own history shows (`GET /users/me/events`).
 *
 * @since 0.2.0
 */
export const ownKinds: ReadonlyArray<AuthEvents.Kind> = [
  "LoginSucceeded",
  "PasswordChanged",
  "PasswordReset",
  "EmailChanged",
  "Verified",
  "OAuthLinked",
  "OAuthUnlinked",
  "LoggedOutEverywhere",
  "PasskeyAdded",
  "PasskeyRemoved"
]

const Cursor = Schema.String.pipe(
  Schema.maxLength(64),
  Schema.filter((text) => Option.isSome(AuditLog.decodeCursor(text)), { message: () => "not a cursor" })
)
const Limit = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))
const Kind = Schema.Literal(...AuthEvents.kinds)
const PageParams = { limit: Schema.optional(Limit), cursor: Schema.optional(Cursor) }

/**
 * The filters of `GET /admin/events`: `since` at or before `until`.
 *
 * @since 0.2.0
 */
export const AdminParams = Schema.Struct({
  user_id: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64))),
  type: Schema.optional(Kind),
  since: Schema.optional(Schema.Date),
  until: Schema.optional(Schema.Date),
  ...PageParams
}).pipe(
  Schema.filter(
    (params) =>
      params.since === undefined || params.until === undefined || params.since.getTime() <= params.until.getTime(),
    { message: () => "since is after until" }
  )
)

/**
 * One event as the routes show it: the common fields, and the kind's own in `details`.
 *
 * @since 0.2.0
 */
export const EventRead = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  at: Schema.String,
  user_id: Schema.NullOr(Schema.String),
  session_id: Schema.NullOr(Schema.String),
  method: Schema.NullOr(Schema.String),
  backend: Schema.NullOr(Schema.String),
  client_address: Schema.NullOr(Schema.String),
  user_agent: Schema.NullOr(Schema.String),
  actor_id: Schema.NullOr(Schema.String),
  details: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}).annotations({ identifier: "AuthEventRead" })

/**
 * A page of events, newest first; `next_cursor` fetches the next one (`null` on the last).
 *
 * @since 0.2.0
 */
export const EventPage = Schema.Struct({
  items: Schema.Array(EventRead),
  next_cursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "AuthEventPage" })

const commonKeys = new Set([
  "_tag",
  "at",
  "userId",
  "sessionId",
  "method",
  "backend",
  "address",
  "userAgent",
  "actorId"
])

/**
 * An entry as `EventRead` shows it.
 *
 * @since 0.2.0
 */
export const toRead = ({ event, id }: AuditLog.Entry): typeof EventRead.Type => ({
  id,
  type: event._tag,
  at: event.at.toISOString(),
  user_id: event.userId ?? null,
  session_id: event.sessionId ?? null,
  method: event.method ?? null,
  backend: event.backend ?? null,
  client_address: event.address ?? null,
  user_agent: event.userAgent ?? null,
  actor_id: event.actorId ?? null,
  details: Object.fromEntries(Object.entries(event).filter(([key]) => !commonKeys.has(key)))
})

/**
 * The group of the audit routes, behind the app's `Authenticated` and `Superuser` tags (`UsersApi.make`'s).
 *
 * @since 0.2.0
 */
export const declareGroup = <
  A extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  AS,
  S extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  SS
>(users: {
  readonly Authenticated: Context.Tag<A, AS>
  readonly Superuser: Context.Tag<S, SS>
}) =>
  HttpApiGroup.make("events")
    .add(
      HttpApiEndpoint.get("adminEvents", "/admin/events")
        .setUrlParams(AdminParams)
        .addSuccess(EventPage)
        .middleware(users.Superuser)
        .annotate(OpenApi.Summary, "Security events of every account (superusers)")
        .annotate(OpenApi.Description, "Newest first; pass `next_cursor` as `cursor` for the next page.")
    )
    .add(
      HttpApiEndpoint.get("myEvents", "/users/me/events")
        .setUrlParams(Schema.Struct(PageParams))
        .addSuccess(EventPage)
        .middleware(users.Authenticated)
        .annotate(OpenApi.Summary, "The caller's security history")
        .annotate(OpenApi.Description, `Newest first; the kinds: ${ownKinds.join(", ")}.`)
    )

/** The group as the handlers see it: declared with the users API's tags, which provide `CurrentUser`. */
type ErasedTags = UsersGroups.Tags<string, ReadonlyArray<AuthBackend.Any>>
type Group = ReturnType<
  typeof declareGroup<
    UsersGroups.Authenticated<string>,
    ErasedTags["Authenticated"]["Service"],
    UsersGroups.Superuser<string>,
    ErasedTags["Superuser"]["Service"]
  >
>

const ok = { status: 200, headers: noStore } as const
const encodePage = Schema.encodeSync(EventPage)

const respond = (page: AuditLog.Page) =>
  HttpServerResponse.unsafeJson(
    encodePage({
      items: page.entries.map(toRead),
      next_cursor: Option.getOrNull(Option.map(page.next, AuditLog.encodeCursor))
    }),
    ok
  )

const cursorOf = (text: string | undefined) =>
  text === undefined ? undefined : Option.getOrUndefined(AuditLog.decodeCursor(text))

/**
 * Implements the audit routes against the app's API (which must contain `declareGroup`'s group); needs the
 * `AuditLog` and the authentication tags' layers.
 *
 * @since 0.2.0
 */
export const layer = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<ApiId, G, E, R>
): Layer.Layer<HttpApiGroup.ApiGroup<ApiId, "events">, never, AuditLog.AuditLog> => {
  const erased: HttpApi.HttpApi.Any = api
  // The one cast: the API holds `declareGroup`'s group, whatever its authentication tags.
  const typed = erased as HttpApi.HttpApi<ApiId, Group>
  return HttpApiBuilder.group(
    typed,
    "events",
    (handlers) =>
      Effect.map(AuditLog.AuditLog, (log) =>
        handlers
          .handle("adminEvents", ({ urlParams }) =>
            log
              .query({
                userId: urlParams.user_id,
                kinds: urlParams.type === undefined ? undefined : [urlParams.type],
                since: urlParams.since,
                until: urlParams.until,
                limit: urlParams.limit ?? 50,
                cursor: cursorOf(urlParams.cursor)
              })
              .pipe(Effect.map(respond))
          )
          .handle("myEvents", ({ urlParams }) =>
            Effect.flatMap(CurrentUser, (user) =>
              log.query({
                userId: String(user.id),
                kinds: ownKinds,
                limit: urlParams.limit ?? 50,
                cursor: cursorOf(urlParams.cursor)
              })
            ).pipe(Effect.map(respond))
          )
      )
    // The middleware tags the handlers rely on are the app's users API's, which the app provides with it (its
    // `UsersApi.layer`): the result drops them, as `UsersApi.layer` and `OAuth.layer` do.
  ) as Layer.Layer<HttpApiGroup.ApiGroup<ApiId, "events">, never, AuditLog.AuditLog>
}

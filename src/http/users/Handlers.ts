/**
 * What every handler module of FastAPI Users' routes shares: the settings `UsersApi.make` was given, the groups
 * as the handlers see them, and the per-request helpers (user bodies, throttling, mail sent after the answer).
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import type * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AuthEvents from "../../AuthEvents.js"
import type { AuthStrategy } from "../../AuthStrategy.js"
import type * as RefreshTokens from "../../RefreshTokens.js"
import type { Client, SessionsService } from "../../Sessions.js"
import * as Throttle from "../../Throttle.js"
import type { User } from "../../User.js"
import type { UserManagerService } from "../../UserManager.js"
import type * as AuthBackend from "../AuthBackend.js"
import { noStore } from "../AuthBackend.js"
import type * as Authenticator from "../Authenticator.js"
import { BackgroundWork } from "../BackgroundWork.js"
import type * as ClientAddress from "../ClientAddress.js"
import { tooManyRequestsResponse } from "../HttpErrors.js"
import type * as UserSchemas from "../UserSchemas.js"
import type * as UsersGroups from "../UsersGroups.js"

/**
 * The groups as the handlers see them: declared by the same `declareGroups`, for backends of every name and the
 * default model. Handlers of every app run against this instantiation (TypeScript cannot check handlers against
 * groups whose schemas are still type parameters), so each is checked against its endpoint once, here. Login
 * handlers answer the transport's own response, so one transport kind serves both.
 */
type Erased = UsersGroups.Declared<
  string,
  ReadonlyArray<AuthBackend.AuthBackend<string, never, "Bearer", RefreshTokens.RefreshOptions>>,
  typeof UserSchemas.Default
>

/** The app's API, as the handlers see it (`UsersApi.layer` casts it once). */
export type ErasedApi = HttpApi.HttpApi<string, UsersGroups.GroupsOf<Erased>, HttpApiError.HttpApiDecodeError>

/** What the handlers need of `UsersApi.make`'s options. */
export interface Settings {
  readonly backends: ReadonlyArray<AuthBackend.Any>
  readonly requireCurrentPassword: boolean
  readonly schemas: UsersGroups.Schemas
  readonly clientKey: ClientAddress.ClientKey
  readonly reauthenticationWindow: Duration.Duration
}

/** The 429 answer of a refusal. */
export const throttledResponse = (throttled: Throttle.Throttled) =>
  Effect.succeed(tooManyRequestsResponse(Duration.toMillis(throttled.retryAfter)))

/** Whether an error is the throttle's refusal (answered 429 by `throttledResponse`). */
export const isThrottled = (error: unknown): error is Throttle.Throttled => error instanceof Throttle.Throttled

/** The strategies of the running backends, each once (two backends may share one). */
export const strategiesOf = (authenticator: Authenticator.AuthenticatorService): ReadonlyArray<AuthStrategy> => [
  ...new Set(authenticator.backends.map((backend) => backend.strategy))
]

/** Deletes what every strategy stores for the user (after the epoch moved, or the user is gone). */
export const endAllStored = (authenticator: Authenticator.AuthenticatorService, user: User) =>
  Effect.forEach(strategiesOf(authenticator), (strategy) => strategy.endAll?.(user) ?? Effect.void, {
    discard: true
  })

/** Ends every session of the user, on every strategy and instance: moves the epoch, then deletes what is stored. */
export const endEverySession = (
  sessions: SessionsService,
  authenticator: Authenticator.AuthenticatorService,
  user: User
) =>
  Effect.all([
    sessions.endAll(user),
    endAllStored(authenticator, user),
    Effect.flatMap(AuthEvents.AuthEvents, (events) =>
      events.emit((common) => new AuthEvents.LoggedOutEverywhere({ ...common, userId: String(user.id) }))
    )
  ]).pipe(Effect.asVoid)

/**
 * Ends every session of the user but the one this request came in (a factor turned on or off): it stays, carried
 * over to the new epoch, as on a password change through `PATCH /users/me`.
 */
export const endOtherSessions = (
  sessions: SessionsService,
  authenticator: Authenticator.AuthenticatorService,
  user: User
) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const current = authenticator.sessionOf(request)
    return sessions.endAllBut(user, (epoch) =>
      Option.match(current, {
        onNone: () => Effect.void,
        onSome: ({ backend, token }) => backend.strategy.keep?.(token, user, epoch) ?? Effect.void
      })
    )
  })

/** The user a `/users/{id}` path names: `InvalidID` or `UserNotExists` (both 404) otherwise. */
export const userById = (users: UserManagerService, id: string) =>
  Effect.flatMap(users.parseId(id), (parsed) => users.get(parsed))

/**
 * The 202 of a mail route, at once; its work (`UserManager.forgotPasswordByEmail`, ...) after it, on the
 * `BackgroundWork` in context. Past the address's limit the answer is the same and nothing is sent: only the
 * per-client limit answers 429 here.
 */
export const mailLaterWith =
  (clientOf: Effect.Effect<Client & { readonly address: string }, never, HttpServerRequest.HttpServerRequest>) =>
  (route: Throttle.MailRoute, email: string, work: Effect.Effect<void>) =>
    Effect.all([
      Throttle.Throttle,
      clientOf,
      BackgroundWork,
      HttpServerRequest.HttpServerRequest,
      AuthEvents.CurrentRequest
    ]).pipe(
      Effect.flatMap(([throttle, { address }, background, request, info]) =>
        Effect.flatMap(throttle.mail(route, address, email), (send) =>
          send
            ? background.submit(
                route,
                work.pipe(
                  Effect.provideService(HttpServerRequest.HttpServerRequest, request),
                  Effect.provideService(AuthEvents.CurrentRequest, info)
                )
              )
            : Effect.void
        )
      ),
      Effect.as(null),
      Effect.catchIf(isThrottled, throttledResponse)
    )

/** The helpers of every handler module, built once from the settings. */
export const make = (settings: Settings) => {
  // User bodies are encoded here and sent as is, with `no-store`; on `/users/me`, the hottest route, this
  // also skips HttpApi's per-response lookup of the success schema's status and encoding annotations.
  const encodeRead = Schema.encodeSync(settings.schemas.UserRead as Schema.Schema<User, unknown>)
  const ok = { status: 200, headers: noStore } as const
  const created = { status: 201, headers: noStore } as const
  const sendUser = (user: User, options: typeof ok | typeof created = ok) =>
    HttpServerResponse.unsafeJson(encodeRead(user), options)

  // Each throttled route counts the request against its limits before doing anything else (the routes that
  // send mail against the target address too), and answers 429 when refused.
  /**
   * What the request knows about the client: its key for the limits, and what a login records. `UsersApi`'s
   * request-info middleware has already read both for the events; they are read here only without it.
   */
  const clientOf: Effect.Effect<Client & { readonly address: string }, never, HttpServerRequest.HttpServerRequest> =
    Effect.zipWith(HttpServerRequest.HttpServerRequest, AuthEvents.CurrentRequest, (request, info) => ({
      userAgent: info.userAgent ?? request.headers["user-agent"],
      address: info.address ?? settings.clientKey(request)
    }))
  const client = Effect.map(clientOf, ({ address }) => address)
  const limited =
    (route: Throttle.Route, email?: string) =>
    <A, E, R>(handler: Effect.Effect<A, E, R>) =>
      Effect.flatMap(Effect.zip(Throttle.Throttle, client), ([throttle, key]) =>
        Effect.matchEffect(throttle.route(route, key, email), {
          onFailure: throttledResponse,
          onSuccess: () => handler
        })
      )

  const mailLater = mailLaterWith(clientOf)

  return { settings, encodeRead, ok, created, sendUser, client, limited, clientOf, mailLater }
}

/** The helpers of every handler module. */
export type Tools = ReturnType<typeof make>

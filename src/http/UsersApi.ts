/**
 * FastAPI Users' routers in an app's `HttpApi`, and the layer that implements them.
 *
 * `UsersApi.make(options)` is called once at module level. It returns the groups (declared in `UsersGroups`),
 * the authentication tags (`Authenticated`, `Superuser`, and `Authentication` / `OptionalAuthentication` to
 * name the app's own), `addTo(api)` which adds every group to the app's `HttpApi`, and `layer(api)` which
 * implements them against that API.
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApiError from "@effect/platform/HttpApiError"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { AuthStrategy } from "../AuthStrategy.js"
import * as Login from "../Login.js"
import type * as RefreshTokens from "../RefreshTokens.js"
import { type Listed, Sessions } from "../Sessions.js"
import * as Throttle from "../Throttle.js"
import { normalizeEmail, type User } from "../User.js"
import { UserManager } from "../UserManager.js"
import type * as UserModel from "../UserModel.js"
import { pageOf } from "../UserRepository.js"
import type * as AuthBackend from "./AuthBackend.js"
import { noStore } from "./AuthBackend.js"
import * as Authentication from "./Authentication.js"
import * as Authenticator from "./Authenticator.js"
import { BackgroundWork, layer as layerBackgroundWork } from "./BackgroundWork.js"
import * as ClientAddress from "./ClientAddress.js"
import { CurrentUser, OptionalUser } from "./CurrentUser.js"
import * as Failures from "./Failures.js"
import { layerValidationErrors, openApiTransform, tooManyRequestsResponse, type Unauthorized } from "./HttpErrors.js"
import * as RequestLimits from "./RequestLimits.js"
import * as UserSchemas from "./UserSchemas.js"
import * as UsersGroups from "./UsersGroups.js"

/**
 * Options of `make`.
 *
 * @since 0.1.0
 */
export interface Options<
  Backends extends ReadonlyArray<AuthBackend.Any>,
  Id extends Schema.Schema.Any,
  Fields extends Schema.Struct.Fields,
  Name extends string
> {
  /** The login backends, in the order a request's token is tried. */
  readonly backends: Backends
  /** Starts the keys of the built-in authentication tags (`{name}/Authenticated`); default "effect-users". */
  readonly name?: Name | undefined
  /** Refuse logins and protected routes to unverified users (FastAPI Users' `requires_verification`). */
  readonly requiresVerification?: boolean | undefined
  /** The app's user model, for the JSON shapes; default UUID IDs and no extra fields. */
  readonly model?: UserModel.UserModel<Id, Fields> | undefined
  /** Prefix of the auth routes; default "/auth". */
  readonly authPrefix?: `/${string}` | undefined
  /** Prefix of the users routes; default "/users". */
  readonly usersPrefix?: `/${string}` | undefined
  /** The largest request body accepted on every route of the API, in bytes (413 above); default 64 KiB. */
  readonly maxBodySize?: number | undefined
  /**
   * `PATCH /users/me` needs `current_password` to change `password` or `email` (default true). `false` restores
   * FastAPI Users' behaviour, where a token alone can change them: weaker (a stolen token becomes the account).
   */
  readonly requireCurrentPassword?: boolean | undefined
  /**
   * The proxies allowed to name the client in `X-Forwarded-For`, for the per-client limits (see `Throttle`);
   * default none: the socket's address is the client.
   */
  readonly trustedProxies?: ClientAddress.TrustedProxies | undefined
}

function schemasOf<Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields>(
  model: UserModel.UserModel<Id, Fields> | undefined
): UserSchemas.UserSchemas<Id, Fields>
// Without a model the type parameters keep their defaults, which are the default model's.
function schemasOf(
  model: UserModel.UserModel<Schema.Schema.Any, Schema.Struct.Fields> | undefined
): UsersGroups.Schemas {
  return model === undefined ? UserSchemas.Default : UserSchemas.make(model)
}

function typedUser<Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields>(
  model: UserModel.UserModel<Id, Fields> | undefined
): Effect.Effect<UserModel.UserOf<UserModel.UserModel<Id, Fields>>, never, CurrentUser>
// `CurrentUser` holds the user the model's repository decoded; this names its type.
function typedUser(): Effect.Effect<User, never, CurrentUser> {
  return CurrentUser
}

function typedOptionalUser<Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields>(
  model: UserModel.UserModel<Id, Fields> | undefined
): Effect.Effect<Option.Option<UserModel.UserOf<UserModel.UserModel<Id, Fields>>>, never, OptionalUser>
function typedOptionalUser(): Effect.Effect<Option.Option<User>, never, OptionalUser> {
  return OptionalUser
}

/**
 * The groups as the handlers below see them: declared by the same `declareGroups`, for backends of every
 * name and the default model. Handlers of every app run against this instantiation (TypeScript cannot check
 * handlers against groups whose schemas are still type parameters), so each is checked against its
 * endpoint once, here. Login handlers answer the transport's own response, so one transport kind serves both.
 */
type Erased = UsersGroups.Declared<
  string,
  ReadonlyArray<AuthBackend.AuthBackend<string, never, "Bearer", RefreshTokens.RefreshOptions>>,
  typeof UserSchemas.Default
>
type ErasedApi = HttpApi.HttpApi<string, UsersGroups.GroupsOf<Erased>, HttpApiError.HttpApiDecodeError>

interface Settings {
  readonly backends: ReadonlyArray<AuthBackend.Any>
  readonly requiresVerification: boolean
  readonly requireCurrentPassword: boolean
  readonly schemas: UsersGroups.Schemas
  readonly clientKey: ClientAddress.ClientKey
}

/** The strategies of the running backends, each once (two backends may share one). */
const strategiesOf = (authenticator: Authenticator.AuthenticatorService): ReadonlyArray<AuthStrategy> => [
  ...new Set(authenticator.backends.map((backend) => backend.strategy))
]

/** Deletes what every strategy stores for the user (after the epoch moved, or the user is gone). */
const endAllStored = (authenticator: Authenticator.AuthenticatorService, user: User) =>
  Effect.forEach(strategiesOf(authenticator), (strategy) => strategy.endAll?.(user) ?? Effect.void, {
    discard: true
  })

const encodeSessions = Schema.encodeSync(Schema.Array(UserSchemas.SessionRead))

const unauthorized: Unauthorized = { detail: "Unauthorized" }

/** The 429 answer of a refusal. */
const throttledResponse = (throttled: Throttle.Throttled) =>
  Effect.succeed(tooManyRequestsResponse(Duration.toMillis(throttled.retryAfter)))

/** Every group's handlers, checked against the erased declarations. */
const layerGroups = (api: ErasedApi, settings: Settings) => {
  const { requireCurrentPassword } = settings
  // User bodies are encoded here and sent as is, with `no-store`; on `/users/me`, the hottest route, this
  // also skips HttpApi's per-response lookup of the success schema's status and encoding annotations.
  const encodeRead = Schema.encodeSync(settings.schemas.UserRead as Schema.Schema<User, unknown>)
  const ok = { status: 200, headers: noStore } as const
  const created = { status: 201, headers: noStore } as const
  const sendUser = (user: User, options: typeof ok | typeof created = ok) =>
    HttpServerResponse.unsafeJson(encodeRead(user), options)

  // Each throttled route counts the request against its limits before doing anything else (the routes that
  // send mail against the target address too), and answers 429 when refused.
  const client = Effect.map(HttpServerRequest.HttpServerRequest, settings.clientKey)
  const limited =
    (route: Throttle.Route, email?: string) =>
    <A, E, R>(handler: Effect.Effect<A, E, R>) =>
      Effect.flatMap(Effect.zip(Throttle.Throttle, client), ([throttle, key]) =>
        Effect.matchEffect(throttle.route(route, key, email), {
          onFailure: throttledResponse,
          onSuccess: () => handler
        })
      )

  const register = HttpApiBuilder.group(api, "register", (handlers) =>
    handlers.handle("register", ({ payload }) =>
      Effect.flatMap(UserManager, (users) =>
        users.create(payload, { safe: true }).pipe(
          Effect.map((user) => sendUser(user, created)),
          Effect.mapError((error) => UsersGroups.RegisterErrors.body(error)),
          limited("register")
        )
      )
    )
  )

  const { LoginErrors, RefreshErrors } = UsersGroups
  const clientOf = Effect.map(HttpServerRequest.HttpServerRequest, (request) => ({
    userAgent: request.headers["user-agent"],
    address: settings.clientKey(request)
  }))
  const auth = settings.backends.map((backend) =>
    HttpApiBuilder.group(api, `auth.${backend.name}`, (handlers) =>
      Effect.gen(function* () {
        const users = yield* UserManager
        const login = yield* Login.Login
        const throttle = yield* Throttle.Throttle
        const running = (yield* Authenticator.Authenticator).backend(backend.name)
        const { strategy, transport } = running
        const respond = Authenticator.loginResponse(running)
        return handlers
          .handle("login", ({ payload }) =>
            Effect.gen(function* () {
              const client = yield* clientOf
              // Refused before the lookup and the hash: a throttled guess costs nothing, known e-mail or not.
              const attempt = yield* throttle.login(payload.username, client.address)
              // An inactive user's right password is a failed attempt: answered as a wrong one, counted as one.
              const user = yield* Throttle.checked(
                attempt,
                users.authenticate(payload).pipe(
                  Effect.mapError((error) => LoginErrors.body(error)),
                  Effect.filterOrElse(
                    (user) => user.isActive,
                    () => LoginErrors.fail("UserInactive")
                  )
                )
              )
              const outcome = yield* login
                .start({ user, backend: backend.name, method: "password", client, respond })
                .pipe(Effect.mapError((error) => LoginErrors.body(error)))
              switch (outcome._tag) {
                case "LoggedIn":
                  return Option.getOrElse(outcome.response, () => respond(outcome.tokens))
              }
            }).pipe(
              Effect.catchIf(
                (error): error is Throttle.Throttled => error instanceof Throttle.Throttled,
                throttledResponse
              )
            )
          )
          .handle("logout", () =>
            Effect.gen(function* () {
              const user = yield* CurrentUser
              const request = yield* HttpServerRequest.HttpServerRequest
              const token = transport.read(request)
              if (Option.isSome(token)) yield* strategy.destroy(token.value, user)
              return transport.logoutResponse()
            })
          )
      })
    )
  )

  const refreshGroups = settings.backends.flatMap((backend) =>
    backend.refresh === undefined
      ? []
      : [
          HttpApiBuilder.group(api, `refresh.${backend.name}`, (handlers) =>
            Effect.gen(function* () {
              const login = yield* Login.Login
              const respond = Authenticator.loginResponse((yield* Authenticator.Authenticator).backend(backend.name))
              return handlers.handle("refresh", ({ payload }) =>
                login.refresh(backend.name, payload.refresh_token).pipe(
                  Effect.map(respond),
                  Effect.mapError((error) => RefreshErrors.body(error)),
                  limited("refresh")
                )
              )
            })
          )
        ]
  )

  // A route that mails an address counts against the address too, and answers 202 at once: the lookup, the
  // token and the hook run after it, so its timing says nothing about the address; the hooks still see the
  // request. Unknown, inactive or verified users are expected outcomes, not errors.
  const mailLater = (route: Throttle.MailRoute, email: string, send: (user: User) => Effect.Effect<void, unknown>) =>
    Effect.all([UserManager, BackgroundWork, HttpServerRequest.HttpServerRequest]).pipe(
      Effect.flatMap(([users, background, request]) =>
        background.submit(
          route,
          Effect.flatMap(users.getByEmail(email), send).pipe(
            Effect.catchAll(() => Effect.void),
            Effect.provideService(HttpServerRequest.HttpServerRequest, request)
          )
        )
      ),
      Effect.as(null),
      limited(route, email)
    )

  const verify = HttpApiBuilder.group(api, "verify", (handlers) =>
    Effect.map(UserManager, (users) =>
      handlers
        .handle("requestVerifyToken", ({ payload }) =>
          mailLater("requestVerifyToken", payload.email, (user) => users.requestVerify(user))
        )
        .handle("verify", ({ payload }) =>
          users.verify(payload.token).pipe(
            Effect.map((user) => sendUser(user)),
            Effect.mapError((error) => UsersGroups.VerifyErrors.body(error)),
            limited("verify")
          )
        )
    )
  )

  const reset = HttpApiBuilder.group(api, "reset", (handlers) =>
    Effect.map(Effect.zip(UserManager, Throttle.Throttle), ([users, throttle]) =>
      handlers
        .handle("forgotPassword", ({ payload }) =>
          mailLater("forgotPassword", payload.email, (user) => users.forgotPassword(user))
        )
        .handle("resetPassword", ({ payload }) =>
          users.resetPassword(payload.token, payload.password).pipe(
            // The owner proved control of the mailbox: a stranger's guesses no longer hold the account back.
            Effect.tap((user) => throttle.clearAccount(user.email)),
            Effect.as(HttpServerResponse.unsafeJson(null, { headers: noStore })),
            Effect.mapError((error) => UsersGroups.ResetPasswordErrors.body(error)),
            limited("resetPassword")
          )
        )
    )
  )

  const { PatchMeErrors } = UsersGroups
  const usersGroup = HttpApiBuilder.group(api, "users", (handlers) =>
    Effect.gen(function* () {
      const users = yield* UserManager
      const authenticator = yield* Authenticator.Authenticator
      const byId = (id: string) => Effect.flatMap(users.parseId(id), (parsed) => users.get(parsed))
      return handlers
        .handle("me", () => Effect.map(CurrentUser, (user) => sendUser(user)))
        .handle("patchMe", ({ payload }) =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            const request = yield* HttpServerRequest.HttpServerRequest
            const { currentPassword, ...patch } = payload
            const sensitive =
              (patch.password !== undefined && patch.password !== null) ||
              (patch.email !== undefined && normalizeEmail(patch.email) !== user.email)
            if (requireCurrentPassword && sensitive) {
              if (currentPassword === undefined) return yield* PatchMeErrors.fail("CurrentPasswordRequired")
              // Counted like a login on the user's account: a stolen token cannot guess the password faster.
              const attempt = yield* Effect.flatMap(Throttle.Throttle, (throttle) =>
                Effect.flatMap(client, (key) => throttle.account(user.email, key, "currentPassword"))
              )
              yield* Throttle.checked(attempt, users.checkPassword(user, currentPassword)).pipe(
                Effect.mapError((e) => PatchMeErrors.body(e))
              )
            }
            // Every other session ends with a new password or e-mail; the one that made the change stays.
            const session = authenticator.sessionOf(request)
            const keepSession = (epoch: number) =>
              Option.match(session, {
                onNone: () => Effect.void,
                onSome: ({ backend, token }) => backend.strategy.keep?.(token, user, epoch) ?? Effect.void
              })
            return yield* users.update(user, patch, { safe: true, keepSession }).pipe(
              Effect.map((updated) => sendUser(updated)),
              // Deleted between authentication and update: as if the token named no user.
              Effect.mapError((error) => (error._tag === "UserNotExists" ? unauthorized : PatchMeErrors.body(error)))
            )
          }).pipe(
            Effect.catchIf(
              (error): error is Throttle.Throttled => error instanceof Throttle.Throttled,
              throttledResponse
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
            Effect.mapError((error) => UsersGroups.UserErrors.body(error))
          )
        )
        .handle("patchUser", ({ path, payload }) =>
          byId(path.id).pipe(
            Effect.flatMap((user) => users.update(user, payload, { safe: false })),
            Effect.map((updated) => sendUser(updated)),
            Effect.mapError((error) => UsersGroups.PatchUserErrors.body(error))
          )
        )
        .handle("deleteUser", ({ path }) =>
          byId(path.id).pipe(
            Effect.tap((user) => users.delete(user)),
            Effect.flatMap((user) => endAllStored(authenticator, user)),
            Effect.as(HttpServerResponse.empty({ status: 204, headers: noStore })),
            Effect.mapError((error) => UsersGroups.DeleteUserErrors.body(error))
          )
        )
    })
  )

  const sessionsGroup = HttpApiBuilder.group(api, "sessions", (handlers) =>
    Effect.gen(function* () {
      const sessions = yield* Sessions
      const authenticator = yield* Authenticator.Authenticator
      const listed = strategiesOf(authenticator).flatMap((strategy) =>
        strategy.sessions === undefined ? [] : [{ strategy, sessions: strategy.sessions }]
      )
      return handlers
        .handle("logoutAll", () =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            const request = yield* HttpServerRequest.HttpServerRequest
            yield* sessions.endAll(user)
            yield* endAllStored(authenticator, user)
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
              current: session.current
            }))
            return HttpServerResponse.unsafeJson(encodeSessions(rows), ok)
          })
        )
        .handle("revokeSession", ({ path }) =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            for (const { sessions } of listed) {
              if (yield* sessions.revoke(user, path.id))
                return HttpServerResponse.empty({ status: 204, headers: noStore })
            }
            return yield* UsersGroups.RevokeSessionErrors.fail("SessionNotFound")
          })
        )
    })
  )

  return Layer.mergeAll(register, ...auth, ...refreshGroups, verify, reset, usersGroup, sessionsGroup)
}

/**
 * Builds the groups, authentication tags and layer of FastAPI Users' routers for these backends.
 *
 * @since 0.1.0
 */
export const make = <
  const Backends extends ReadonlyArray<AuthBackend.Any>,
  Id extends Schema.Schema.Any = typeof UserModel.Default.id,
  Fields extends Schema.Struct.Fields = {},
  const Name extends string = "effect-users"
>(
  options: Options<Backends, Id, Fields, Name>
) => {
  const schemas = schemasOf(options.model)
  const requiresVerification = options.requiresVerification ?? false
  const name = options.name ?? ("effect-users" as Name)
  const security = UsersGroups.securityOf(options.backends)
  const tags = UsersGroups.declareTags(name, options.backends, requiresVerification)
  const { Authenticated, Superuser } = tags
  const declared = UsersGroups.declareGroups(options, schemas, tags)
  type Groups = UsersGroups.GroupsOf<typeof declared>
  type GroupNames = HttpApiGroup.HttpApiGroup.Name<Groups>
  type StrategyContext = AuthBackend.Context<Backends[number]>
  /** What `layer` provides (the groups, the running backends, the login and the tags) and needs. */
  type Layered<ApiId extends string> = Layer.Layer<
    | HttpApiGroup.ApiGroup<ApiId, GroupNames>
    | Authenticator.Authenticator
    | Login.Login
    | Context.Tag.Identifier<typeof Authenticated>
    | Context.Tag.Identifier<typeof Superuser>
    | RequestLimits.JsonOnly
    | RequestLimits.JsonOrForm,
    ConfigError.ConfigError,
    UserManager | Sessions | Exclude<StrategyContext, UserManager | Sessions>
  >

  const groups: ReadonlyArray<Groups> = [
    declared.register,
    ...declared.auth,
    ...declared.refresh,
    declared.verify,
    declared.reset,
    declared.users,
    declared.sessions
  ]

  /** Adds every group to the app's API. */
  const addTo = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<ApiId, G, E, R>
  ): HttpApi.HttpApi<ApiId, G | Groups, E, R> =>
    groups
      .reduce<HttpApi.HttpApi<ApiId, G | Groups, E, R>>((acc, group) => acc.add(group), api)
      .annotate(OpenApi.Transform, openApiTransform)

  /**
   * Implements every group against the app's API (which must contain them: see `addTo`), answers malformed
   * requests with 422, and provides `Authenticator`, `Login`, `Authenticated` and `Superuser` for the app's use.
   */
  const layer = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<ApiId, G | Groups, E, R>
  ): Layered<ApiId> => {
    const settings: Settings = {
      backends: options.backends,
      requiresVerification,
      requireCurrentPassword: options.requireCurrentPassword ?? true,
      schemas,
      clientKey: ClientAddress.make(options.trustedProxies)
    }
    // The one cast of the API: it holds these groups, declared for the app's backends and model by the same
    // `declareGroups` as `Erased`, whose handlers are checked below; the result is typed as `make` declares it.
    const erased: HttpApi.HttpApi.Any = api
    const implemented = layerGroups(erased as ErasedApi, settings)
    const logout = Layer.mergeAll(Layer.empty, ...Object.values(tags.logout).map(Authentication.layer))
    return Layer.mergeAll(
      implemented,
      layerValidationErrors,
      RequestLimits.layer({ maxBodySize: options.maxBodySize }),
      Failures.layer
    ).pipe(
      Layer.provide(logout),
      Layer.provideMerge(RequestLimits.layerContentTypes),
      Layer.provide(layerBackgroundWork),
      // The app's throttle (`Throttle.layerMemory(...)`, `RedisThrottle.layer(...)`), or an in-memory one.
      Layer.provide(Layer.effect(Throttle.Throttle, Throttle.orDefault)),
      Layer.provideMerge(Layer.merge(Authentication.layer(Authenticated), Authentication.layer(Superuser))),
      Layer.provideMerge(Authenticator.layerLogin({ requiresVerification })),
      Layer.provideMerge(Authenticator.layer(options.backends))
    ) as Layered<ApiId>
  }

  return {
    /** The login backends, as given. */
    backends: options.backends,
    /** Whether logins (password and OAuth) need a verified user. */
    requiresVerification,
    schemas,
    /** The authenticated user, typed by the model: `CurrentUser` holds it. */
    currentUser: typedUser(options.model),
    /** The caller's user, if there is one, typed by the model: `OptionalUser` holds it. */
    optionalUser: typedOptionalUser(options.model),
    register: declared.register,
    auth: declared.auth,
    /** The refresh groups, one per bearer backend with refresh tokens. */
    refresh: declared.refresh,
    verify: declared.verify,
    reset: declared.reset,
    users: declared.users,
    groups,
    Authenticated,
    Superuser,
    /**
     * The base class of the app's own required authentication tags, with FastAPI Users' `current_user`
     * options: `class Verified extends Users.Authentication<Verified>()("App/Verified", { verified: true }) {}`.
     * Missing/invalid token or inactive user → 401, unverified or not superuser (when required) → 403.
     */
    Authentication: Authentication.Authentication(security),
    /** Like `Authentication`, for tags that provide `OptionalUser` and never fail. */
    OptionalAuthentication: Authentication.OptionalAuthentication(security),
    /** Implements one of the app's authentication tags (needs the `Authenticator` that `layer` provides). */
    layerAuthentication: Authentication.layer,
    addTo,
    layer
  } as const
}

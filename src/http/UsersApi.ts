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
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import * as AuthEvents from "../AuthEvents.js"
import * as DeviceTokens from "../DeviceTokens.js"
import type * as Login from "../Login.js"
import type { Sessions } from "../Sessions.js"
import * as Throttle from "../Throttle.js"
import type { User } from "../User.js"
import type { UserManager } from "../UserManager.js"
import type * as UserModel from "../UserModel.js"
import type * as AuthBackend from "./AuthBackend.js"
import * as Authentication from "./Authentication.js"
import * as Authenticator from "./Authenticator.js"
import { layer as layerBackgroundWork } from "./BackgroundWork.js"
import * as ClientAddress from "./ClientAddress.js"
import { CurrentUser, OptionalUser } from "./CurrentUser.js"
import * as DeviceTransport from "./DeviceTransport.js"
import * as Failures from "./Failures.js"
import { layerValidationErrors, openApiTransform } from "./HttpErrors.js"
import * as Reauthentication from "./Reauthentication.js"
import * as Redaction from "./Redaction.js"
import * as RequestLimits from "./RequestLimits.js"
import * as UserSchemas from "./UserSchemas.js"
import * as UsersGroups from "./UsersGroups.js"
import * as Admin from "./users/Admin.js"
import * as Auth from "./users/Auth.js"
import * as Handlers from "./users/Handlers.js"
import * as Mfa from "./users/Mfa.js"
import * as OAuthAccounts from "./users/OAuthAccounts.js"
import * as Register from "./users/Register.js"
import * as Reset from "./users/Reset.js"
import * as SessionsGroup from "./users/Sessions.js"
import * as Users from "./users/Users.js"
import * as Verify from "./users/Verify.js"

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
  /**
   * How recent the sign-in behind a session must be (a password or provider login, not a refresh) to link or
   * unlink an OAuth account; default 5 minutes.
   */
  readonly reauthenticationWindow?: Duration.DurationInput | undefined
  /**
   * The device cookie (see `DeviceTransport`; its path defaults to `authPrefix`). Its tokens are signed by the
   * `DeviceTokens` in context (`DeviceTokens.layer`: give every instance the same secret), else by a key of this
   * process.
   */
  readonly deviceCookie?: DeviceTransport.Options | undefined
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

/** Every route (ours and the app's) emits its security events with the client's address and user agent. */
const layerRequestInfo = (clientKey: ClientAddress.ClientKey) =>
  HttpApiBuilder.middleware((app) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      AuthEvents.withRequest({ address: clientKey(request), userAgent: request.headers["user-agent"] })(app)
    )
  )

/** Every group's handlers (one module per group in `./users/`), each checked against the erased declarations. */
const layerGroups = (api: Handlers.ErasedApi, settings: Handlers.Settings) => {
  const tools = Handlers.make(settings)
  return Layer.mergeAll(
    Register.layer(api, tools),
    ...settings.backends.map((backend) => Auth.layer(api, tools, backend)),
    ...settings.backends.flatMap((backend) =>
      backend.refresh === undefined ? [] : [Auth.layerRefresh(api, tools, backend)]
    ),
    Verify.layer(api, tools),
    Reset.layer(api, tools),
    Users.layer(api, tools),
    SessionsGroup.layer(api, tools),
    Admin.layer(api, tools),
    OAuthAccounts.layer(api, tools),
    Mfa.layer(api, tools)
  )
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
  const reauthenticationWindow = Duration.decode(options.reauthenticationWindow ?? Reauthentication.defaultWindow)
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
    | RequestLimits.JsonOrForm
    | RequestLimits.JsonOrEmpty,
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
    declared.sessions,
    declared.admin,
    declared.oauthAccounts,
    declared.mfa
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
   * requests with 422, keeps secret query parameters out of the server span and request log (`Redaction`), and
   * provides `Authenticator`, `Login`, `Authenticated` and `Superuser` for the app's use.
   */
  const layer = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<ApiId, G | Groups, E, R>
  ): Layered<ApiId> => {
    const device = DeviceTransport.make({
      ...options.deviceCookie,
      path: options.deviceCookie?.path ?? options.authPrefix ?? "/auth"
    })
    const settings: Handlers.Settings = {
      backends: options.backends,
      requireCurrentPassword: options.requireCurrentPassword ?? true,
      schemas,
      clientKey: ClientAddress.make(options.trustedProxies),
      reauthenticationWindow
    }
    // The one cast of the API: it holds these groups, declared for the app's backends and model by the same
    // `declareGroups` as `Erased`, whose handlers are checked below; the result is typed as `make` declares it.
    const erased: HttpApi.HttpApi.Any = api
    const implemented = layerGroups(erased as Handlers.ErasedApi, settings)
    const logout = Layer.mergeAll(Layer.empty, ...Object.values(tags.logout).map(Authentication.layer))
    return Layer.mergeAll(
      implemented,
      layerRequestInfo(settings.clientKey),
      layerValidationErrors,
      RequestLimits.layer({ maxBodySize: options.maxBodySize }),
      Redaction.layer(),
      Failures.layer
    ).pipe(
      Layer.provide(logout),
      Layer.provideMerge(RequestLimits.layerContentTypes),
      Layer.provide(layerBackgroundWork),
      // The app's throttle (`Throttle.layerMemory(...)`, `RedisThrottle.layer(...)`), or an in-memory one.
      Layer.provide(Layer.effect(Throttle.Throttle, Throttle.orDefault)),
      Layer.provideMerge(Layer.merge(Authentication.layer(Authenticated), Authentication.layer(Superuser))),
      Layer.provideMerge(Authenticator.layerLogin({ requiresVerification })),
      Layer.provideMerge(Authenticator.layer(options.backends, { device })),
      // One value for the login (which issues) and the handlers (which verify).
      Layer.provide(Layer.effect(DeviceTokens.DeviceTokens, DeviceTokens.orDefault))
    ) as Layered<ApiId>
  }

  return {
    /** The login backends, as given. */
    backends: options.backends,
    /** Whether logins (password and OAuth) need a verified user. */
    requiresVerification,
    schemas,
    /** The app's user model, as given (`OAuth.make` types `mapProfile` by its fields). */
    model: options.model,
    /** How recent a sign-in linking or unlinking an OAuth account needs. */
    reauthenticationWindow,
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

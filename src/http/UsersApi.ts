/**
 * FastAPI Users' routers as `HttpApiGroup`s, and the layer that implements them.
 *
 * `UsersApi.make(options)` is called once at module level. It returns the groups (register, one auth group
 * per login backend, verify, reset, users), the authentication middlewares (for the app's own endpoints
 * too), `addTo(api)` which adds every group to the app's `HttpApi`, and `layer(api)` which implements them
 * against that API.
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import type * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { User } from "../User.js"
import type { InvalidPassword } from "../UserError.js"
import { UserManager } from "../UserManager.js"
import type * as UserModel from "../UserModel.js"
import type * as AuthBackend from "./AuthBackend.js"
import { noStore } from "./AuthBackend.js"
import { BackgroundWork, layer as layerBackgroundWork } from "./BackgroundWork.js"
import { Authenticator, CurrentUser, makeAuthenticator, OptionalUser, type Requirement } from "./CurrentUser.js"
import * as Failures from "./Failures.js"
import {
  detail,
  detailWithReason,
  ErrorCode,
  Forbidden,
  layerValidationErrors,
  NotFound,
  openApiTransform,
  Unauthorized,
  ValidationError
} from "./HttpErrors.js"
import * as RequestLimits from "./RequestLimits.js"
import * as UserSchemas from "./UserSchemas.js"

/** Options of `make`. */
export interface Options<
  Backends extends ReadonlyArray<AuthBackend.Any>,
  Model extends UserModel.UserModel<any, any> = typeof UserModel.Default
> {
  /** The login backends, in the order a request's token is tried. */
  readonly backends: Backends
  /** Refuse logins and protected routes to unverified users (FastAPI Users' `requires_verification`). */
  readonly requiresVerification?: boolean | undefined
  /** The app's user model, for the JSON shapes; default UUID IDs and no extra fields. */
  readonly model?: Model | undefined
  /** Prefix of the auth routes; default "/auth". */
  readonly authPrefix?: `/${string}` | undefined
  /** Prefix of the users routes; default "/users". */
  readonly usersPrefix?: `/${string}` | undefined
  /** The largest request body accepted on every route of the API, in bytes (413 above); default 64 KiB. */
  readonly maxBodySize?: number | undefined
}

const AuthFailure = Schema.Union(Unauthorized, Forbidden)

let tagCounter = 0

/** Identifies, in a layer's context, an authentication middleware of `make`: it provides `CurrentUser`. */
export interface Authentication {
  readonly [HttpApiMiddleware.TypeId]: {
    readonly provides: CurrentUser
    readonly failure: Unauthorized | Forbidden
    readonly failureContext: never
  }
}

/** Identifies, in a layer's context, an optional authentication middleware of `make`: it provides `OptionalUser`. */
export interface OptionalAuthentication {
  readonly [HttpApiMiddleware.TypeId]: {
    readonly provides: OptionalUser
    readonly failure: never
    readonly failureContext: never
  }
}

// Named types (not local classes) so that the declarations emitted for `make` can refer to them.
/** An authentication middleware tag: runs the backends, checks the requirement, provides `CurrentUser`. */
const makeAuthenticationTag = (label: string, security: Record<string, HttpApiSecurity.HttpApiSecurity>) =>
  HttpApiMiddleware.Tag<Authentication>()(`effect-users/Authentication/${label}/${tagCounter++}`, {
    failure: AuthFailure,
    provides: CurrentUser,
    security
  })

/** An optional authentication middleware tag: provides `OptionalUser` and never fails. */
const makeOptionalTag = (label: string, security: Record<string, HttpApiSecurity.HttpApiSecurity>) =>
  HttpApiMiddleware.Tag<OptionalAuthentication>()(`effect-users/OptionalAuthentication/${label}/${tagCounter++}`, {
    provides: OptionalUser,
    security
  })

const unauthorized: Unauthorized = { detail: "Unauthorized" }
const DeleteAborted = detail(ErrorCode.DELETE_USER_ABORTED, 409, "An onBeforeDelete hook refused the deletion")
const deleteAborted = { detail: ErrorCode.DELETE_USER_ABORTED } as const
const forbidden: Forbidden = { detail: "Forbidden" }

/** The user if they meet the requirement, else the 401 or 403 to answer. */
const check = (requirement: Requirement, found: Option.Option<User>): Either.Either<User, Unauthorized | Forbidden> => {
  if (Option.isNone(found)) return Either.left(unauthorized)
  const user = found.value
  if (requirement.active && !user.isActive) return Either.left(unauthorized)
  if (requirement.verified && !user.isVerified) return Either.left(forbidden)
  if (requirement.superuser && !user.isSuperuser) return Either.left(forbidden)
  return Either.right(user)
}

/**
 * The implementation of an authentication tag. HttpApi calls the handler of each security scheme in turn
 * until one succeeds; the first already tried every backend, so the others repeat its failure instead of
 * querying again. The first records its failure where it decides it, so the success path (every
 * authenticated request) carries no bookkeeping.
 */
const implementTag = (
  tag: HttpApiMiddleware.TagClassSecurityAny,
  requirement: Requirement,
  names: ReadonlyArray<string> | undefined
): Layer.Layer<never, never, Authenticator> =>
  Layer.effect(
    tag as any,
    Effect.map(Authenticator, (authenticator) => {
      const failures = new WeakMap<object, Unauthorized | Forbidden>()
      const resolve = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<unknown, unknown> =>
        Effect.flatMap(authenticator.authenticate(request, names), (found): Effect.Effect<unknown, unknown> => {
          const verdict = check(requirement, found)
          if (requirement.optional) return Effect.succeed(Either.getRight(verdict))
          if (Either.isLeft(verdict)) failures.set(request, verdict.left)
          return verdict
        })
      const first = Effect.flatMap(HttpServerRequest.HttpServerRequest, resolve)
      const again = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const failure = failures.get(request)
        return failure === undefined ? resolve(request) : Effect.fail(failure)
      })
      return Object.fromEntries(
        Object.keys(tag.security).map((key, index) => [key, () => (index === 0 ? first : again)])
      )
    })
  ) as any

type AuthGroupName<B> = B extends AuthBackend.AuthBackend<infer Name, any> ? `auth.${Name}` : never

const capitalize = (word: string) => word.charAt(0).toUpperCase() + word.slice(1)

/** Builds the groups, middlewares and layer of FastAPI Users' routers for these backends. */
export const make = <
  const Backends extends ReadonlyArray<AuthBackend.Any>,
  Model extends UserModel.UserModel<any, any> = typeof UserModel.Default
>(
  options: Options<Backends, Model>
) => {
  const schemas = options.model === undefined ? UserSchemas.Default : UserSchemas.make(options.model)
  const { UserCreate, UserRead, UserUpdate } = schemas
  const authPrefix = options.authPrefix ?? "/auth"
  const usersPrefix = options.usersPrefix ?? "/users"
  const requiresVerification = options.requiresVerification ?? false
  const security = Object.fromEntries(
    options.backends.map((backend) => [backend.name, backend.transport.security])
  ) as Record<string, HttpApiSecurity.HttpApiSecurity>

  const registry: Array<{
    readonly tag: HttpApiMiddleware.TagClassSecurityAny
    readonly requirement: Requirement
    /** The backends it tries; default all. */
    readonly names?: ReadonlyArray<string>
  }> = []

  /**
   * An authentication middleware for the app's own endpoints, with FastAPI Users' `current_user` options:
   * missing/invalid token or inactive user → 401, unverified or not superuser (when required) → 403;
   * `optional` provides `OptionalUser` instead of failing. Implement it with `layerAuthentication(tag)`.
   */
  const authentication = (requirement: Requirement = {}) => {
    const label = [
      requirement.active && "active",
      requirement.verified && "verified",
      requirement.superuser && "superuser"
    ]
      .filter(Boolean)
      .join("+")
    const tag = makeAuthenticationTag(label || "any", security)
    registry.push({ tag: tag as any, requirement })
    return tag
  }

  /** Like `authentication({ optional: true, ... })`: handlers read `OptionalUser`. */
  const optionalAuthentication = (requirement: Omit<Requirement, "optional"> = {}) => {
    const tag = makeOptionalTag("optional", security)
    registry.push({ tag: tag as any, requirement: { ...requirement, optional: true } })
    return tag
  }

  /** Active (and verified when required) users: `/users/me`. */
  const Authenticated = authentication({ active: true, verified: requiresVerification })
  /** Active superusers (verified when required): `/users/{id}`. */
  const Superuser = authentication({ active: true, verified: requiresVerification, superuser: true })

  const passwordError = <const Code extends string>(code: Code) => detailWithReason(code)

  const RegisterGroup = HttpApiGroup.make("register")
    .add(
      HttpApiEndpoint.post("register", "/register")
        .setPayload(UserCreate)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserRead, { status: 201 })
        .addError(detail(ErrorCode.REGISTER_USER_ALREADY_EXISTS, 400))
        .addError(passwordError(ErrorCode.REGISTER_INVALID_PASSWORD))
        .addError(ValidationError)
        .annotate(OpenApi.Summary, "Register")
    )
    .prefix(authPrefix)
    .annotate(OpenApi.Title, "auth")

  const makeAuthGroup = <B extends AuthBackend.Any>(backend: B) => {
    const Logout = makeAuthenticationTag(`logout.${backend.name}`, { [backend.name]: backend.transport.security })
    registry.push({
      tag: Logout as any,
      requirement: { active: true, verified: requiresVerification },
      names: [backend.name]
    })
    const login = HttpApiEndpoint.post("login", "/login")
      .setPayload(UserSchemas.LoginBody)
      .middleware(RequestLimits.JsonOrForm)
      .addError(detail(ErrorCode.LOGIN_BAD_CREDENTIALS, 400, "Bad credentials or the user is inactive"))
      .addError(detail(ErrorCode.LOGIN_USER_NOT_VERIFIED, 400, "The user is not verified"))
      .addError(ValidationError)
      .annotate(OpenApi.Summary, `Log in (${backend.name})`)
    return HttpApiGroup.make(`auth.${backend.name}` as AuthGroupName<B>)
      .add(
        backend.transport._tag === "Bearer"
          ? login.addSuccess(UserSchemas.BearerResponse)
          : login.addSuccess(HttpApiSchema.NoContent)
      )
      .add(
        HttpApiEndpoint.post("logout", "/logout")
          .addSuccess(HttpApiSchema.NoContent)
          .middleware(Logout)
          .annotate(OpenApi.Summary, `Log out (${backend.name})`)
      )
      .prefix(`${authPrefix}/${backend.name}`)
      .annotate(OpenApi.Title, `auth:${backend.name}`)
      .annotate(OpenApi.Description, `${capitalize(backend.transport._tag.toLowerCase())} login backend`)
  }
  const authGroups = options.backends.map(makeAuthGroup) as Array<ReturnType<typeof makeAuthGroup<Backends[number]>>>

  const Accepted = Schema.Null.annotations(HttpApiSchema.annotations({ status: 202 }))

  const VerifyGroup = HttpApiGroup.make("verify")
    .add(
      HttpApiEndpoint.post("requestVerifyToken", "/request-verify-token")
        .setPayload(UserSchemas.EmailBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(Accepted)
        .addError(ValidationError)
        .annotate(OpenApi.Summary, "Request a verification token (always 202)")
    )
    .add(
      HttpApiEndpoint.post("verify", "/verify")
        .setPayload(UserSchemas.TokenBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserRead)
        .addError(detail(ErrorCode.VERIFY_USER_BAD_TOKEN, 400))
        .addError(detail(ErrorCode.VERIFY_USER_ALREADY_VERIFIED, 400))
        .addError(ValidationError)
        .annotate(OpenApi.Summary, "Verify")
    )
    .prefix(authPrefix)

  const ResetGroup = HttpApiGroup.make("reset")
    .add(
      HttpApiEndpoint.post("forgotPassword", "/forgot-password")
        .setPayload(UserSchemas.EmailBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(Accepted)
        .addError(ValidationError)
        .annotate(OpenApi.Summary, "Forgot password (always 202)")
    )
    .add(
      HttpApiEndpoint.post("resetPassword", "/reset-password")
        .setPayload(UserSchemas.ResetPasswordBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(Schema.Null)
        .addError(detail(ErrorCode.RESET_PASSWORD_BAD_TOKEN, 400, "Bad, expired or used token, or inactive user"))
        .addError(passwordError(ErrorCode.RESET_PASSWORD_INVALID_PASSWORD))
        .addError(ValidationError)
        .annotate(OpenApi.Summary, "Reset password")
    )
    .prefix(authPrefix)

  const IdPath = Schema.Struct({ id: Schema.String })
  const UsersGroup = HttpApiGroup.make("users")
    .add(
      HttpApiEndpoint.get("me", "/me").addSuccess(UserRead).middleware(Authenticated).annotate(OpenApi.Summary, "Me")
    )
    .add(
      HttpApiEndpoint.patch("patchMe", "/me")
        .setPayload(UserUpdate)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserRead)
        .addError(detail(ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS, 400))
        .addError(passwordError(ErrorCode.UPDATE_USER_INVALID_PASSWORD))
        .addError(ValidationError)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "Update me")
    )
    .add(
      HttpApiEndpoint.get("user", "/:id")
        .setPath(IdPath)
        .addSuccess(UserRead)
        .addError(NotFound)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Get a user (superuser)")
    )
    .add(
      HttpApiEndpoint.patch("patchUser", "/:id")
        .setPath(IdPath)
        .setPayload(UserUpdate)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserRead)
        .addError(detail(ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS, 400))
        .addError(passwordError(ErrorCode.UPDATE_USER_INVALID_PASSWORD))
        .addError(NotFound)
        .addError(ValidationError)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Update a user (superuser)")
    )
    .add(
      HttpApiEndpoint.del("deleteUser", "/:id")
        .setPath(IdPath)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(NotFound)
        .addError(DeleteAborted)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Delete a user (superuser)")
    )
    .prefix(usersPrefix)

  type Groups =
    | typeof RegisterGroup
    | (typeof authGroups)[number]
    | typeof VerifyGroup
    | typeof ResetGroup
    | typeof UsersGroup

  const groups: ReadonlyArray<HttpApiGroup.HttpApiGroup.Any> = [
    RegisterGroup,
    ...authGroups,
    VerifyGroup,
    ResetGroup,
    UsersGroup
  ]

  /** Adds every group to the app's API. */
  const addTo = <Id extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<Id, G, E, R>
  ): HttpApi.HttpApi<Id, G | Groups, E, R> =>
    groups.reduce((acc: any, group) => acc.add(group), api).annotate(OpenApi.Transform, openApiTransform)

  type GroupNames = HttpApiGroup.HttpApiGroup.Name<Groups>
  type StrategyContext = AuthBackend.Context<Backends[number]>

  const invalidPassword = (code: string) => (error: InvalidPassword) =>
    Effect.fail({ detail: { code, reason: error.reason } })
  const fail = (code: string) => () => Effect.fail({ detail: code })

  /** The running backends (their strategies built) and every authentication middleware's implementation. */
  const layerAuthenticator: Layer.Layer<
    Authenticator,
    ConfigError.ConfigError,
    UserManager | Exclude<StrategyContext, UserManager>
  > = Layer.effect(
    Authenticator,
    Effect.map(
      Effect.forEach(options.backends, (backend) =>
        Effect.map(backend.strategy, (strategy) => ({ name: backend.name, transport: backend.transport, strategy }))
      ),
      makeAuthenticator
    )
  )

  /** Implements an authentication tag made by `authentication` or `optionalAuthentication`. */
  const layerAuthentication = <I, S>(tag: import("effect/Context").Tag<I, S>): Layer.Layer<I, never, Authenticator> => {
    const entry = registry.find((candidate) => candidate.tag === (tag as unknown))
    if (entry === undefined) throw new Error("layerAuthentication: this tag was not made by this UsersApi")
    return implementTag(entry.tag, entry.requirement, entry.names) as any
  }

  /**
   * Implements every group against the app's API (which must contain them: see `addTo`), answers malformed
   * requests with 422, and provides `Authenticator` plus `Authenticated` and `Superuser` for the app's use.
   */
  const layer = <Id extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<Id, G | Groups, E, R>
  ): Layer.Layer<
    | HttpApiGroup.ApiGroup<Id, GroupNames>
    | Authenticator
    | Authentication
    | RequestLimits.JsonOnly
    | RequestLimits.JsonOrForm,
    ConfigError.ConfigError,
    UserManager | Exclude<StrategyContext, UserManager>
  > => {
    const anyApi = api as any
    // User bodies are encoded here and sent as is, with `no-store`; on `/users/me`, the hottest route, this
    // also skips HttpApi's per-response lookup of the success schema's status and encoding annotations.
    const encodeRead = Schema.encodeSync(UserRead)
    const ok = { status: 200, headers: noStore } as const
    const created = { status: 201, headers: noStore } as const
    const sendUser = (user: User, options: typeof ok | typeof created = ok) =>
      HttpServerResponse.unsafeJson(encodeRead(user), options)
    const group = HttpApiBuilder.group as unknown as (
      api: unknown,
      name: string,
      build: (handlers: any) => any
    ) => Layer.Layer<never, never, any>
    const register = group(anyApi, "register", (handlers: any) =>
      handlers.handle("register", ({ payload }: any) =>
        Effect.flatMap(UserManager, (users) =>
          users.create(payload, { safe: true }).pipe(
            Effect.map((user) => sendUser(user, created)),
            Effect.catchTags({
              UserAlreadyExists: fail(ErrorCode.REGISTER_USER_ALREADY_EXISTS),
              InvalidPassword: invalidPassword(ErrorCode.REGISTER_INVALID_PASSWORD)
            })
          )
        )
      )
    )

    const auth = options.backends.map((backend) =>
      group(anyApi, `auth.${backend.name}`, (handlers: any) =>
        Effect.gen(function* () {
          const users = yield* UserManager
          const { strategy, transport } = (yield* Authenticator).backend(backend.name)
          return handlers
            .handle("login", ({ payload }: any) =>
              Effect.gen(function* () {
                const user = yield* users
                  .authenticate(payload)
                  .pipe(Effect.catchTag("InvalidCredentials", fail(ErrorCode.LOGIN_BAD_CREDENTIALS)))
                if (!user.isActive) return yield* fail(ErrorCode.LOGIN_BAD_CREDENTIALS)()
                if (requiresVerification && !user.isVerified) return yield* fail(ErrorCode.LOGIN_USER_NOT_VERIFIED)()
                const response = transport.loginResponse(yield* strategy.write(user))
                yield* users.onAfterLogin(user, Option.some(response))
                return response
              })
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

    // The lookup, the token and the hook run after the 202, so its timing says nothing about the address;
    // the hooks still see the request. Unknown, inactive or verified users are expected outcomes, not errors.
    const afterResponse = (name: string, work: Effect.Effect<void, unknown>) =>
      Effect.all([BackgroundWork, HttpServerRequest.HttpServerRequest]).pipe(
        Effect.flatMap(([background, request]) =>
          background.submit(
            name,
            work.pipe(
              Effect.catchAll(() => Effect.void),
              Effect.provideService(HttpServerRequest.HttpServerRequest, request)
            )
          )
        ),
        Effect.as(null)
      )

    const verify = group(anyApi, "verify", (handlers: any) =>
      Effect.map(UserManager, (users) =>
        handlers
          .handle("requestVerifyToken", ({ payload }: any) =>
            afterResponse(
              "requestVerifyToken",
              Effect.flatMap(users.getByEmail(payload.email), (user) => users.requestVerify(user))
            )
          )
          .handle("verify", ({ payload }: any) =>
            users.verify(payload.token).pipe(
              Effect.map((user) => sendUser(user)),
              Effect.catchTags({
                InvalidVerifyToken: fail(ErrorCode.VERIFY_USER_BAD_TOKEN),
                UserAlreadyVerified: fail(ErrorCode.VERIFY_USER_ALREADY_VERIFIED)
              })
            )
          )
      )
    )

    const reset = group(anyApi, "reset", (handlers: any) =>
      Effect.map(UserManager, (users) =>
        handlers
          .handle("forgotPassword", ({ payload }: any) =>
            afterResponse(
              "forgotPassword",
              Effect.flatMap(users.getByEmail(payload.email), (user) => users.forgotPassword(user))
            )
          )
          .handle("resetPassword", ({ payload }: any) =>
            users.resetPassword(payload.token, payload.password).pipe(
              Effect.as(HttpServerResponse.unsafeJson(null, { headers: noStore })),
              Effect.catchTags({
                InvalidResetPasswordToken: fail(ErrorCode.RESET_PASSWORD_BAD_TOKEN),
                UserNotExists: fail(ErrorCode.RESET_PASSWORD_BAD_TOKEN),
                UserInactive: fail(ErrorCode.RESET_PASSWORD_BAD_TOKEN),
                InvalidPassword: invalidPassword(ErrorCode.RESET_PASSWORD_INVALID_PASSWORD)
              })
            )
          )
      )
    )

    const usersGroup = group(anyApi, "users", (handlers: any) =>
      Effect.map(UserManager, (users) => {
        const notFound = () => Effect.fail(NotFound.make({ detail: "Not Found" }))
        const byId = (id: string) =>
          users.parseId(id).pipe(
            Effect.flatMap((parsed) => users.get(parsed)),
            Effect.catchTags({ InvalidID: notFound, UserNotExists: notFound })
          )
        // A user deleted between authentication and update: 404 on /users/{id}, 401 on /users/me.
        const update = (user: User, payload: any, safe: boolean, gone: () => Effect.Effect<never, unknown>) =>
          users.update(user, payload, { safe }).pipe(
            Effect.catchTags({
              UserAlreadyExists: fail(ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS),
              InvalidPassword: invalidPassword(ErrorCode.UPDATE_USER_INVALID_PASSWORD),
              UserNotExists: gone
            }),
            Effect.map((updated) => sendUser(updated))
          )
        return handlers
          .handle("me", () => Effect.map(CurrentUser, (user) => sendUser(user)))
          .handle("patchMe", ({ payload }: any) =>
            Effect.flatMap(CurrentUser, (user) => update(user, payload, true, () => Effect.fail(unauthorized)))
          )
          .handle("user", ({ path }: any) => Effect.map(byId(path.id), (user) => sendUser(user)))
          .handle("patchUser", ({ path, payload }: any) =>
            Effect.flatMap(byId(path.id), (user) => update(user, payload, false, notFound))
          )
          .handle("deleteUser", ({ path }: any) =>
            byId(path.id).pipe(
              Effect.flatMap((user) => users.delete(user)),
              Effect.catchTag("UserDeleteAborted", () => Effect.fail(deleteAborted)),
              Effect.as(HttpServerResponse.empty({ status: 204, headers: noStore }))
            )
          )
      })
    )

    const middlewares = Layer.unwrapEffect(
      Effect.sync(() =>
        Layer.mergeAll(Layer.empty, ...registry.map((entry) => implementTag(entry.tag, entry.requirement, entry.names)))
      )
    )

    return Layer.mergeAll(
      register,
      ...auth,
      verify,
      reset,
      usersGroup,
      layerValidationErrors,
      RequestLimits.layer({ maxBodySize: options.maxBodySize }),
      Failures.layer
    ).pipe(
      Layer.provideMerge(RequestLimits.layerContentTypes),
      Layer.provide(layerBackgroundWork),
      Layer.provideMerge(middlewares),
      Layer.provideMerge(layerAuthenticator)
    ) as any
  }

  /** The authenticated user, typed by the model: `CurrentUser` holds it. */
  const currentUser = CurrentUser as unknown as Effect.Effect<UserModel.UserOf<Model>, never, CurrentUser>
  /** The caller's user if any, typed by the model: `OptionalUser` holds it. */
  const optionalUser = OptionalUser as unknown as Effect.Effect<
    Option.Option<UserModel.UserOf<Model>>,
    never,
    OptionalUser
  >

  return {
    schemas,
    currentUser,
    optionalUser,
    register: RegisterGroup,
    auth: authGroups,
    verify: VerifyGroup,
    reset: ResetGroup,
    users: UsersGroup,
    groups,
    Authenticated,
    Superuser,
    authentication,
    optionalAuthentication,
    layerAuthentication,
    addTo,
    layer
  } as const
}

/**
 * The declarations of FastAPI Users' routers: the groups (register, one auth group per login backend, verify,
 * reset, users, sessions) and the authentication middleware tags they use; each route's errors come from its
 * table in `UsersErrors`. Nothing here runs a request: `UsersApi` implements these groups.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import type * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import type { RefreshOptions } from "../RefreshTokens.js"
import type * as Throttle from "../Throttle.js"
import type * as AuthBackend from "./AuthBackend.js"
import { Authentication, type AuthenticationTag, type AuthFailure, type Security } from "./Authentication.js"
import type { CurrentUser } from "./CurrentUser.js"
import { CsrfRejected, TooManyRequests, ValidationError } from "./HttpErrors.js"
import * as RequestLimits from "./RequestLimits.js"
import { MfaRequired } from "./SignIn.js"
import * as UserSchemas from "./UserSchemas.js"
import * as UsersErrors from "./UsersErrors.js"

/**
 * What a required authentication middleware provides and how it fails, as its tag's instances carry it.
 *
 * @since 0.1.0
 */
export interface RequiredAuthentication {
  readonly [HttpApiMiddleware.TypeId]: {
    readonly provides: CurrentUser
    readonly failure: typeof AuthFailure.Type
    readonly failureContext: never
  }
}

/**
 * The built-in `Authenticated` tag of the `UsersApi` named `Name`: active, and verified when required.
 *
 * @since 0.1.0
 */
export interface Authenticated<Name extends string> extends RequiredAuthentication {
  readonly "effect-users/Authenticated": Name
}

/**
 * The built-in `Superuser` tag of the `UsersApi` named `Name`.
 *
 * @since 0.1.0
 */
export interface Superuser<Name extends string> extends RequiredAuthentication {
  readonly "effect-users/Superuser": Name
}

/**
 * The logout routes' tags (one per backend, each trying that backend's token only).
 *
 * @since 0.1.0
 */
export interface Logout<Name extends string> extends RequiredAuthentication {
  readonly "effect-users/Logout": Name
}

/**
 * The logout tag of one backend.
 *
 * @since 0.1.0
 */
export type LogoutTag<Name extends string> = AuthenticationTag<Logout<Name>, string, Security>

/**
 * The security schemes of these backends, by name.
 *
 * @since 0.1.0
 */
export type SecurityOf<Backends extends ReadonlyArray<AuthBackend.Any>> = {
  readonly [K in AuthBackend.NameOf<Backends[number]>]: HttpApiSecurity.HttpApiSecurity
}

/**
 * The authentication tags of a `UsersApi`.
 *
 * @since 0.1.0
 */
export interface Tags<Name extends string, Backends extends ReadonlyArray<AuthBackend.Any>> {
  readonly Authenticated: AuthenticationTag<Authenticated<Name>, `${Name}/Authenticated`, SecurityOf<Backends>>
  readonly Superuser: AuthenticationTag<Superuser<Name>, `${Name}/Superuser`, SecurityOf<Backends>>
  /** By backend name. */
  readonly logout: Readonly<Record<string, LogoutTag<Name>>>
}

/**
 * The security schemes of the backends, by name.
 *
 * @since 0.1.0
 */
export function securityOf<const Backends extends ReadonlyArray<AuthBackend.Any>>(
  backends: Backends
): SecurityOf<Backends>
export function securityOf(backends: ReadonlyArray<AuthBackend.Any>): Record<string, HttpApiSecurity.HttpApiSecurity> {
  return Object.fromEntries(backends.map((backend) => [backend.name, backend.transport.security]))
}

/**
 * The authentication tags of a `UsersApi` named `name` (their keys start with it).
 *
 * @since 0.1.0
 */
export function declareTags<const Name extends string, const Backends extends ReadonlyArray<AuthBackend.Any>>(
  name: Name,
  backends: Backends,
  requiresVerification: boolean
): Tags<Name, Backends>
export function declareTags(
  name: string,
  backends: ReadonlyArray<AuthBackend.Any>,
  requiresVerification: boolean
): Tags<string, ReadonlyArray<AuthBackend.Any>> {
  const security = securityOf(backends)
  const required = Authentication(security)
  const logout: Record<string, LogoutTag<string>> = {}
  for (const backend of backends) {
    const only: Security = { [backend.name]: backend.transport.security }
    logout[backend.name] = Authentication(only, [backend.name])<Logout<string>>()(`${name}/Logout/${backend.name}`, {
      active: true,
      verified: requiresVerification
    })
  }
  return {
    Authenticated: required<Authenticated<string>>()(`${name}/Authenticated`, {
      active: true,
      verified: requiresVerification
    }),
    Superuser: required<Superuser<string>>()(`${name}/Superuser`, {
      active: true,
      verified: requiresVerification,
      superuser: true
    }),
    logout
  }
}

/**
 * Where the groups are mounted.
 *
 * @since 0.1.0
 */
export interface GroupOptions {
  /** Prefix of the auth routes; default "/auth". */
  readonly authPrefix?: `/${string}` | undefined
  /** Prefix of the users routes; default "/users". */
  readonly usersPrefix?: `/${string}` | undefined
}

/**
 * The schemas the groups are declared with: a model's (see `UserSchemas.make`).
 *
 * @since 0.1.0
 */
export interface Schemas {
  readonly UserRead: Schema.Schema.Any
  readonly UserCreate: Schema.Schema.Any
  readonly UserUpdate: Schema.Schema.Any
}

const login = (backend: string) =>
  HttpApiEndpoint.post("login", "/login")
    .setPayload(UserSchemas.LoginBody)
    .middleware(RequestLimits.JsonOrForm)
    .addError(UsersErrors.LoginErrors.schema)
    .addError(MfaRequired)
    .addError(ValidationError)
    .addError(TooManyRequests)
    .annotate(OpenApi.Summary, `Log in (${backend})`)

const loginMfa = (backend: string) =>
  HttpApiEndpoint.post("loginMfa", "/login/mfa")
    .setPayload(UserSchemas.LoginMfaBody)
    .middleware(RequestLimits.JsonOnly)
    .addError(UsersErrors.LoginMfaErrors.schema)
    .addError(ValidationError)
    .addError(TooManyRequests)
    .annotate(OpenApi.Summary, `Finish a two-step login with a second factor (${backend})`)
    .annotate(
      OpenApi.Description,
      "The mfa_token of a LOGIN_MFA_REQUIRED answer (this backend's) with `code` (TOTP), `recovery_code`, or " +
        "`webauthn` (a passkey's AuthenticationResponseJSON to the options of /login/mfa/webauthn/options): the " +
        "backend's login answer. The token works once, for 5 minutes, and dies after 5 wrong proofs."
    )

const logout = <Self extends HttpApiMiddleware.HttpApiMiddleware.AnyId, S>(
  backend: string,
  tag: Context.Tag<Self, S>
) =>
  HttpApiEndpoint.post("logout", "/logout")
    .middleware(RequestLimits.JsonOrEmpty)
    .addSuccess(HttpApiSchema.NoContent)
    .middleware(tag)
    .annotate(OpenApi.Summary, `Log out (${backend})`)

/**
 * The auth group of a bearer backend: login answers the token (the pair, with refresh tokens on).
 *
 * @since 0.1.0
 */
export const bearerGroup = <
  const N extends string,
  Self extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  S,
  Body extends typeof UserSchemas.BearerResponse | typeof UserSchemas.BearerRefreshResponse
>(
  name: N,
  logoutTag: Context.Tag<Self, S>,
  prefix: `/${string}`,
  body: Body
) =>
  HttpApiGroup.make(`auth.${name}`)
    .add(login(name).addSuccess(body))
    .add(loginMfa(name).addSuccess(body))
    .add(logout(name, logoutTag))
    .prefix(`${prefix}/${name}`)
    .annotate(OpenApi.Title, `auth:${name}`)
    .annotate(OpenApi.Description, "Bearer login backend")

/**
 * The auth group of a cookie backend: login answers 204 with the cookie, and 403 `CSRF_REJECTED` to a cross-site form.
 *
 * @since 0.1.0
 */
export const cookieGroup = <const N extends string, Self extends HttpApiMiddleware.HttpApiMiddleware.AnyId, S>(
  name: N,
  logoutTag: Context.Tag<Self, S>,
  prefix: `/${string}`
) =>
  HttpApiGroup.make(`auth.${name}`)
    .add(login(name).addSuccess(HttpApiSchema.NoContent).addError(CsrfRejected))
    .add(loginMfa(name).addSuccess(HttpApiSchema.NoContent).addError(CsrfRejected))
    .add(logout(name, logoutTag))
    .prefix(`${prefix}/${name}`)
    .annotate(OpenApi.Title, `auth:${name}`)
    .annotate(OpenApi.Description, "Cookie login backend")

/**
 * The refresh group of a bearer backend with refresh tokens: `POST /auth/{name}/refresh`.
 *
 * @since 0.1.0
 */
export const refreshGroup = <const N extends string>(name: N, prefix: `/${string}`) =>
  HttpApiGroup.make(`refresh.${name}`)
    .add(
      HttpApiEndpoint.post("refresh", "/refresh")
        .setPayload(UserSchemas.RefreshBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserSchemas.BearerRefreshResponse)
        .addError(UsersErrors.RefreshErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, `Swap a refresh token for a new pair (${name})`)
    )
    .prefix(`${prefix}/${name}`)
    .annotate(OpenApi.Title, `auth:${name}`)

/**
 * The auth group of a backend, its login typed by the backend's transport and refresh settings.
 *
 * @since 0.1.0
 */
export type AuthGroup<Name extends string, B> =
  B extends AuthBackend.AuthBackend<infer N, infer _R, infer K, infer F>
    ? K extends "Bearer"
      ? ReturnType<
          typeof bearerGroup<
            N,
            Logout<Name>,
            LogoutTag<Name>["Service"],
            F extends RefreshOptions ? typeof UserSchemas.BearerRefreshResponse : typeof UserSchemas.BearerResponse
          >
        >
      : ReturnType<typeof cookieGroup<N, Logout<Name>, LogoutTag<Name>["Service"]>>
    : never

/**
 * The refresh group of a backend with refresh tokens; `never` for the others.
 *
 * @since 0.1.0
 */
export type RefreshGroup<B> =
  B extends AuthBackend.AuthBackend<infer N, infer _R, "Bearer", infer F>
    ? F extends RefreshOptions
      ? ReturnType<typeof refreshGroup<N>>
      : never
    : never

function authGroupOf<Name extends string, B extends AuthBackend.Any>(
  backend: B,
  logoutTag: LogoutTag<Name>,
  prefix: `/${string}`
): AuthGroup<Name, B>
// Which of the two groups a backend gets is decided by its transport's kind, as `AuthGroup` states.
function authGroupOf(
  backend: AuthBackend.Any,
  logoutTag: LogoutTag<string>,
  prefix: `/${string}`
): HttpApiGroup.HttpApiGroup.Any {
  if (backend.transport._tag !== "Bearer") return cookieGroup(backend.name, logoutTag, prefix)
  const body = backend.refresh === undefined ? UserSchemas.BearerResponse : UserSchemas.BearerRefreshResponse
  return bearerGroup(backend.name, logoutTag, prefix, body)
}

function refreshGroupsOf<B extends AuthBackend.Any>(
  backends: ReadonlyArray<B>,
  prefix: `/${string}`
): ReadonlyArray<RefreshGroup<B>>
// Only backends with refresh settings get the group, as `RefreshGroup` states.
function refreshGroupsOf(
  backends: ReadonlyArray<AuthBackend.Any>,
  prefix: `/${string}`
): ReadonlyArray<HttpApiGroup.HttpApiGroup.Any> {
  return backends.flatMap((backend) =>
    backend.refresh !== undefined && backend.transport._tag === "Bearer" ? [refreshGroup(backend.name, prefix)] : []
  )
}

const Accepted = Schema.Null.annotations(HttpApiSchema.annotations({ status: 202 }))

/** A route that mails an address (a verification or reset token): it answers 202 whether the user exists or not. */
const mailRequest = <const Name extends Throttle.MailRoute>(name: Name, path: `/${string}`, summary: string) =>
  HttpApiEndpoint.post(name, path)
    .setPayload(UserSchemas.EmailBody)
    .middleware(RequestLimits.JsonOnly)
    .addSuccess(Accepted)
    .addError(ValidationError)
    .addError(TooManyRequests)
    .annotate(OpenApi.Summary, summary)
const IdPath = Schema.Struct({ id: Schema.String })

/**
 * FastAPI Users' routers as groups, with these schemas and tags. Declared once, generically: the app's
 * groups are this function's instantiation for its backends and model.
 *
 * @since 0.1.0
 */
export const declareGroups = <
  Name extends string,
  const Backends extends ReadonlyArray<AuthBackend.Any>,
  Read extends Schema.Schema.Any,
  Create extends Schema.Schema.Any,
  Update extends Schema.Schema.Any,
  A extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  AS,
  U extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  US
>(
  options: GroupOptions & { readonly backends: Backends },
  schemas: { readonly UserRead: Read; readonly UserCreate: Create; readonly UserUpdate: Update },
  tags: {
    readonly Authenticated: Context.Tag<A, AS>
    readonly Superuser: Context.Tag<U, US>
    readonly logout: Readonly<Record<string, LogoutTag<Name>>>
  }
) => {
  const { Authenticated, Superuser } = tags
  const { UserCreate, UserRead, UserUpdate } = schemas
  const authPrefix = options.authPrefix ?? "/auth"
  const usersPrefix = options.usersPrefix ?? "/users"

  const register = HttpApiGroup.make("register")
    .add(
      HttpApiEndpoint.post("register", "/register")
        .setPayload(UserCreate)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserRead, { status: 201 })
        .addError(UsersErrors.RegisterErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, "Register")
    )
    .prefix(authPrefix)
    .annotate(OpenApi.Title, "auth")

  const auth = options.backends.map((backend: Backends[number]) =>
    authGroupOf<Name, Backends[number]>(backend, tags.logout[backend.name]!, authPrefix)
  )

  const refresh = refreshGroupsOf<Backends[number]>(options.backends, authPrefix)

  const verify = HttpApiGroup.make("verify")
    .add(mailRequest("requestVerifyToken", "/request-verify-token", "Request a verification token (always 202)"))
    .add(
      HttpApiEndpoint.post("verify", "/verify")
        .setPayload(UserSchemas.TokenBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserRead)
        .addError(UsersErrors.VerifyErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, "Verify")
    )
    .prefix(authPrefix)

  const reset = HttpApiGroup.make("reset")
    .add(mailRequest("forgotPassword", "/forgot-password", "Forgot password (always 202)"))
    .add(
      HttpApiEndpoint.post("resetPassword", "/reset-password")
        .setPayload(UserSchemas.ResetPasswordBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(Schema.Null)
        .addError(UsersErrors.ResetPasswordErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, "Reset password")
    )
    .prefix(authPrefix)

  const users = HttpApiGroup.make("users")
    .add(
      HttpApiEndpoint.get("me", "/me").addSuccess(UserRead).middleware(Authenticated).annotate(OpenApi.Summary, "Me")
    )
    .add(
      HttpApiEndpoint.patch("patchMe", "/me")
        .setPayload(UserUpdate)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserRead)
        .addError(UsersErrors.PatchMeErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "Update me")
    )
    .add(
      HttpApiEndpoint.get("list", "/")
        .setUrlParams(UserSchemas.ListQuery)
        .addSuccess(UserSchemas.UserPage(UserRead))
        .addError(ValidationError)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "List users (superuser)")
    )
    .add(
      HttpApiEndpoint.get("user", "/:id")
        .setPath(IdPath)
        .addSuccess(UserRead)
        .addError(UsersErrors.UserErrors.schema)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Get a user (superuser)")
    )
    .add(
      HttpApiEndpoint.patch("patchUser", "/:id")
        .setPath(IdPath)
        .setPayload(UserUpdate)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserRead)
        .addError(UsersErrors.PatchUserErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Update a user (superuser; their own password or e-mail needs current_password)")
    )
    .add(
      HttpApiEndpoint.del("deleteUser", "/:id")
        .setPath(IdPath)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(UsersErrors.DeleteUserErrors.schema)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Delete a user (superuser)")
    )
    .prefix(usersPrefix)

  const sessions = HttpApiGroup.make("sessions")
    .add(
      HttpApiEndpoint.post("logoutAll", `${authPrefix}/logout-all`)
        .middleware(RequestLimits.JsonOrEmpty)
        .addSuccess(HttpApiSchema.NoContent)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "Log out everywhere (every session of the user, on every backend)")
    )
    .add(
      HttpApiEndpoint.get("listSessions", `${usersPrefix}/me/sessions`)
        .addSuccess(Schema.Array(UserSchemas.SessionRead))
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "My sessions (stateful backends)")
    )
    .add(
      HttpApiEndpoint.del("revokeSession", `${usersPrefix}/me/sessions/:id`)
        .setPath(IdPath)
        .middleware(RequestLimits.JsonOrEmpty)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(UsersErrors.RevokeSessionErrors.schema)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "End one of my sessions")
    )
    .annotate(OpenApi.Title, "sessions")

  const admin = HttpApiGroup.make("admin")
    .add(
      HttpApiEndpoint.post("logoutAll", "/:id/logout-all")
        .setPath(IdPath)
        .middleware(RequestLimits.JsonOrEmpty)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(UsersErrors.UserErrors.schema)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Log a user out everywhere (superuser; every session, on every backend)")
    )
    .add(
      HttpApiEndpoint.post("deactivate", "/:id/deactivate")
        .setPath(IdPath)
        .setPayload(UserSchemas.DeactivateBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserRead)
        .addError(UsersErrors.DeactivateErrors.schema)
        .addError(ValidationError)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Deactivate a user (superuser; ends every session, lifts itself at `until`)")
        .annotate(
          OpenApi.Description,
          "The user's logins answer LOGIN_BAD_CREDENTIALS as for any inactive user: the reason is never shown to them."
        )
    )
    .add(
      HttpApiEndpoint.post("activate", "/:id/activate")
        .setPath(IdPath)
        .middleware(RequestLimits.JsonOrEmpty)
        .addSuccess(UserRead)
        .addError(UsersErrors.UserErrors.schema)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Activate a user (superuser; ends a deactivation early)")
    )
    .add(
      HttpApiEndpoint.del("resetMfa", "/:id/mfa")
        .setPath(IdPath)
        .middleware(RequestLimits.JsonOrEmpty)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(UsersErrors.UserErrors.schema)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Remove every second factor of a user (superuser; ends their sessions)")
    )
    .add(
      HttpApiEndpoint.get("deactivation", "/:id/deactivation")
        .setPath(IdPath)
        .addSuccess(Schema.NullOr(UserSchemas.DeactivationRead))
        .addError(UsersErrors.UserErrors.schema)
        .middleware(Superuser)
        .annotate(OpenApi.Summary, "Why and until when a user is deactivated (superuser; null when active)")
    )
    .prefix(usersPrefix)
    .annotate(OpenApi.Title, "admin")

  const oauthAccounts = HttpApiGroup.make("oauthAccounts")
    .add(
      HttpApiEndpoint.get("listOAuthAccounts", "/me/oauth-accounts")
        .addSuccess(Schema.Array(UserSchemas.OAuthAccountRead))
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "My linked OAuth accounts")
    )
    .add(
      HttpApiEndpoint.del("unlinkOAuthAccount", "/me/oauth-accounts/:oauth_name/:account_id")
        .setPath(UserSchemas.OAuthAccountPath)
        .middleware(RequestLimits.JsonOrEmpty)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(UsersErrors.UnlinkOAuthAccountErrors.schema)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "Unlink one of my OAuth accounts")
        .annotate(
          OpenApi.Description,
          "Needs a session opened by a password or provider login within the re-authentication window (5 minutes)."
        )
    )
    .prefix(usersPrefix)
    .annotate(OpenApi.Title, "users")

  const mfa = HttpApiGroup.make("mfa")
    .add(
      HttpApiEndpoint.get("mfaStatus", "/me/mfa")
        .addSuccess(UserSchemas.MfaStatusRead)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "My second factors")
    )
    .add(
      HttpApiEndpoint.post("enrolTotp", "/me/mfa/totp")
        .setPayload(UserSchemas.StepUpBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserSchemas.TotpEnrolmentRead)
        .addError(UsersErrors.EnrolTotpErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "Start a TOTP enrolment (current_password; and a code once you have a factor)")
    )
    .add(
      HttpApiEndpoint.post("confirmTotp", "/me/mfa/totp/confirm")
        .setPayload(UserSchemas.CodeBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserSchemas.RecoveryCodesRead)
        .addError(UsersErrors.ConfirmTotpErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "Turn TOTP on with a code of the new secret: the recovery codes, shown once")
    )
    .add(
      HttpApiEndpoint.post("regenerateRecoveryCodes", "/me/mfa/recovery-codes")
        .setPayload(UserSchemas.StepUpBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(UserSchemas.RecoveryCodesRead)
        .addError(UsersErrors.ChangeTotpErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "New recovery codes (current_password and code); the old ones die")
    )
    .add(
      HttpApiEndpoint.del("disableTotp", "/me/mfa/totp")
        .setPayload(UserSchemas.StepUpBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(UsersErrors.ChangeTotpErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .middleware(Authenticated)
        .annotate(OpenApi.Summary, "Turn TOTP off (current_password and code); the recovery codes go with it")
    )
    .prefix(usersPrefix)
    .annotate(OpenApi.Title, "mfa")

  return { register, auth, refresh, verify, reset, users, sessions, admin, oauthAccounts, mfa }
}

/**
 * The groups of `declareGroups` for these parameters.
 *
 * @since 0.1.0
 */
export type Declared<
  Name extends string,
  Backends extends ReadonlyArray<AuthBackend.Any>,
  S extends Schemas
> = ReturnType<
  typeof declareGroups<
    Name,
    Backends,
    S["UserRead"],
    S["UserCreate"],
    S["UserUpdate"],
    Authenticated<Name>,
    Tags<Name, Backends>["Authenticated"]["Service"],
    Superuser<Name>,
    Tags<Name, Backends>["Superuser"]["Service"]
  >
>

/**
 * Every group of `Declared`, as a union.
 *
 * @since 0.1.0
 */
export type GroupsOf<
  D extends {
    readonly auth: ReadonlyArray<HttpApiGroup.HttpApiGroup.Any>
    readonly refresh: ReadonlyArray<HttpApiGroup.HttpApiGroup.Any>
  }
> = D[Exclude<keyof D, "auth" | "refresh">] | D["auth"][number] | D["refresh"][number]

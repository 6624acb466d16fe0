/**
 * OAuth2 login and association routes (FastAPI Users' `get_oauth_router` and `get_oauth_associate_router`)
 * for every provider implementing `OAuthProvider`. The `state` parameter is a signed JWT that expires quickly
 * (CSRF protection); the association state also names the user who asked for it.
 */

import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { makeJwt } from "../TokenCodec.js"
import type { User } from "../User.js"
import { UserManager } from "../UserManager.js"
import { minimumSecretBytes } from "../UserManagerConfig.js"
import type * as AuthBackend from "./AuthBackend.js"
import { noStore } from "./AuthBackend.js"
import { type Configurable, resolveConfigurable } from "./AuthStrategy.js"
import { Authenticator, CurrentUser } from "./CurrentUser.js"
import { ErrorCode, errorTable } from "./HttpErrors.js"
import * as UserSchemas from "./UserSchemas.js"
import type * as UsersGroups from "./UsersGroups.js"

/** A failure talking to the provider (code exchange, profile lookup). */
export class OAuthProviderError extends Schema.TaggedError<OAuthProviderError>()("OAuthProviderError", {
  reason: Schema.String
}) {}

/** The tokens a provider returns for an authorization code. */
export interface OAuthTokens {
  readonly accessToken: string
  /** Seconds since the epoch. */
  readonly expiresAt?: number | undefined
  readonly refreshToken?: string | undefined
}

/** An OAuth2 provider: the `httpx-oauth` client of FastAPI Users. */
export interface OAuthProvider {
  readonly name: string
  readonly authorizationUrl: (options: {
    readonly redirectUri: string
    readonly state: string
    readonly scopes: ReadonlyArray<string>
  }) => Effect.Effect<string>
  readonly exchangeCode: (code: string, redirectUri: string) => Effect.Effect<OAuthTokens, OAuthProviderError>
  /** The account ID and, when the provider shares it, the e-mail. */
  readonly getIdEmail: (
    accessToken: string
  ) => Effect.Effect<{ readonly accountId: string; readonly email: Option.Option<string> }, OAuthProviderError>
}

/** Options of the OAuth routes of one provider. */
export interface OAuthOptions<Backend extends string = string> {
  /** The login backend whose login response the callback returns (its name in `UsersApi.make`). */
  readonly backend: Backend
  /** Signs the `state` parameter: at least 32 bytes, else the layer fails naming `stateSecret`. */
  readonly stateSecret: Configurable<Redacted.Redacted<string>>
  /** How long a state is valid; default 10 minutes. */
  readonly stateLifetime?: Duration.DurationInput | undefined
  /** The callback URL registered with the provider; default this server's `.../callback` route. */
  readonly redirectUrl?: string | undefined
  /** Link to an existing user with the same e-mail instead of failing; default false. */
  readonly associateByEmail?: boolean | undefined
  /** Whether users created through OAuth start verified; default false. */
  readonly isVerifiedByDefault?: boolean | undefined
  /** Prefix of the routes; default "/auth". */
  readonly authPrefix?: `/${string}` | undefined
}

const stateAudience = "effect-users:oauth-state"

const AuthorizeResponse = Schema.Struct({ authorization_url: Schema.String }).annotations({
  identifier: "OAuth2AuthorizeResponse"
})
const Scope = Schema.String.pipe(Schema.maxLength(256))
const AuthorizeParams = Schema.Struct({
  scopes: Schema.optional(Schema.Union(Scope, Schema.Array(Scope).pipe(Schema.maxItems(64))))
})
const CallbackParams = Schema.Struct({
  code: Schema.optional(UserSchemas.Token),
  state: Schema.optional(UserSchemas.Token),
  error: Schema.optional(UserSchemas.Token)
})

/** The state secret, refused at layer construction when shorter than 32 bytes. */
const checkStateSecret = (secret: Redacted.Redacted<string>) =>
  Buffer.byteLength(Redacted.value(secret), "utf8") >= minimumSecretBytes
    ? Effect.succeed(secret)
    : Effect.fail(
        ConfigError.InvalidData(
          ["stateSecret"],
          `OAuth stateSecret is too short: it must be at least ${minimumSecretBytes} bytes`
        )
      )

/** The errors of the login callback. */
export const CallbackErrors = errorTable({
  InvalidState: {
    status: 400,
    code: ErrorCode.OAUTH_INVALID_STATE,
    description: "The state is missing, forged or expired"
  },
  NoEmail: {
    status: 400,
    code: ErrorCode.OAUTH_NOT_AVAILABLE_EMAIL,
    description: "The provider did not share an e-mail"
  },
  UserAlreadyExists: {
    status: 400,
    code: ErrorCode.OAUTH_USER_ALREADY_EXISTS,
    description: "Another user has this e-mail"
  },
  UserInactive: { status: 400, code: ErrorCode.LOGIN_BAD_CREDENTIALS, description: "The user is inactive" },
  OAuthProviderError: {
    status: 400,
    code: "OAUTH_CALLBACK_ERROR",
    description: "The provider refused the code or the profile lookup"
  }
})

/** The errors of the association callback. */
export const AssociateCallbackErrors = errorTable({
  InvalidState: CallbackErrors.table.InvalidState,
  UserNotExists: CallbackErrors.table.InvalidState,
  OAuthProviderError: CallbackErrors.table.OAuthProviderError
})

/** The two groups of a provider: login, and association for a logged-in user. */
export const declareGroups = <
  const Name extends string,
  I extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  S,
  ReadSchema extends Schema.Schema.Any
>(
  name: Name,
  authenticated: Context.Tag<I, S>,
  UserRead: ReadSchema,
  prefix: `/${string}`
) => ({
  group: HttpApiGroup.make(`oauth.${name}`)
    .add(
      HttpApiEndpoint.get("authorize", "/authorize")
        .setUrlParams(AuthorizeParams)
        .addSuccess(AuthorizeResponse)
        .annotate(OpenApi.Summary, `Authorization URL of ${name}`)
    )
    .add(
      HttpApiEndpoint.get("callback", "/callback")
        .setUrlParams(CallbackParams)
        .addSuccess(Schema.Unknown)
        .addError(CallbackErrors.schema)
    )
    .prefix(prefix),
  associateGroup: HttpApiGroup.make(`oauthAssociate.${name}`)
    .add(
      HttpApiEndpoint.get("authorize", "/associate/authorize")
        .setUrlParams(AuthorizeParams)
        .addSuccess(AuthorizeResponse)
        .middleware(authenticated)
    )
    .add(
      HttpApiEndpoint.get("callback", "/associate/callback")
        .setUrlParams(CallbackParams)
        .addSuccess(UserRead)
        .addError(AssociateCallbackErrors.schema)
        .middleware(authenticated)
    )
    .prefix(prefix)
})

type Erased = ReturnType<
  typeof declareGroups<
    string,
    UsersGroups.Authenticated<string>,
    UsersGroups.Tags<string, ReadonlyArray<AuthBackend.Any>>["Authenticated"]["Service"],
    typeof UserSchemas.Default.UserRead
  >
>
type ErasedApi = HttpApi.HttpApi<string, Erased["group"] | Erased["associateGroup"], HttpApiError.HttpApiDecodeError>

class InvalidState extends Data.TaggedError("InvalidState") {}

/**
 * The OAuth groups of one provider: `oauth.{name}` (`GET /auth/{name}/authorize`, `GET /auth/{name}/callback`)
 * and `oauthAssociate.{name}` (`GET /auth/{name}/associate/authorize` and `/associate/callback`, for a
 * logged-in user), plus `layer` implementing them. `users` is the value of `UsersApi.make`; `options.backend`
 * names one of its backends.
 */
export const make = <
  const Name extends string,
  I extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  S,
  ReadSchema extends Schema.Schema.Any,
  Backend extends string
>(
  users: {
    readonly Authenticated: Context.Tag<I, S>
    readonly schemas: { readonly UserRead: ReadSchema }
    readonly backends: ReadonlyArray<{ readonly name: Backend }>
  },
  provider: OAuthProvider & { readonly name: Name },
  options: OAuthOptions<NoInfer<Backend>>
) => {
  const prefix: `/${string}` = `${options.authPrefix ?? "/auth"}/${provider.name}`
  const { associateGroup, group } = declareGroups(provider.name, users.Authenticated, users.schemas.UserRead, prefix)

  const build = Effect.gen(function* () {
    const manager = yield* UserManager
    const authenticator = yield* Authenticator
    const secret = yield* Effect.flatMap(resolveConfigurable(options.stateSecret), checkStateSecret)
    const codec = makeJwt()
    const lifetime = options.stateLifetime ?? "10 minutes"
    const { strategy, transport } = authenticator.backend(options.backend)

    const redirectUri = (route: string) =>
      options.redirectUrl !== undefined
        ? Effect.succeed(options.redirectUrl)
        : Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
            const host = request.headers.host ?? "127.0.0.1"
            const proto = request.headers["x-forwarded-proto"] ?? "http"
            return `${proto}://${host}${prefix}${route}`
          })

    const authorize =
      (route: string, claims: Record<string, unknown>) =>
      (params: { readonly scopes?: string | ReadonlyArray<string> | undefined }) =>
        Effect.gen(function* () {
          const state = yield* codec.sign(claims, { secret, audience: stateAudience, lifetime })
          const scopes =
            params.scopes === undefined ? [] : typeof params.scopes === "string" ? [params.scopes] : params.scopes
          const url = yield* provider.authorizationUrl({ redirectUri: yield* redirectUri(route), state, scopes })
          return HttpServerResponse.unsafeJson({ authorization_url: url }, { headers: noStore })
        })

    const exchange = (route: string, params: typeof CallbackParams.Type) =>
      Effect.gen(function* () {
        if (params.code === undefined || params.state === undefined) return yield* new InvalidState()
        const claims = yield* codec
          .verify(params.state, { secret, audience: stateAudience })
          .pipe(Effect.mapError(() => new InvalidState()))
        const tokens = yield* provider.exchangeCode(params.code, yield* redirectUri(route))
        const profile = yield* provider.getIdEmail(tokens.accessToken)
        return { claims, tokens, profile }
      })

    const account = (tokens: OAuthTokens, profile: { readonly accountId: string }, email: string) => ({
      oauthName: provider.name,
      accessToken: tokens.accessToken,
      accountId: profile.accountId,
      accountEmail: email,
      expiresAt: tokens.expiresAt ?? null,
      refreshToken: tokens.refreshToken ?? null
    })

    const read: Schema.Schema.Any = users.schemas.UserRead
    const encodeRead = Schema.encodeSync(read as Schema.Schema<User, unknown>)
    return { manager, strategy, transport, authorize, exchange, account, encodeRead }
  })

  /** Implements both groups against the app's API (which must contain them). */
  const layer = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<ApiId, G | typeof group | typeof associateGroup, E, R>
  ): Layer.Layer<
    HttpApiGroup.ApiGroup<ApiId, `oauth.${Name}` | `oauthAssociate.${Name}`>,
    ConfigError.ConfigError,
    UserManager | Authenticator | I
  > => {
    // The one cast of the API, as in `UsersApi.layer`: these groups come from `declareGroups`, and the
    // handlers are checked against its instantiation for the default model (`Erased`).
    const erased: HttpApi.HttpApi.Any = api
    const typed = erased as ErasedApi
    const name: string = provider.name
    const implemented = Layer.unwrapEffect(
      Effect.map(build, ({ account, authorize, encodeRead, exchange, manager, strategy, transport }) => {
        const login = HttpApiBuilder.group(typed, `oauth.${name}`, (handlers) =>
          handlers
            .handle("authorize", ({ urlParams }) => authorize("/callback", {})(urlParams))
            .handle("callback", ({ urlParams }) =>
              Effect.gen(function* () {
                const { profile, tokens } = yield* exchange("/callback", urlParams)
                if (Option.isNone(profile.email)) return yield* CallbackErrors.fail("NoEmail")
                const user = yield* manager.oauthCallback(account(tokens, profile, profile.email.value), {
                  associateByEmail: options.associateByEmail,
                  isVerifiedByDefault: options.isVerifiedByDefault
                })
                if (!user.isActive) return yield* CallbackErrors.fail("UserInactive")
                const response = transport.loginResponse(yield* strategy.write(user))
                yield* manager.onAfterLogin(user, Option.some(response))
                return response
              }).pipe(Effect.mapError((error) => ("detail" in error ? error : CallbackErrors.body(error))))
            )
        )
        const associate = HttpApiBuilder.group(typed, `oauthAssociate.${name}`, (handlers) =>
          handlers
            .handle("authorize", ({ urlParams }) =>
              Effect.flatMap(CurrentUser, (user) =>
                authorize("/associate/callback", { sub: String(user.id) })(urlParams)
              )
            )
            .handle("callback", ({ urlParams }) =>
              Effect.gen(function* () {
                const user = yield* CurrentUser
                const { claims, profile, tokens } = yield* exchange("/associate/callback", urlParams)
                if (claims.sub !== String(user.id)) return yield* new InvalidState()
                const email = Option.getOrElse(profile.email, () => user.email)
                const linked = yield* manager.oauthAssociateCallback(user, account(tokens, profile, email))
                return HttpServerResponse.unsafeJson(encodeRead(linked), { headers: noStore })
              }).pipe(Effect.mapError((error) => AssociateCallbackErrors.body(error)))
            )
        )
        return Layer.merge(login, associate)
      })
    )
    return implemented as Layer.Layer<
      HttpApiGroup.ApiGroup<ApiId, `oauth.${Name}` | `oauthAssociate.${Name}`>,
      ConfigError.ConfigError,
      UserManager | Authenticator | I
    >
  }

  return { group, associateGroup, layer }
}

/**
 * OAuth2 login and association routes (FastAPI Users' `get_oauth_router` and `get_oauth_associate_router`)
 * for any provider implementing `OAuthProvider`. The `state` parameter is a signed JWT that expires quickly
 * (CSRF protection); the association state also names the user who asked for it.
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { makeJwt } from "../TokenCodec.js"
import { UserManager } from "../UserManager.js"
import { minimumSecretBytes } from "../UserManagerConfig.js"
import { noStore } from "./AuthBackend.js"
import { type Configurable, resolveConfigurable } from "./AuthStrategy.js"
import { Authenticator, CurrentUser } from "./CurrentUser.js"
import { detail, ErrorCode } from "./HttpErrors.js"
import { Token } from "./UserSchemas.js"

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
export interface OAuthOptions {
  /** The login backend whose login response the callback returns (its name in `UsersApi.make`). */
  readonly backend: string
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
  code: Schema.optional(Token),
  state: Schema.optional(Token),
  error: Schema.optional(Token)
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

const InvalidState = detail(ErrorCode.OAUTH_INVALID_STATE, 400, "The state is missing, forged or expired")
const NoEmail = detail(ErrorCode.OAUTH_NOT_AVAILABLE_EMAIL, 400, "The provider did not share an e-mail")
const AlreadyExists = detail(ErrorCode.OAUTH_USER_ALREADY_EXISTS, 400, "Another user has this e-mail")
const BadCredentials = detail(ErrorCode.LOGIN_BAD_CREDENTIALS, 400, "The user is inactive")
const CallbackError = detail("OAUTH_CALLBACK_ERROR", 400, "The provider refused the code or the profile lookup")

/**
 * The OAuth groups of one provider: `oauth.{name}` (`GET /auth/{name}/authorize`, `GET /auth/{name}/callback`)
 * and `oauthAssociate.{name}` (`GET /auth/{name}/associate/authorize` and `/associate/callback`, for a
 * logged-in user), plus `layer` implementing them. `users` is the value of `UsersApi.make`.
 */
export const make = <
  const Name extends string,
  I extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  S,
  ReadSchema extends Schema.Schema<any, any>
>(
  users: { readonly Authenticated: Context.Tag<I, S>; readonly schemas: { readonly UserRead: ReadSchema } },
  provider: OAuthProvider & { readonly name: Name },
  options: OAuthOptions
) => {
  const prefix = `${options.authPrefix ?? "/auth"}/${provider.name}` as `/${string}`
  const callbackErrors = (endpoint: any) =>
    endpoint
      .addError(InvalidState)
      .addError(NoEmail)
      .addError(AlreadyExists)
      .addError(BadCredentials)
      .addError(CallbackError)

  const group = HttpApiGroup.make(`oauth.${provider.name}` as `oauth.${Name}`)
    .add(
      HttpApiEndpoint.get("authorize", "/authorize")
        .setUrlParams(AuthorizeParams)
        .addSuccess(AuthorizeResponse)
        .annotate(OpenApi.Summary, `Authorization URL of ${provider.name}`)
    )
    .add(
      callbackErrors(
        HttpApiEndpoint.get("callback", "/callback").setUrlParams(CallbackParams).addSuccess(Schema.Unknown)
      ) as HttpApiEndpoint.HttpApiEndpoint<"callback", "GET">
    )
    .prefix(prefix)

  const associateGroup = HttpApiGroup.make(`oauthAssociate.${provider.name}` as `oauthAssociate.${Name}`)
    .add(
      HttpApiEndpoint.get("authorize", "/associate/authorize")
        .setUrlParams(AuthorizeParams)
        .addSuccess(AuthorizeResponse)
        .middleware(users.Authenticated)
    )
    .add(
      HttpApiEndpoint.get("callback", "/associate/callback")
        .setUrlParams(CallbackParams)
        .addSuccess(users.schemas.UserRead)
        .addError(InvalidState)
        .addError(CallbackError)
        .middleware(users.Authenticated)
    )
    .prefix(prefix)

  /** Implements both groups against the app's API (which must contain them). */
  const layer = <Id extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<Id, G, E, R>
  ): Layer.Layer<
    HttpApiGroup.ApiGroup<Id, `oauth.${Name}` | `oauthAssociate.${Name}`>,
    ConfigError.ConfigError,
    UserManager | Authenticator
  > => {
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
        (params: { scopes?: string | ReadonlyArray<string> | undefined }) =>
          Effect.gen(function* () {
            const state = yield* codec.sign(claims, { secret, audience: stateAudience, lifetime })
            const scopes =
              params.scopes === undefined ? [] : typeof params.scopes === "string" ? [params.scopes] : params.scopes
            const url = yield* provider.authorizationUrl({ redirectUri: yield* redirectUri(route), state, scopes })
            return HttpServerResponse.unsafeJson({ authorization_url: url }, { headers: noStore })
          })

      const fail = (code: string) => Effect.fail({ detail: code })

      const exchange = (route: string, params: typeof CallbackParams.Type) =>
        Effect.gen(function* () {
          if (params.code === undefined || params.state === undefined) return yield* fail(ErrorCode.OAUTH_INVALID_STATE)
          const claims = yield* codec
            .verify(params.state, { secret, audience: stateAudience })
            .pipe(Effect.catchAll(() => fail(ErrorCode.OAUTH_INVALID_STATE)))
          const tokens = yield* provider
            .exchangeCode(params.code, yield* redirectUri(route))
            .pipe(Effect.catchAll(() => fail("OAUTH_CALLBACK_ERROR")))
          const profile = yield* provider
            .getIdEmail(tokens.accessToken)
            .pipe(Effect.catchAll(() => fail("OAUTH_CALLBACK_ERROR")))
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

      const encodeRead = Schema.encodeSync(users.schemas.UserRead)

      const login = (handlers: any) =>
        handlers
          .handle("authorize", ({ urlParams }: any) => authorize("/callback", {})(urlParams))
          .handle("callback", ({ urlParams }: any) =>
            Effect.gen(function* () {
              const { profile, tokens } = yield* exchange("/callback", urlParams)
              if (Option.isNone(profile.email)) return yield* fail(ErrorCode.OAUTH_NOT_AVAILABLE_EMAIL)
              const user = yield* manager
                .oauthCallback(account(tokens, profile, profile.email.value), {
                  associateByEmail: options.associateByEmail,
                  isVerifiedByDefault: options.isVerifiedByDefault
                })
                .pipe(Effect.catchTag("UserAlreadyExists", () => fail(ErrorCode.OAUTH_USER_ALREADY_EXISTS)))
              if (!user.isActive) return yield* fail(ErrorCode.LOGIN_BAD_CREDENTIALS)
              const response = transport.loginResponse(yield* strategy.write(user))
              yield* manager.onAfterLogin(user, Option.some(response))
              return response
            })
          )

      const associate = (handlers: any) =>
        handlers
          .handle("authorize", ({ urlParams }: any) =>
            Effect.flatMap(CurrentUser, (user) => authorize("/associate/callback", { sub: String(user.id) })(urlParams))
          )
          .handle("callback", ({ urlParams }: any) =>
            Effect.gen(function* () {
              const user = yield* CurrentUser
              const { claims, profile, tokens } = yield* exchange("/associate/callback", urlParams)
              if (claims.sub !== String(user.id)) return yield* fail(ErrorCode.OAUTH_INVALID_STATE)
              const email = Option.getOrElse(profile.email, () => user.email)
              const linked = yield* manager
                .oauthAssociateCallback(user, account(tokens, profile, email))
                .pipe(Effect.catchTag("UserNotExists", () => fail(ErrorCode.OAUTH_INVALID_STATE)))
              return HttpServerResponse.unsafeJson(encodeRead(linked), { headers: noStore })
            })
          )
      return { login, associate }
    })
    return Layer.unwrapEffect(
      Effect.map(build, ({ associate, login }) => {
        const groupLayer = (name: string, f: (handlers: any) => any) =>
          (HttpApiBuilder.group as any)(api, name, f) as Layer.Layer<never>
        return Layer.mergeAll(
          groupLayer(`oauth.${provider.name}`, login),
          groupLayer(`oauthAssociate.${provider.name}`, associate)
        )
      })
    ) as any
  }

  return { group, associateGroup, layer }
}

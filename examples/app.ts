/**
 * An app that composes effect-users' routes into its own HttpApi, next to its own group whose endpoints
 * use effect-users' authentication. `examples/server.ts` serves it; the tests and the bench run it too.
 */
// One module per import (`effect/Effect`, not `effect`): ES modules load a package's index whole, and
// `@effect/platform`'s carries two inlined API documentation pages (about 20 MB of strings).

import { randomBytes } from "node:crypto"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import {
  type AccessTokenStore,
  AuditLog,
  AuthEvents,
  AuthMetrics,
  AuthStrategy,
  DeviceTokens,
  EmailSignIn,
  JwtKeySet,
  Mail,
  Mailer,
  type OAuthProvider,
  type OAuthStateStore,
  Outbox,
  type PasskeyStore,
  Passkeys,
  SecondFactor,
  type UserManager,
  UserManagerConfig,
  type UserRepository
} from "effect-users"
import {
  AuditApi,
  AuthBackend,
  type Authenticator,
  type ClientAddress,
  CurrentUser,
  EmailSignInApi,
  Jwks,
  OAuth,
  PasskeyRoutes,
  UsersApi
} from "effect-users/http"
import {
  SqlAccessTokenStore,
  SqlAuditLog,
  SqlEmailSignInStore,
  SqlOAuthStateStore,
  SqlPasskeyStore,
  SqlSecondFactorStore,
  SqlUserRepository
} from "effect-users/sql"

/** An OAuth provider to mount, with the callback URLs registered for it (see `examples/oauth.ts`). */
export interface MountedProvider {
  readonly provider: OAuthProvider.OAuthProvider
  readonly redirectUrl: string
  readonly associateRedirectUrl: string
}

/** Options read from the environment by the server; tests pass them directly. */
export interface AppOptions {
  readonly requiresVerification?: boolean
  /** `Secure` on the auth cookie; default true (browsers treat http://127.0.0.1 and localhost as secure). */
  readonly secureCookie?: boolean
  /** The largest request body accepted, in bytes; default 64 KiB. */
  readonly maxBodySize?: number
  /**
   * Asymmetric access tokens: the bearer backend signs with this key set (not `USERS_AUTH_SECRET`) and the
   * API serves its public keys at `/.well-known/jwks.json`. Default: HS256 with `USERS_AUTH_SECRET`.
   */
  readonly keySet?: Layer.Layer<JwtKeySet.JwtKeySet, ConfigError.ConfigError>
  /** `PATCH /users/me` needs `current_password` to change password or e-mail; default true (false: FastAPI Users'). */
  readonly requireCurrentPassword?: boolean
  /** OAuth providers, logging in through the cookie backend; default none. */
  readonly oauth?: ReadonlyArray<MountedProvider>
  /** Where a browser may be sent after an OAuth login (`?redirect_to=`); default none. */
  readonly postLoginRedirects?: ReadonlyArray<string>
  /** The proxies allowed to name the client in `X-Forwarded-For`; default none. */
  readonly trustedProxies?: ClientAddress.TrustedProxies | undefined
  /**
   * Origins besides the server's own whose pages may use the auth cookie (unsafe requests, the login form);
   * default none: another origin's cookie requests answer 403 `CSRF_REJECTED`.
   */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /**
   * Passkeys (`/users/me/passkeys`, `/auth/{backend}/passkey/...`): the relying party ID and the origins of the pages
   * allowed to use them. Default: no passkey routes.
   */
  readonly webauthn?: { readonly rpId: string; readonly origins: ReadonlyArray<string> } | undefined
  /** The sign-ins by e-mail link and code (`signUp`, lifetimes); both are mounted. */
  readonly emailSignIn?: EmailSignIn.Options | undefined
}

/**
 * The app's mails: the `Mail` in context (the server's, over the SQL outbox), else mails printed to the console from
 * an outbox in memory (for tests and embedded uses of `makeApp` that set up no mail).
 */
const MailOrConsole = Layer.unwrapEffect(
  Effect.map(
    Effect.serviceOption(Mail.Mail),
    Option.match({
      onSome: (mail) => Layer.succeed(Mail.Mail, mail),
      onNone: () =>
        Mail.layer({ publicUrl: "http://127.0.0.1" }).pipe(
          Layer.provide(Outbox.layer({ secret: Redacted.make(randomBytes(32).toString("hex")) })),
          Layer.provide([Outbox.layerStoreMemory, Mailer.layerConsole]),
          Layer.orDie
        )
    })
  )
)

/** Encrypts the OAuth state cookies: `USERS_OAUTH_STATE_SECRET`, at least 32 bytes. */
export const oauthStateSecret = UserManagerConfig.secret("USERS_OAUTH_STATE_SECRET")

/** The authentication secret: `USERS_AUTH_SECRET`, at least 32 bytes. */
export const authSecret = UserManagerConfig.secret("USERS_AUTH_SECRET")

/**
 * Signs the device tokens (see `DeviceTokens`): `USERS_DEVICE_TOKEN_SECRET`, else `USERS_AUTH_SECRET` (the key is
 * derived from it), so that every instance knows every device; with neither (a key set and no auth secret), a key
 * of this process.
 */
export const DeviceTokensLive = Layer.unwrapEffect(
  Effect.map(
    Config.option(UserManagerConfig.secret("USERS_DEVICE_TOKEN_SECRET").pipe(Config.orElse(() => authSecret))),
    Option.match({ onNone: () => Layer.empty, onSome: (secret) => DeviceTokens.layer({ secret }) })
  )
)

/**
 * The security events (`AuthEvents`), the audit log they are written to (the app's database by default, kept
 * 90 days) and the metrics counted from them (`AuthMetrics`). Provide it under the `UserManager` and the API, so that both emit.
 */
export const layerAudit = (
  store: Layer.Layer<AuditLog.AuditLog, never, SqlClient.SqlClient> = SqlAuditLog.layer()
): Layer.Layer<AuthEvents.AuthEvents | AuditLog.AuditLog, never, SqlClient.SqlClient> =>
  Layer.merge(AuditLog.layerSink(), AuthMetrics.layer).pipe(
    Layer.provideMerge(store),
    Layer.provideMerge(AuthEvents.layer())
  )

/** Seals the TOTP secrets at rest (AES-256-GCM): `USERS_MFA_ENCRYPTION_KEY`, at least 32 bytes. */
export const mfaEncryptionKey = Config.redacted("USERS_MFA_ENCRYPTION_KEY")

/**
 * Second factors (TOTP and recovery codes) in the app's database, their secrets sealed with
 * `USERS_MFA_ENCRYPTION_KEY`. Provide it under the `UserManager` (with `layerAudit` below it) and the API.
 */
export const layerSecondFactor: Layer.Layer<SecondFactor.SecondFactor, ConfigError.ConfigError, SqlClient.SqlClient> =
  SecondFactor.layer({ encryptionKey: mfaEncryptionKey, issuer: "effect-users example" }).pipe(
    Layer.provide(SqlSecondFactorStore.layer())
  )

/** How long a cookie session lasts (the database strategy's token lifetime, and the Redis store's TTL). */
export const sessionLifetime = "1 hour"

// HS256 with the secret, or the key set's codec when one is in context (`AppOptions.keySet` provides it).
const jwtStrategy = Effect.flatMap(Effect.serviceOption(JwtKeySet.JwtKeySet), (keys) =>
  AuthStrategy.jwt({
    secret: authSecret,
    lifetime: "1 hour",
    codec: Option.getOrUndefined(Option.map(keys, (keySet) => keySet.codec))
  })
)

/** Builds the app's API: effect-users' groups plus the app's own `greetings` group. */
export const makeApp = (options: AppOptions = {}) => {
  // Two login backends: a bearer JWT and a cookie holding a database token; both end on logout, logout-all,
  // a password reset or change, across instances (the JWT's deny-list and epoch live in the database).
  const Users = UsersApi.make({
    name: "app",
    backends: [
      AuthBackend.bearer("jwt", jwtStrategy),
      AuthBackend.cookie("cookie", AuthStrategy.database({ lifetime: sessionLifetime }), {
        maxAge: sessionLifetime,
        secure: options.secureCookie ?? true,
        allowedOrigins: options.allowedOrigins
      })
    ],
    requiresVerification: options.requiresVerification ?? false,
    requireCurrentPassword: options.requireCurrentPassword ?? true,
    maxBodySize: options.maxBodySize,
    trustedProxies: options.trustedProxies,
    deviceCookie: { secure: options.secureCookie ?? true }
  })

  // The app's own authentication requirements, with FastAPI Users' `current_user(...)` options.
  class Verified extends Users.Authentication<Verified>()("app/Verified", { active: true, verified: true }) {}
  class MaybeUser extends Users.OptionalAuthentication<MaybeUser>()("app/MaybeUser", { active: true }) {}

  class GreetingsApi extends HttpApiGroup.make("greetings")
    .add(
      HttpApiEndpoint.get("hello", "/hello")
        .addSuccess(Schema.Struct({ message: Schema.String }))
        .middleware(Users.Authenticated)
    )
    .add(
      HttpApiEndpoint.get("secret", "/secret")
        .addSuccess(Schema.Struct({ message: Schema.String }))
        .middleware(Verified)
    )
    .add(
      HttpApiEndpoint.get("welcome", "/welcome")
        .addSuccess(Schema.Struct({ message: Schema.String }))
        .middleware(MaybeUser)
    )
    .add(HttpApiEndpoint.get("ping", "/ping").addSuccess(Schema.Struct({ pong: Schema.Boolean })))
    .prefix("/greetings") {}

  class Api extends Users.addTo(HttpApi.make("app"))
    .add(AuditApi.declareGroup(Users))
    .add(EmailSignInApi.magicLinkGroup(Users))
    .add(EmailSignInApi.emailCodeGroup(Users))
    .add(GreetingsApi)
    .annotate(OpenApi.Title, "effect-users example")
    .annotate(OpenApi.Version, "0.1.0") {}

  const GreetingsLive = HttpApiBuilder.group(Api, "greetings", (handlers) =>
    handlers
      .handle("hello", () => Effect.map(CurrentUser.CurrentUser, (user) => ({ message: `Hello, ${user.email}` })))
      .handle("secret", () => Effect.map(CurrentUser.CurrentUser, (user) => ({ message: `${user.email} is verified` })))
      .handle("welcome", () =>
        Effect.map(CurrentUser.OptionalUser, (user) => ({
          message: Option.match(user, { onNone: () => "Welcome, stranger", onSome: (u) => `Welcome back, ${u.email}` })
        }))
      )
      .handle("ping", () => Effect.succeed({ pong: true }))
  )

  // The providers come from the environment, known only at start-up: their groups are added to the API's
  // value, which keeps the static type of the API without them.
  const mounted = (options.oauth ?? []).map(({ associateRedirectUrl, provider, redirectUrl }) =>
    OAuth.make(Users, provider, {
      backend: "cookie",
      stateSecret: oauthStateSecret,
      redirectUrl,
      associateRedirectUrl,
      associateByEmail: true,
      postLoginRedirects: options.postLoginRedirects,
      secureCookie: options.secureCookie ?? true
    })
  )
  // Passkeys, when configured: their groups are added to the API's value too.
  const passkeys = options.webauthn === undefined ? undefined : PasskeyRoutes.make(Users)
  const withOAuth = <A>(api: A): A => {
    const withProviders = mounted.reduce(
      (served, routes) =>
        (served as unknown as typeof Api).add(routes.group).add(routes.associateGroup) as unknown as A,
      api
    )
    if (passkeys === undefined) return withProviders
    // The value's groups grow; its static type stays the API's (as for the providers above).
    type Growing = HttpApi.HttpApi<"app", HttpApiGroup.HttpApiGroup.Any>
    const served = passkeys.loginGroups.reduce<Growing>(
      (api, group) => api.add(group),
      (withProviders as unknown as Growing).add(passkeys.group)
    )
    return served as unknown as A
  }
  const ServedApi = withOAuth(Api)
  const UsersLive = Users.layer(Api)
  type RoutesLayerOf<R> = (
    api: unknown
  ) => Layer.Layer<
    never,
    ConfigError.ConfigError,
    UserManager.UserManager | Authenticator.Authenticator | UserRepository.UserRepository | R
  >
  type RoutesLayer = (
    api: unknown
  ) => Layer.Layer<
    never,
    ConfigError.ConfigError,
    UserManager.UserManager | Authenticator.Authenticator | OAuthStateStore.OAuthStateStore
  >
  const OAuthLive = Layer.mergeAll(
    Layer.empty,
    // Implemented against an API value that holds their groups (the layers are keyed by the API's name).
    ...mounted.map((routes) => (routes.layer as unknown as RoutesLayer)(ServedApi))
  ).pipe(Layer.provide(UsersLive), Layer.provide(SqlOAuthStateStore.layer()))

  const webauthn = options.webauthn
  const PasskeysLive =
    passkeys === undefined || webauthn === undefined
      ? Layer.empty
      : // Implemented against the API value that holds their groups, as the providers' routes are.
        (passkeys.layer as unknown as RoutesLayerOf<Passkeys.Passkeys | PasskeyStore.PasskeyStore>)(ServedApi).pipe(
          Layer.provide(UsersLive),
          Layer.provide(Passkeys.layer({ rpId: webauthn.rpId, origins: webauthn.origins })),
          Layer.provide([SqlPasskeyStore.layer(), SqlUserRepository.layer()])
        )

  /** The same API with the JWKS route, served when the app has a key set. */
  class ApiWithJwks extends Api.add(Jwks.Group) {}

  const implement = <A, E, R, E2, R2>(
    api: Layer.Layer<A, E, R>,
    tokens: Layer.Layer<AccessTokenStore.AccessTokenStore, E2, R2>
  ) =>
    api.pipe(
      Layer.provide(GreetingsLive),
      Layer.provide(AuditApi.layer(Api)),
      Layer.provide(
        Layer.merge(EmailSignInApi.layerMagicLink(Api), EmailSignInApi.layerEmailCode(Api)).pipe(
          Layer.provide(EmailSignIn.layer(options.emailSignIn)),
          Layer.provide(SqlEmailSignInStore.layer()),
          Layer.provide(MailOrConsole)
        )
      ),
      Layer.provide(OAuthLive),
      Layer.provide(PasskeysLive),
      Layer.provide([Users.layerAuthentication(Verified), Users.layerAuthentication(MaybeUser)]),
      Layer.provideMerge(UsersLive),
      Layer.provide(tokens),
      Layer.provide(DeviceTokensLive)
    )

  const ServedApiWithJwks = withOAuth(ApiWithJwks)
  /** The API's implementation with the database strategy's tokens (and JWT records) in `tokens`; needs a `UserManager` and a `SqlClient`. */
  const ApiLiveWith = <E2, R2>(tokens: Layer.Layer<AccessTokenStore.AccessTokenStore, E2, R2>) =>
    options.keySet === undefined
      ? implement(HttpApiBuilder.api(ServedApi), tokens)
      : implement(HttpApiBuilder.api(ServedApiWithJwks).pipe(Layer.provide(Jwks.layer(ApiWithJwks))), tokens).pipe(
          Layer.provide(options.keySet)
        )

  /** The API's implementation with the tokens in SQL; needs a `UserManager` and a `SqlClient`. */
  const ApiLive = ApiLiveWith(SqlAccessTokenStore.layer())

  return { Api: ServedApi, ApiWithJwks: ServedApiWithJwks, Users, ApiLive, ApiLiveWith }
}

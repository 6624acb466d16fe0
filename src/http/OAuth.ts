/**
 * OAuth2 / OpenID Connect login and association routes (FastAPI Users' `get_oauth_router` and
 * `get_oauth_associate_router`) for one `OAuthProvider`.
 *
 * The state is bound to the browser and works once: `/authorize` makes a random `state`, PKCE verifier and
 * OIDC nonce and keeps them in an encrypted, HttpOnly, Secure, SameSite cookie scoped to the provider's routes;
 * the callback needs that cookie AND the same `state` in the URL (another browser's callback URL fails: no
 * login CSRF), spends the state in the `OAuthStateStore` before it exchanges the code (a replay fails, on every
 * instance sharing the store), then clears the cookie. The `redirect_uri` comes from configuration, never from
 * the request's `Host` or `X-Forwarded-*` headers.
 */

import { hkdfSync, randomBytes, timingSafeEqual } from "node:crypto"
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApiError from "@effect/platform/HttpApiError"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as jose from "jose"
import { type Configurable, resolveConfigurable } from "../AuthStrategy.js"
import { Login } from "../Login.js"
import { checkUrl, type OAuthProfile, type OAuthProvider } from "../OAuthProvider.js"
import { OAuthStateStore } from "../OAuthStateStore.js"
import { oauthMethod } from "../Sessions.js"
import { Email, type User } from "../User.js"
import { OAuthProfileRejected } from "../UserError.js"
import { UserManager } from "../UserManager.js"
import { minimumSecretBytes } from "../UserManagerConfig.js"
import type * as UserModel from "../UserModel.js"
import type * as AuthBackend from "./AuthBackend.js"
import { noStore } from "./AuthBackend.js"
import { Authenticator, loginResponse } from "./Authenticator.js"
import { CurrentUser } from "./CurrentUser.js"
import { AssociateAuthorizeErrors, AssociateCallbackErrors, AuthorizeErrors, CallbackErrors } from "./OAuthErrors.js"
import { type CallbackParams, declareGroups } from "./OAuthGroups.js"
import * as Reauthentication from "./Reauthentication.js"
import * as SignIn from "./SignIn.js"
import type * as UserSchemas from "./UserSchemas.js"
import type * as UsersGroups from "./UsersGroups.js"

/**
 * Options of the OAuth routes of one provider.
 *
 * @since 0.1.0
 */
export interface OAuthOptions<Backend extends string = string> {
  /** The login backend whose login response the callback returns (its name in `UsersApi.make`). */
  readonly backend: Backend
  /** Encrypts the state cookie: at least 32 bytes, else the layer fails naming `stateSecret`. */
  readonly stateSecret: Configurable<Redacted.Redacted<string>>
  /** How long a state is valid; default 10 minutes. */
  readonly stateLifetime?: Duration.DurationInput | undefined
  /**
   * This server's public URL (`https://app.example.com`, with a path if it is mounted under one): the
   * callbacks are `{baseUrl}{authPrefix}/{name}/callback` and `.../associate/callback`. Needed unless both
   * `redirectUrl` and `associateRedirectUrl` are given.
   */
  readonly baseUrl?: Configurable<string> | undefined
  /** The login callback URL registered with the provider (overrides `baseUrl`'s). */
  readonly redirectUrl?: Configurable<string> | undefined
  /** The association callback URL registered with the provider (overrides `baseUrl`'s). */
  readonly associateRedirectUrl?: Configurable<string> | undefined
  /**
   * Link a login to the existing user with the same e-mail, when the provider verified the e-mail (and the
   * provider's `trustEmailVerified` believes it) AND the local user is verified; otherwise
   * `OAUTH_USER_ALREADY_EXISTS`. Default false.
   */
  readonly associateByEmail?: boolean | undefined
  /**
   * URLs a login may send the browser to afterwards (`/authorize?redirect_to=...`, exact match): the callback
   * then answers 303 to it with the login's cookie. Needs a cookie backend. Default none.
   */
  readonly postLoginRedirects?: ReadonlyArray<string> | undefined
  /** The state cookie's name; default `effect-users-oauth-{name}`. */
  readonly cookieName?: string | undefined
  /** `Secure` on the state cookie; default true. */
  readonly secureCookie?: boolean | undefined
  /** Prefix of the routes; default "/auth". */
  readonly authPrefix?: `/${string}` | undefined
}

/**
 * Makes the user model's own fields of an OAuth sign-up from the provider's claims (`OAuthProfile.claims`).
 *
 * @since 0.2.0
 */
export type MapProfile<Fields extends Schema.Struct.Fields> = (
  claims: Readonly<Record<string, unknown>>
) => Schema.Struct.Type<Fields>

/**
 * `mapProfile`, required when the model has required fields of its own (an OAuth sign-up has no other way to fill
 * them), optional otherwise.
 *
 * @since 0.2.0
 */
export type ProfileOptions<Fields extends Schema.Struct.Fields> =
  {} extends Schema.Struct.Type<Fields>
    ? { readonly mapProfile?: MapProfile<Fields> | undefined }
    : { readonly mapProfile: MapProfile<Fields> }

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
class InvalidRedirect extends Data.TaggedError("InvalidRedirect") {}

/** What the state cookie holds, encrypted (JWE `dir` + `A256GCM`). */
const CookieClaims = Schema.Struct({
  state: Schema.String,
  verifier: Schema.String,
  nonce: Schema.String,
  flow: Schema.Literal("login", "associate"),
  user: Schema.optional(Schema.String),
  redirect: Schema.optional(Schema.String),
  exp: Schema.Number
})
type CookieClaims = typeof CookieClaims.Type

// A state, PKCE verifier or nonce: 32 random bytes in base64url, as openid-client's `randomState` (not loaded here).
const random = () => randomBytes(32).toString("base64url")

const sameText = (a: string, b: string) => {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

/** The URL of a callback: the configured one, or `baseUrl` + the route; https (or loopback http), no query. */
const callbackUrl = (
  setting: string,
  explicit: Configurable<string> | undefined,
  base: Option.Option<string>,
  path: string
) =>
  Effect.gen(function* () {
    const value =
      explicit !== undefined
        ? yield* resolveConfigurable(explicit)
        : Option.isSome(base)
          ? `${base.value.replace(/\/$/, "")}${path}`
          : yield* Effect.fail(
              ConfigError.MissingData(
                [setting],
                `OAuth needs ${setting} or baseUrl: the callback URL registered with the provider`
              )
            )
    const url = yield* checkUrl(setting, value)
    if (url.search !== "" || url.hash !== "") {
      return yield* Effect.fail(ConfigError.InvalidData([setting], `${setting} must have no query or fragment`))
    }
    return url.href
  })

/**
 * The OAuth groups of one provider: `oauth.{name}` (`GET /auth/{name}/authorize`, `GET|POST
 * /auth/{name}/callback`) and `oauthAssociate.{name}` (`GET /auth/{name}/associate/authorize` and
 * `/associate/callback`, for a logged-in user), plus `layer` implementing them. `users` is the value of
 * `UsersApi.make`; `options.backend` names one of its backends. The layer needs an `OAuthStateStore`.
 *
 * @since 0.1.0
 */
export const make = <
  const Name extends string,
  I extends HttpApiMiddleware.HttpApiMiddleware.AnyId,
  S,
  ReadSchema extends Schema.Schema.Any,
  Backend extends string,
  Fields extends Schema.Struct.Fields = {}
>(
  users: {
    readonly Authenticated: Context.Tag<I, S>
    readonly schemas: { readonly UserRead: ReadSchema }
    readonly backends: ReadonlyArray<{ readonly name: Backend }>
    /** The app's user model (`UsersApi.make`'s): its own fields are what `mapProfile` fills. */
    readonly model?: UserModel.UserModel<Schema.Schema.Any, Fields> | undefined
    /** How recent a sign-in associating an account needs (`UsersApi.make`'s `reauthenticationWindow`). */
    readonly reauthenticationWindow?: Duration.Duration | undefined
  },
  provider: OAuthProvider<Name>,
  options: OAuthOptions<NoInfer<Backend>> & ProfileOptions<NoInfer<Fields>>
) => {
  const prefix: `/${string}` = `${options.authPrefix ?? "/auth"}/${provider.name}`
  const { associateGroup, group } = declareGroups(provider.name, users.Authenticated, users.schemas.UserRead, prefix)

  const build = Effect.gen(function* () {
    const manager = yield* UserManager
    const authenticator = yield* Authenticator
    const states = yield* OAuthStateStore
    const secret = yield* Effect.flatMap(resolveConfigurable(options.stateSecret), checkStateSecret)
    const key = new Uint8Array(hkdfSync("sha256", Redacted.value(secret), "", "effect-users:oauth-state-cookie", 32))
    const lifetime = Duration.toMillis(options.stateLifetime ?? "10 minutes")
    const running = authenticator.backend(options.backend)
    const { transport } = running
    const respond = loginResponse(running)
    const answer = SignIn.respond(running)
    const loginFlow = yield* Login
    const clientOf = Effect.map(HttpServerRequest.HttpServerRequest, (request) => ({
      userAgent: request.headers["user-agent"]
    }))
    const oauth = yield* provider.make
    const reauthenticate = Reauthentication.requireRecentSignIn(
      users.reauthenticationWindow ?? Reauthentication.defaultWindow
    )
    // The sign-up's fields, checked against the model's schemas: a value the model refuses is the provider's
    // profile refused (400), never a failed insert. Made only when a user is created.
    // The model's fields as the checks below see them: the schemas are the model's, read at run time.
    const mapProfile = options.mapProfile as MapProfile<Schema.Struct.Fields> | undefined
    const checkFields = Schema.validate(Schema.Struct(users.model?.fields ?? {}))
    const fieldsOf = (profile: OAuthProfile) =>
      Effect.try({
        try: () => (mapProfile === undefined ? {} : mapProfile(profile.claims)),
        catch: () => new OAuthProfileRejected({ reason: "mapProfile failed" })
      }).pipe(
        Effect.flatMap((fields) =>
          Effect.mapError(
            checkFields(fields),
            (error) =>
              new OAuthProfileRejected({
                reason: ParseResult.ArrayFormatter.formatErrorSync(error)
                  .map((issue) => `${issue.path.join(".")} ${issue._tag === "Missing" ? "is required" : "is invalid"}`)
                  .join("; ")
              })
          )
        )
      )

    const base =
      options.baseUrl === undefined ? Option.none() : Option.some(yield* resolveConfigurable(options.baseUrl))
    const redirectUris = {
      login: yield* callbackUrl("redirectUrl", options.redirectUrl, base, `${prefix}/callback`),
      associate: yield* callbackUrl(
        "associateRedirectUrl",
        options.associateRedirectUrl,
        base,
        `${prefix}/associate/callback`
      )
    }
    const allowed = new Set<string>()
    for (const entry of options.postLoginRedirects ?? [])
      allowed.add((yield* checkUrl("postLoginRedirects", entry)).href)
    if (allowed.size > 0 && transport._tag !== "Cookie") {
      return yield* Effect.fail(
        ConfigError.InvalidData(["postLoginRedirects"], "OAuth postLoginRedirects need a cookie backend")
      )
    }

    const cookieName = options.cookieName ?? `effect-users-oauth-${provider.name}`
    const audience = `effect-users:oauth-state:${provider.name}`
    // A form_post callback is a cross-site POST, which carries only SameSite=None cookies.
    const cookieAttributes = {
      path: prefix,
      httpOnly: true,
      secure: options.secureCookie ?? true,
      sameSite: provider.responseMode === "form_post" ? "none" : "lax"
    } as const
    const clearCookie = (response: HttpServerResponse.HttpServerResponse) =>
      HttpServerResponse.unsafeSetCookie(response, cookieName, "", { ...cookieAttributes, maxAge: 0 })

    const authorize = (
      flow: "login" | "associate",
      user: Option.Option<string>,
      params: {
        readonly scopes?: string | ReadonlyArray<string> | undefined
        readonly redirect_to?: string | undefined
      }
    ) =>
      Effect.gen(function* () {
        let redirect: string | undefined
        if (params.redirect_to !== undefined) {
          const url = URL.canParse(params.redirect_to) ? new URL(params.redirect_to).href : undefined
          if (url === undefined || !allowed.has(url)) return yield* new InvalidRedirect()
          redirect = url
        }
        const now = yield* Clock.currentTimeMillis
        const claims: CookieClaims = {
          state: random(),
          verifier: random(),
          nonce: random(),
          flow,
          ...(Option.isSome(user) ? { user: user.value } : {}),
          ...(redirect === undefined ? {} : { redirect }),
          exp: Math.floor((now + lifetime) / 1000)
        }
        const scopes =
          params.scopes === undefined ? [] : typeof params.scopes === "string" ? [params.scopes] : params.scopes
        const url = yield* oauth.authorizationUrl({
          redirectUri: redirectUris[flow],
          state: claims.state,
          nonce: claims.nonce,
          codeVerifier: claims.verifier,
          scopes
        })
        const sealed = yield* Effect.promise(() =>
          new jose.EncryptJWT({ ...claims })
            .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
            .setAudience(audience)
            .encrypt(key)
        )
        return HttpServerResponse.unsafeSetCookie(
          HttpServerResponse.unsafeJson({ authorization_url: url }, { headers: noStore }),
          cookieName,
          sealed,
          { ...cookieAttributes, maxAge: Duration.millis(lifetime) }
        )
      })

    /** The browser's state, checked against the callback's: it must be this browser's, unspent and unexpired. */
    const checkState = (flow: "login" | "associate", params: CallbackParams) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const sealed = request.cookies[cookieName]
        if (sealed === undefined || sealed === "" || params.state === undefined) return yield* new InvalidState()
        const now = yield* Clock.currentTimeMillis
        const opened = yield* Effect.tryPromise(() =>
          jose.jwtDecrypt(sealed, key, {
            audience,
            currentDate: new Date(now),
            keyManagementAlgorithms: ["dir"],
            contentEncryptionAlgorithms: ["A256GCM"]
          })
        ).pipe(
          Effect.flatMap(({ payload }) => Schema.decodeUnknown(CookieClaims)(payload)),
          Effect.mapError(() => new InvalidState())
        )
        if (opened.flow !== flow || !sameText(opened.state, params.state)) return yield* new InvalidState()
        if (!(yield* states.spend(opened.state, opened.exp * 1000))) return yield* new InvalidState()
        return opened
      })

    const exchange = (flow: "login" | "associate", params: CallbackParams, claims: CookieClaims) => {
      const sent = new URLSearchParams()
      for (const [name, value] of Object.entries(params)) if (typeof value === "string") sent.set(name, value)
      return oauth.callback({
        redirectUri: redirectUris[flow],
        params: sent,
        state: claims.state,
        nonce: claims.nonce,
        codeVerifier: claims.verifier
      })
    }

    // The provider's e-mail is untrusted input too: one `/auth/register` would refuse (control characters, over
    // 320 characters, no domain) is no usable e-mail at all.
    const decodeEmail = Schema.decodeUnknownOption(Email)
    const emailOf = (profile: OAuthProfile): Option.Option<string> => Option.flatMap(profile.email, decodeEmail)

    const account = (profile: OAuthProfile, email: string) => ({
      oauthName: provider.name,
      accessToken: profile.accessToken,
      accountId: profile.accountId,
      accountEmail: email,
      expiresAt: profile.expiresAt ?? null,
      refreshToken: profile.refreshToken ?? null
    })

    const login = (params: CallbackParams) =>
      Effect.gen(function* () {
        const claims = yield* checkState("login", params)
        const profile = yield* exchange("login", params, claims)
        const email = emailOf(profile)
        if (Option.isNone(email)) return yield* CallbackErrors.fail("NoEmail")
        const user = yield* manager.oauthCallback(account(profile, email.value), {
          associateByEmail: options.associateByEmail,
          emailVerified: profile.emailVerified,
          fields: fieldsOf(profile)
        })
        const outcome = yield* loginFlow.start({
          user,
          backend: options.backend,
          method: oauthMethod(provider.name),
          client: yield* clientOf,
          respond: (tokens) => {
            const loggedIn = respond(tokens)
            return clearCookie(
              claims.redirect === undefined
                ? loggedIn
                : HttpServerResponse.redirect(claims.redirect, { status: 303, headers: noStore }).pipe(
                    HttpServerResponse.mergeCookies(loggedIn.cookies)
                  )
            )
          }
        })
        // A user with a second factor gets the 401 `LOGIN_MFA_REQUIRED` and its `mfa_token` here, as at password login.
        return clearCookie(answer(outcome))
      }).pipe(Effect.mapError((error) => ("detail" in error ? error : CallbackErrors.body(error))))

    // The app's read schema encodes the app's user; the handlers see users as the default model's `User`.
    const read: Schema.Schema.Any = users.schemas.UserRead
    const encodeRead = Schema.encodeSync(read as Schema.Schema<User, unknown>)
    const associate = (params: CallbackParams) =>
      Effect.gen(function* () {
        const user = yield* CurrentUser
        const claims = yield* checkState("associate", params)
        if (claims.user !== String(user.id)) return yield* new InvalidState()
        const profile = yield* exchange("associate", params, claims)
        const email = Option.getOrElse(emailOf(profile), () => user.email)
        const linked = yield* manager.oauthAssociateCallback(user, account(profile, email))
        return clearCookie(HttpServerResponse.unsafeJson(encodeRead(linked), { headers: noStore }))
      }).pipe(Effect.mapError((error) => AssociateCallbackErrors.body(error)))

    return { authorize, login, associate, authenticator, reauthenticate }
  })

  /** Implements both groups against the app's API (which must contain them). */
  const layer = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<ApiId, G | typeof group | typeof associateGroup, E, R>
  ): Layer.Layer<
    HttpApiGroup.ApiGroup<ApiId, `oauth.${Name}` | `oauthAssociate.${Name}`>,
    ConfigError.ConfigError,
    UserManager | Authenticator | Login | OAuthStateStore | I
  > => {
    // The one cast of the API, as in `UsersApi.layer`: these groups come from `declareGroups`, and the
    // handlers are checked against its instantiation for the default model (`Erased`).
    const erased: HttpApi.HttpApi.Any = api
    const typed = erased as ErasedApi
    const name: string = provider.name
    const implemented = Layer.unwrapEffect(
      Effect.map(build, ({ associate, authenticator, authorize, login, reauthenticate }) => {
        const loginGroup = HttpApiBuilder.group(typed, `oauth.${name}`, (handlers) =>
          handlers
            .handle("authorize", ({ urlParams }) =>
              authorize("login", Option.none(), urlParams).pipe(Effect.mapError((error) => AuthorizeErrors.body(error)))
            )
            .handle("callback", ({ urlParams }) => login(urlParams))
            .handle("callbackForm", ({ payload }) => login(payload))
        )
        const associateGroup = HttpApiBuilder.group(typed, `oauthAssociate.${name}`, (handlers) =>
          handlers
            .handle("authorize", ({ urlParams }) =>
              Effect.gen(function* () {
                // A GET, yet it starts a link: SameSite=Lax cookies ride along on another site's top-level link.
                yield* authenticator.sameSiteOnly(yield* HttpServerRequest.HttpServerRequest)
                const user = yield* CurrentUser
                return yield* Effect.zipRight(
                  reauthenticate,
                  authorize("associate", Option.some(String(user.id)), urlParams)
                ).pipe(Effect.mapError((error) => AssociateAuthorizeErrors.body(error)))
              })
            )
            .handle("callback", ({ urlParams }) => associate(urlParams))
        )
        return Layer.merge(loginGroup, associateGroup)
      })
    )
    // Typed as `make` declares the groups; the middleware tags are the app's users API's, provided with it.
    return implemented as Layer.Layer<
      HttpApiGroup.ApiGroup<ApiId, `oauth.${Name}` | `oauthAssociate.${Name}`>,
      ConfigError.ConfigError,
      UserManager | Authenticator | Login | OAuthStateStore | I
    >
  }

  return { group, associateGroup, layer }
}

/**
 * OAuth 2.0 and OpenID Connect providers on `openid-client`: any OpenID Provider by its issuer URL
 * (discovery), Google, Microsoft (Entra ID, multi-tenant), Apple (form_post, ES256 client secret), GitLab, and
 * GitHub (plain OAuth 2.0: its user and e-mails endpoints). The HTTP routes (`OAuth.make`) hand each provider
 * the state, the PKCE verifier and the nonce they keep in the browser's cookie; the provider builds the
 * authorization URL and turns the callback into a profile: account ID, e-mail, and whether the provider
 * verified that e-mail.
 *
 * An issuer whose discovery fails (down, unreachable) makes the request die with `ServiceUnavailable` (a 503 at
 * the HTTP edge); the next request tries again. So does a provider that does not answer a call (discovery, code
 * exchange, userinfo, GitHub's API) within `timeout` (default 5 seconds), or cannot be reached.
 *
 * OpenID Connect id_tokens are checked by `openid-client`: `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, and
 * (with `enableNonRepudiationChecks`, always on here) the signature against the issuer's JWKS.
 */
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as jose from "jose"
import type * as Client from "openid-client"
import { type Configurable, resolveConfigurable } from "./AuthStrategy.js"
import { codeOf, isNetworkFault, someCause } from "./Unavailable.js"
import { ServiceUnavailable } from "./UserError.js"

/**
 * A failure talking to the provider (discovery, code exchange, id_token check, profile lookup).
 *
 * @since 0.1.0
 */
export class OAuthProviderError extends Schema.TaggedError<OAuthProviderError>()("OAuthProviderError", {
  reason: Schema.String
}) {}

/**
 * What a provider says about the account that logged in, with the tokens it issued.
 *
 * @since 0.1.0
 */
export interface OAuthProfile {
  readonly accountId: string
  /** The e-mail, when the provider shares one. */
  readonly email: Option.Option<string>
  /**
   * Whether `email` is verified as far as this app is concerned: the provider asserts that it verified it (OpenID
   * Connect's `email_verified`) AND the provider's `trustEmailVerified` says to believe that.
   */
  readonly emailVerified: boolean
  /** The provider's claims about the account (id_token and userinfo; GitHub's `/user`), for `mapProfile`. */
  readonly claims: Readonly<Record<string, unknown>>
  readonly accessToken: string
  /** Seconds since the epoch. */
  readonly expiresAt?: number | undefined
  readonly refreshToken?: string | undefined
}

/**
 * The values of one authorization request, kept in the browser's state cookie until the callback.
 *
 * @since 0.1.0
 */
export interface AuthorizationRequest {
  readonly redirectUri: string
  readonly state: string
  readonly nonce: string
  readonly codeVerifier: string
  readonly scopes: ReadonlyArray<string>
}

/**
 * The callback: the parameters the provider sent (query or form_post body) and the values of the request.
 *
 * @since 0.1.0
 */
export interface CallbackRequest {
  readonly redirectUri: string
  readonly params: URLSearchParams
  readonly state: string
  readonly nonce: string
  readonly codeVerifier: string
}

/**
 * A provider ready to serve, built when the routes' layer is built.
 *
 * @since 0.1.0
 */
export interface OAuthClient {
  /** The provider's authorization URL that the browser is sent to. */
  readonly authorizationUrl: (request: AuthorizationRequest) => Effect.Effect<string, OAuthProviderError>
  /** Exchanges the callback's code and reads the account's profile. */
  readonly callback: (request: CallbackRequest) => Effect.Effect<OAuthProfile, OAuthProviderError>
}

/**
 * An OAuth provider: a name (its routes are `/auth/{name}/...`) and how to build its client.
 *
 * @since 0.1.0
 */
export interface OAuthProvider<Name extends string = string> {
  readonly name: Name
  /** `form_post` providers (Apple) call back with a cross-site POST. */
  readonly responseMode: "query" | "form_post"
  readonly make: Effect.Effect<OAuthClient, ConfigError.ConfigError>
}

/**
 * Options every provider takes.
 *
 * @since 0.1.0
 */
export interface ClientOptions<Name extends string> {
  /** The provider's name in routes (`/auth/{name}/...`) and in `oauth_account.oauth_name`. */
  readonly name?: Name | undefined
  readonly clientId: Configurable<string>
  readonly clientSecret: Configurable<Redacted.Redacted<string>>
  /** Scopes asked for on every authorization, before the ones the client adds. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** A `fetch` for every request to the provider (a proxy, a test); default the global one. */
  readonly fetch?: Client.CustomFetch | undefined
  /**
   * How long one call to the provider (discovery, code exchange, userinfo, GitHub's API) may take; past it, or
   * when the provider cannot be reached, the request answers 503 with `Retry-After`. Default 5 seconds.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Whether to believe the provider when it says it verified the account's e-mail: only then does an OAuth sign-up
   * create a user owning the address (verified), or link it by e-mail. Default true, but false for Microsoft
   * Entra (whose `email` any tenant admin sets). Set false for an issuer where users put unverified addresses on
   * their profile yet it claims them verified.
   */
  readonly trustEmailVerified?: boolean | undefined
}

/**
 * The default `timeout` of a call to a provider.
 *
 * @since 0.2.0
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(5)

/** `Retry-After` (seconds) of a provider that cannot serve now. */
const retryAfter = 5

/**
 * Options of a generic OpenID Connect provider.
 *
 * @since 0.1.0
 */
export interface OidcOptions<Name extends string> extends ClientOptions<Name> {
  /** The issuer URL; its `/.well-known/openid-configuration` is read on first use. `http:` only on loopback. */
  readonly issuer: Configurable<string>
  /** Extra parameters of the authorization URL (`prompt`, `hd`, ...). */
  readonly authorizationParams?: Readonly<Record<string, string>> | undefined
  /** `query` (default) or `form_post`. */
  readonly responseMode?: "query" | "form_post" | undefined
}

const loopbacks = new Set(["127.0.0.1", "localhost", "[::1]"])

/**
 * An `https:` URL, or `http:` on a loopback host (development and tests); a `ConfigError` otherwise.
 *
 * @since 0.1.0
 */
export const checkUrl = (setting: string, value: string): Effect.Effect<URL, ConfigError.ConfigError> => {
  const url = URL.canParse(value) ? new URL(value) : undefined
  if (url !== undefined && (url.protocol === "https:" || (url.protocol === "http:" && loopbacks.has(url.hostname)))) {
    return Effect.succeed(url)
  }
  return Effect.fail(
    ConfigError.InvalidData([setting], `${setting} must be an https: URL (http: only on a loopback host)`)
  )
}

type OpenIdClient = typeof Client

// Loaded when a provider is built: an app without OAuth never loads openid-client.
const loadClient: Effect.Effect<OpenIdClient> = Effect.promise(() => import("openid-client"))

// openid-client's codes and messages name the check that failed, never a token or a secret.
const describe = (error: unknown) =>
  error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : "failed"

const failure = (step: string) => (error: unknown) => new OAuthProviderError({ reason: `${step}: ${describe(error)}` })

class TimedOut extends Error {
  override readonly name = "TimeoutError"
}

/** The provider did not answer in time (our bound, or openid-client's own: `OAUTH_TIMEOUT`), or cannot be reached. */
const isOutage = (error: unknown) =>
  error instanceof TimedOut ||
  someCause(error, (cause) => codeOf(cause) === "OAUTH_TIMEOUT" || (cause as Error).name === "TimeoutError") ||
  isNetworkFault(error)

/**
 * One call to the provider, bounded by `timeout`: an outage (no answer in time, unreachable) dies with
 * `ServiceUnavailable`, any other failure is an `OAuthProviderError`.
 */
const callProvider = <A>(name: string, step: string, timeout: Duration.Duration, call: () => Promise<A>) =>
  Effect.tryPromise({ try: call, catch: (error) => error }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new TimedOut(`no answer within ${Duration.format(timeout)}`)
    }),
    Effect.catchAll((error) =>
      isOutage(error)
        ? Effect.die(new ServiceUnavailable({ reason: `OAuth ${name} ${step}: ${describe(error)}`, retryAfter }))
        : Effect.fail(failure(step)(error))
    )
  )

const timeoutOf = (options: { readonly timeout?: Duration.DurationInput | undefined }) =>
  options.timeout === undefined ? defaultTimeout : Duration.decode(options.timeout)

/** Swaps the callback's code for tokens, checking its state and PKCE verifier (and `checks`, for OIDC). */
const exchangeCode = (
  client: OpenIdClient,
  config: Client.Configuration,
  name: string,
  timeout: Duration.Duration,
  request: CallbackRequest,
  checks: Client.AuthorizationCodeGrantChecks = {}
) => {
  const currentUrl = new URL(request.redirectUri)
  for (const [key, value] of request.params) currentUrl.searchParams.append(key, value)
  return callProvider(name, "code exchange", timeout, () =>
    client.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: request.codeVerifier,
      expectedState: request.state,
      ...checks
    })
  )
}

const secondsFromNow = (seconds: number | undefined) =>
  seconds === undefined ? undefined : Math.floor(Date.now() / 1000) + seconds

const isTrue = (value: unknown) => value === true || value === "true"

interface OidcInternals {
  /** Apple: a client secret computed per token request. */
  readonly clientSecret?: Effect.Effect<string, never> | undefined
  /** How a provider reads `email_verified` from the claims; default OpenID Connect's boolean. */
  readonly emailVerified?: ((claims: Record<string, unknown>) => boolean) | undefined
}

const makeOidc = <Name extends string>(
  name: Name,
  options: OidcOptions<Name>,
  internals: OidcInternals = {}
): OAuthProvider<Name> => ({
  name,
  responseMode: options.responseMode ?? "query",
  make: Effect.gen(function* () {
    const client = yield* loadClient
    const issuer = yield* Effect.flatMap(resolveConfigurable(options.issuer), (value) => checkUrl("issuer", value))
    const clientId = yield* resolveConfigurable(options.clientId)
    const secret = yield* resolveConfigurable(options.clientSecret)
    const scopes = options.scopes ?? ["openid", "email", "profile"]
    // Apple's secret changes; `ClientSecretPost` reads the one the exchange just computed.
    let currentSecret = Redacted.value(secret)
    const auth: Client.ClientAuth = (as, metadata, body, headers) =>
      client.ClientSecretPost(currentSecret)(as, metadata, body, headers)

    const timeout = timeoutOf(options)
    // Discovery on first use, kept once it succeeds; a failure is retried by the next request. openid-client
    // aborts each of its requests after `timeout` (seconds) too: the configuration keeps it for the later calls.
    let discovered: Promise<Client.Configuration> | undefined
    const configuration = callProvider(name, "discovery", timeout, () => {
      discovered ??= client
        .discovery(issuer, clientId, undefined, auth, {
          execute: [
            client.enableNonRepudiationChecks,
            ...(issuer.protocol === "http:" ? [client.allowInsecureRequests] : [])
          ],
          timeout: Duration.toSeconds(timeout),
          ...(options.fetch === undefined ? {} : { [client.customFetch]: options.fetch })
        })
        .catch((error) => {
          discovered = undefined
          throw error
        })
      return discovered
    }).pipe(
      // The provider cannot be described: the app cannot serve this now (503), not a bad request.
      Effect.catchAll(({ reason }) =>
        Effect.die(new ServiceUnavailable({ reason: `OAuth ${name} ${reason}`, retryAfter }))
      )
    )
    const trusted = options.trustEmailVerified ?? true
    const emailVerified = internals.emailVerified ?? ((claims) => claims.email_verified === true)

    return {
      authorizationUrl: (request) =>
        Effect.gen(function* () {
          const config = yield* configuration
          const challenge = yield* Effect.promise(() => client.calculatePKCECodeChallenge(request.codeVerifier))
          const url = client.buildAuthorizationUrl(config, {
            ...options.authorizationParams,
            redirect_uri: request.redirectUri,
            scope: [...new Set([...scopes, ...request.scopes])].join(" "),
            state: request.state,
            nonce: request.nonce,
            code_challenge: challenge,
            code_challenge_method: "S256",
            ...(options.responseMode === "form_post" ? { response_mode: "form_post" } : {})
          })
          return url.href
        }),
      callback: (request) =>
        Effect.gen(function* () {
          const config = yield* configuration
          if (internals.clientSecret !== undefined) currentSecret = yield* internals.clientSecret
          const tokens = yield* exchangeCode(client, config, name, timeout, request, {
            expectedNonce: request.nonce,
            idTokenExpected: true
          })
          const claims = tokens.claims()!
          let profile: Record<string, unknown> = claims
          if (typeof claims.email !== "string" && config.serverMetadata().userinfo_endpoint !== undefined) {
            const info = yield* callProvider(name, "userinfo", timeout, () =>
              client.fetchUserInfo(config, tokens.access_token, claims.sub)
            )
            profile = { ...info, ...claims, email: info.email, email_verified: info.email_verified }
          }
          const email = typeof profile.email === "string" ? Option.some(profile.email) : Option.none()
          return {
            accountId: claims.sub,
            email,
            emailVerified: trusted && Option.isSome(email) && emailVerified(profile),
            claims: profile,
            accessToken: tokens.access_token,
            expiresAt: secondsFromNow(tokens.expires_in),
            refreshToken: tokens.refresh_token
          }
        })
    }
  })
})

/**
 * Any OpenID Provider, found by its issuer URL. `name` is required.
 *
 * @since 0.1.0
 */
export const oidc = <const Name extends string>(
  options: OidcOptions<Name> & { readonly name: Name }
): OAuthProvider<Name> => makeOidc(options.name, options)

/**
 * Google (`https://accounts.google.com`); name `google` unless given.
 *
 * @since 0.1.0
 */
export const google = <const Name extends string = "google">(
  options: ClientOptions<Name> & { readonly authorizationParams?: Readonly<Record<string, string>> | undefined }
): OAuthProvider<Name> =>
  makeOidc(options.name ?? ("google" as Name), { ...options, issuer: "https://accounts.google.com" })

/**
 * Microsoft Entra ID: `tenant` is a tenant ID or `common` (default), `organizations`, `consumers`. Entra's
 * `email` claim is not verified (any tenant's admin sets it; no `email_verified`): `trustEmailVerified` defaults to
 * false, so an account not yet linked cannot sign up (`OAUTH_NOT_AVAILABLE_EMAIL`); users link it logged in.
 * `trustEmailVerified: true` takes the `email` claim as verified: only for one tenant whose addresses you manage.
 *
 * @since 0.1.0
 */
export const microsoft = <const Name extends string = "microsoft">(
  options: ClientOptions<Name> & { readonly tenant?: string | undefined }
): OAuthProvider<Name> =>
  makeOidc(
    options.name ?? ("microsoft" as Name),
    {
      ...options,
      trustEmailVerified: options.trustEmailVerified ?? false,
      issuer: `https://login.microsoftonline.com/${encodeURIComponent(options.tenant ?? "common")}/v2.0`
    },
    { emailVerified: () => true }
  )

/**
 * GitLab (`https://gitlab.com` or a self-managed `issuer`); name `gitlab` unless given.
 *
 * @since 0.1.0
 */
export const gitlab = <const Name extends string = "gitlab">(
  options: ClientOptions<Name> & { readonly issuer?: Configurable<string> | undefined }
): OAuthProvider<Name> =>
  makeOidc(options.name ?? ("gitlab" as Name), {
    ...options,
    issuer: options.issuer ?? "https://gitlab.com",
    scopes: options.scopes ?? ["openid", "email", "profile"]
  })

/**
 * Options of Sign in with Apple: its client secret is a JWT signed with the team's ES256 key.
 *
 * @since 0.1.0
 */
export interface AppleOptions<Name extends string> extends Omit<ClientOptions<Name>, "clientSecret"> {
  /** The Services ID. */
  readonly clientId: Configurable<string>
  readonly teamId: Configurable<string>
  readonly keyId: Configurable<string>
  /** The `.p8` private key (PKCS#8 PEM). */
  readonly privateKey: Configurable<Redacted.Redacted<string>>
  /** Default `https://appleid.apple.com` (tests point it elsewhere). */
  readonly issuer?: Configurable<string> | undefined
}

/**
 * Sign in with Apple: `form_post` callbacks (a cross-site POST, so its state cookie is `SameSite=None`), an
 * ES256 client secret made per token request, `email_verified` sent as a string. Name `apple` unless given.
 *
 * @since 0.1.0
 */
export const apple = <const Name extends string = "apple">(options: AppleOptions<Name>): OAuthProvider<Name> => {
  const name = options.name ?? ("apple" as Name)
  return {
    name,
    responseMode: "form_post",
    make: Effect.gen(function* () {
      const clientId = yield* resolveConfigurable(options.clientId)
      const teamId = yield* resolveConfigurable(options.teamId)
      const keyId = yield* resolveConfigurable(options.keyId)
      const pem = yield* resolveConfigurable(options.privateKey)
      const key = yield* Effect.tryPromise({
        try: () => jose.importPKCS8(Redacted.value(pem), "ES256"),
        catch: () => ConfigError.InvalidData(["privateKey"], "Apple privateKey must be an ES256 PKCS#8 PEM key")
      })
      const clientSecret = Effect.promise(() =>
        new jose.SignJWT({})
          .setProtectedHeader({ alg: "ES256", kid: keyId })
          .setIssuer(teamId)
          .setSubject(clientId)
          .setAudience("https://appleid.apple.com")
          .setIssuedAt()
          .setExpirationTime("5 minutes")
          .sign(key)
      )
      const inner = makeOidc(
        name,
        {
          ...options,
          clientSecret: Redacted.make(""),
          issuer: options.issuer ?? "https://appleid.apple.com",
          scopes: options.scopes ?? ["openid", "email", "name"],
          responseMode: "form_post"
        },
        { clientSecret, emailVerified: (claims) => isTrue(claims.email_verified) }
      )
      return yield* inner.make
    })
  }
}

/**
 * Options of GitHub; the endpoints are GitHub.com's unless given (GitHub Enterprise Server, tests).
 *
 * @since 0.1.0
 */
export interface GitHubOptions<Name extends string> extends ClientOptions<Name> {
  /** Default `https://github.com`: `/login/oauth/authorize` and `/login/oauth/access_token` live there. */
  readonly webUrl?: Configurable<string> | undefined
  /** Default `https://api.github.com`: `/user` and `/user/emails`. */
  readonly apiUrl?: Configurable<string> | undefined
}

const GitHubUser = Schema.Struct({ id: Schema.Union(Schema.Number, Schema.String) })
const GitHubEmails = Schema.Array(
  Schema.Struct({ email: Schema.String, primary: Schema.Boolean, verified: Schema.Boolean })
)

/**
 * GitHub, which is not OpenID Connect: the account ID from `/user`, and the e-mail only when it is the primary
 * address and verified (from `/user/emails`, scope `user:email`); otherwise none. That verification is trusted
 * unless `trustEmailVerified: false`. `mapProfile` sees `/user`'s body. Name `github` unless given.
 *
 * @since 0.1.0
 */
export const github = <const Name extends string = "github">(options: GitHubOptions<Name>): OAuthProvider<Name> => {
  const name = options.name ?? ("github" as Name)
  return {
    name,
    responseMode: "query",
    make: Effect.gen(function* () {
      const client = yield* loadClient
      const web = yield* Effect.flatMap(resolveConfigurable(options.webUrl ?? "https://github.com"), (value) =>
        checkUrl("webUrl", value)
      )
      const api = yield* Effect.flatMap(resolveConfigurable(options.apiUrl ?? "https://api.github.com"), (value) =>
        checkUrl("apiUrl", value)
      )
      const clientId = yield* resolveConfigurable(options.clientId)
      const secret = yield* resolveConfigurable(options.clientSecret)
      const base = web.href.replace(/\/$/, "")
      const config = new client.Configuration(
        {
          issuer: base,
          authorization_endpoint: `${base}/login/oauth/authorize`,
          token_endpoint: `${base}/login/oauth/access_token`
        },
        clientId,
        undefined,
        client.ClientSecretPost(Redacted.value(secret))
      )
      if (web.protocol === "http:") client.allowInsecureRequests(config)
      const timeout = timeoutOf(options)
      config.timeout = Duration.toSeconds(timeout)
      const fetch: Client.CustomFetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init as RequestInit))
      if (options.fetch !== undefined) config[client.customFetch] = options.fetch
      const scopes = options.scopes ?? ["read:user", "user:email"]

      const trusted = options.trustEmailVerified ?? true
      const getJson = <A, I>(path: string, schema: Schema.Schema<A, I>, accessToken: string) =>
        callProvider(name, path, timeout, async () => {
          const response = await fetch(`${api.href.replace(/\/$/, "")}${path}`, {
            method: "GET",
            body: undefined,
            redirect: "manual",
            signal: AbortSignal.timeout(Duration.toMillis(timeout)),
            headers: {
              authorization: `Bearer ${accessToken}`,
              accept: "application/vnd.github+json",
              "user-agent": "effect-users"
            }
          })
          if (!response.ok) throw new Error(`${path} answered ${response.status}`)
          return response.json() as Promise<unknown>
        }).pipe(
          Effect.flatMap((body) => Effect.map(Schema.decodeUnknown(schema)(body), (value) => ({ body, value }))),
          Effect.mapError((error) =>
            error._tag === "ParseError" ? new OAuthProviderError({ reason: `${path}: unexpected body` }) : error
          )
        )

      return {
        authorizationUrl: (request) =>
          Effect.gen(function* () {
            const challenge = yield* Effect.promise(() => client.calculatePKCECodeChallenge(request.codeVerifier))
            return client.buildAuthorizationUrl(config, {
              redirect_uri: request.redirectUri,
              scope: [...new Set([...scopes, ...request.scopes])].join(" "),
              state: request.state,
              code_challenge: challenge,
              code_challenge_method: "S256",
              allow_signup: "true"
            }).href
          }),
        callback: (request) =>
          Effect.gen(function* () {
            const tokens = yield* exchangeCode(client, config, name, timeout, request)
            const user = yield* getJson("/user", GitHubUser, tokens.access_token)
            const emails = yield* getJson("/user/emails", GitHubEmails, tokens.access_token)
            const primary = emails.value.find((entry) => entry.primary && entry.verified)
            return {
              accountId: String(user.value.id),
              email: Option.fromNullable(primary?.email),
              emailVerified: trusted && primary !== undefined,
              claims: user.body as Record<string, unknown>,
              accessToken: tokens.access_token,
              expiresAt: secondsFromNow(tokens.expires_in),
              refreshToken: tokens.refresh_token
            }
          })
      }
    })
  }
}

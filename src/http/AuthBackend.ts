/**
 * Login backends: a transport (how the token travels: `Authorization: Bearer` or a cookie) paired with a
 * strategy (how the token maps to a user: JWT or database). Declared once, at module level, next to the
 * app's `HttpApi`; the strategy is an effect that runs when the server's layer is built.
 */
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AuthStrategy } from "../AuthStrategy.js"
import type { RefreshTokenStore } from "../RefreshTokenStore.js"
import type { RefreshOptions } from "../RefreshTokens.js"
import * as CrossSite from "./CrossSite.js"

/**
 * `Cache-Control: no-store`: the headers of every response that carries a token or a user.
 *
 * @since 0.1.0
 */
export const noStore = { "cache-control": "no-store" } as const

/**
 * Cookie settings; the defaults are FastAPI Users' `CookieTransport` defaults.
 *
 * @since 0.1.0
 */
export interface CookieOptions {
  /** Default "fastapiusersauth". */
  readonly name?: string | undefined
  /** Default: a session cookie (no Max-Age). */
  readonly maxAge?: Duration.DurationInput | undefined
  /** Default "/". */
  readonly path?: string | undefined
  readonly domain?: string | undefined
  /** Default true. */
  readonly secure?: boolean | undefined
  /** Default true. */
  readonly httpOnly?: boolean | undefined
  /** Default "lax". */
  readonly sameSite?: "lax" | "strict" | "none" | undefined
  /**
   * Origins besides the server's own (the request's `Host`) whose pages may use the cookie on unsafe requests
   * and post the login form: a front end on another host (`https://app.example.com`). Default none: any other
   * origin is answered 403 `CSRF_REJECTED`. Throws on an entry that is not an origin.
   */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
}

/**
 * How a token travels: in an `Authorization: Bearer` header or in a cookie.
 *
 * @since 0.1.0
 */
export type Kind = "Bearer" | "Cookie"

/**
 * How a token travels between client and server; `K` decides the login route's response.
 *
 * @since 0.1.0
 */
export interface Transport<K extends Kind = Kind> {
  readonly _tag: K
  /** The OpenAPI security scheme of this transport. */
  readonly security: HttpApiSecurity.HttpApiSecurity
  /** The token the request carries, if there is one. */
  readonly read: (request: HttpServerRequest.HttpServerRequest) => Option.Option<string>
  /**
   * Whether a browser may have sent this request for another site's page, so that the token it carries (one the
   * browser attaches by itself: a cookie) must not count on it. Always false for a bearer token.
   */
  readonly crossSite: (request: HttpServerRequest.HttpServerRequest) => boolean
  /** The response of a successful login. */
  readonly loginResponse: (token: string) => HttpServerResponse.HttpServerResponse
  /** The response of a logout. */
  readonly logoutResponse: () => HttpServerResponse.HttpServerResponse
}

/**
 * `Authorization: Bearer <token>`; login answers 200 `{"access_token", "token_type": "bearer"}`, logout 204.
 *
 * @since 0.1.0
 */
export const bearerTransport = (options: { readonly tokenUrl?: string | undefined } = {}): Transport<"Bearer"> => ({
  _tag: "Bearer",
  security: HttpApiSecurity.bearer.pipe(
    HttpApiSecurity.annotate(
      OpenApi.Description,
      options.tokenUrl === undefined ? "Bearer token" : `Bearer token from POST ${options.tokenUrl}`
    )
  ),
  read: (request) => {
    const header = request.headers.authorization
    if (header === undefined) return Option.none()
    const space = header.indexOf(" ")
    if (space === -1 || header.slice(0, space).toLowerCase() !== "bearer") return Option.none()
    const token = header.slice(space + 1).trim()
    return token.length === 0 ? Option.none() : Option.some(token)
  },
  crossSite: () => false,
  loginResponse: (token) =>
    HttpServerResponse.unsafeJson({ access_token: token, token_type: "bearer" }, { status: 200, headers: noStore }),
  logoutResponse: () => HttpServerResponse.empty({ status: 204, headers: noStore })
})

/**
 * A cookie; login answers 204 with `Set-Cookie`, logout 204 with the cookie cleared (empty, Max-Age=0). The
 * cookie is no credential on a cross-site unsafe request (see `CrossSite`): the `Authenticator` skips it.
 *
 * @since 0.1.0
 */
export const cookieTransport = (options: CookieOptions = {}): Transport<"Cookie"> => {
  const name = options.name ?? "fastapiusersauth"
  const attributes = {
    path: options.path ?? "/",
    domain: options.domain,
    secure: options.secure ?? true,
    httpOnly: options.httpOnly ?? true,
    sameSite: options.sameSite ?? "lax"
  } as const
  const allowed = CrossSite.origins(options.allowedOrigins ?? [])
  return {
    _tag: "Cookie",
    security: HttpApiSecurity.apiKey({ in: "cookie", key: name }),
    read: (request) => {
      const value = request.cookies[name]
      return value === undefined || value.length === 0 ? Option.none() : Option.some(value)
    },
    crossSite: (request) => CrossSite.isCrossSite(request, allowed),
    loginResponse: (token) =>
      HttpServerResponse.unsafeSetCookie(HttpServerResponse.empty({ status: 204, headers: noStore }), name, token, {
        ...attributes,
        ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge })
      }),
    logoutResponse: () =>
      HttpServerResponse.unsafeSetCookie(HttpServerResponse.empty({ status: 204, headers: noStore }), name, "", {
        ...attributes,
        maxAge: 0
      })
  }
}

/**
 * A named backend: routes at `/auth/{name}/login` and `/auth/{name}/logout`. `R` is what its strategy needs;
 * `K`, its transport's kind, types the login route (a bearer token body, or a cookie and no content); `F`, its
 * refresh-token settings, adds `/auth/{name}/refresh` when they are given.
 *
 * @since 0.1.0
 */
export interface AuthBackend<
  Name extends string = string,
  R = never,
  K extends Kind = Kind,
  F extends RefreshOptions | undefined = RefreshOptions | undefined
> {
  readonly name: Name
  readonly transport: Transport<K>
  readonly strategy: Effect.Effect<AuthStrategy, ConfigError.ConfigError, R>
  /** Refresh tokens (bearer backends only); `undefined` when off. */
  readonly refresh: F
}

/**
 * Every backend, whatever its name, needs, transport and refresh settings.
 *
 * @since 0.1.0
 */
export type Any = AuthBackend<string, unknown, Kind>

/**
 * What a backend's strategy needs.
 *
 * @since 0.1.0
 */
export type Context<B> = B extends AuthBackend<string, infer R, Kind> ? R : never

/**
 * The name of a backend.
 *
 * @since 0.1.0
 */
export type NameOf<B> = B extends AuthBackend<infer Name, infer _R, Kind> ? Name : never

/**
 * Pairs a transport with a strategy under a name.
 *
 * @since 0.1.0
 */
export const make = <const Name extends string, R, K extends Kind>(
  name: Name,
  transport: Transport<K>,
  strategy: Effect.Effect<AuthStrategy, ConfigError.ConfigError, R>
): AuthBackend<Name, R, K, undefined> => ({ name, transport, strategy, refresh: undefined })

/**
 * Options of a bearer backend.
 *
 * @since 0.1.0
 */
export interface BearerOptions {
  /** The auth routes' prefix, for the OpenAPI token URL; default "/auth". */
  readonly prefix?: string | undefined
  /**
   * Refresh tokens: login also answers a `refresh_token`, which `POST /auth/{name}/refresh` swaps for a new pair
   * (the backend then needs a `RefreshTokenStore`). Give the strategy a short access-token lifetime.
   */
  readonly refresh?: RefreshOptions | undefined
}

/**
 * A bearer backend; its login route is the token URL in the OpenAPI document.
 *
 * @since 0.1.0
 */
export function bearer<const Name extends string, R>(
  name: Name,
  strategy: Effect.Effect<AuthStrategy, ConfigError.ConfigError, R>,
  options: BearerOptions & { readonly refresh: RefreshOptions }
): AuthBackend<Name, R | RefreshTokenStore, "Bearer", RefreshOptions>
/**
 * A bearer backend without refresh tokens.
 *
 * @since 0.1.0
 */
export function bearer<const Name extends string, R>(
  name: Name,
  strategy: Effect.Effect<AuthStrategy, ConfigError.ConfigError, R>,
  options?: BearerOptions & { readonly refresh?: undefined }
): AuthBackend<Name, R, "Bearer", undefined>
export function bearer(
  name: string,
  strategy: Effect.Effect<AuthStrategy, ConfigError.ConfigError, unknown>,
  options: BearerOptions = {}
): AuthBackend<string, unknown, "Bearer"> {
  const transport = bearerTransport({ tokenUrl: `${options.prefix ?? "/auth"}/${name}/login` })
  return { ...make(name, transport, strategy), refresh: options.refresh }
}

/**
 * A cookie backend.
 *
 * @since 0.1.0
 */
export const cookie = <const Name extends string, R>(
  name: Name,
  strategy: Effect.Effect<AuthStrategy, ConfigError.ConfigError, R>,
  options: CookieOptions = {}
): AuthBackend<Name, R, "Cookie"> => make(name, cookieTransport(options), strategy)

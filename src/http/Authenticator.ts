/**
 * The running login backends: each backend's strategy built (with its refresh tokens when it has them on),
 * the runtime that resolves a request to a user through them (first backend that yields a user wins), and
 * the `Login` that opens sessions on them.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Login from "../Login.js"
import * as RefreshTokens from "../RefreshTokens.js"
import type { Sessions } from "../Sessions.js"
import type { User } from "../User.js"
import type { UserManager } from "../UserManager.js"
import type * as AuthBackend from "./AuthBackend.js"
import { noStore, type Transport } from "./AuthBackend.js"
import { isUnsafe } from "./CrossSite.js"
import type { DeviceTransport } from "./DeviceTransport.js"
import type { CsrfRejected } from "./HttpErrors.js"

/**
 * A backend with its strategy built, and how its tokens travel.
 *
 * @since 0.2.0
 */
export interface RunningBackend extends Login.Backend {
  /** How its tokens travel: bearer header or cookie. */
  readonly transport: Transport
  /** How its logins' device tokens travel (`UsersApi` sets it: the device cookie and header). */
  readonly device?: DeviceTransport | undefined
}

/**
 * The backend and token that authenticated a request.
 *
 * @since 0.2.0
 */
export interface RequestSession {
  /** The backend whose token it was. */
  readonly backend: RunningBackend
  /** The token as the request carried it. */
  readonly token: string
}

/**
 * The login backends in use, in order.
 *
 * @since 0.2.0
 */
export interface AuthenticatorService {
  /** The backends, in the order they were given. */
  readonly backends: ReadonlyArray<RunningBackend>
  /** The backend of this name (a defect if there is none). */
  readonly backend: (name: string) => RunningBackend
  /**
   * The user of the first backend (among `names`, default all) whose token maps to a user. On an unsafe request
   * (POST, PUT, PATCH, DELETE) a token the transport calls cross-site (a cookie sent for another site's page) is
   * skipped unread; when no other backend finds a user, that fails with `CSRF_REJECTED` instead of no user.
   */
  readonly authenticate: (
    request: HttpServerRequest.HttpServerRequest,
    names?: ReadonlyArray<string>
  ) => Effect.Effect<Option.Option<User>, CsrfRejected>
  /** The backend and token that authenticated this request, once `authenticate` found its user. */
  readonly sessionOf: (request: HttpServerRequest.HttpServerRequest) => Option.Option<RequestSession>
  /**
   * Fails with `CSRF_REJECTED` when the request's session came in a token the browser attaches by itself from a
   * cross-site page, whatever the method: for a GET that starts something sensitive (an OAuth association).
   */
  readonly sameSiteOnly: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<void, CsrfRejected>
}

const csrfRejected: CsrfRejected = { detail: "CSRF_REJECTED" }

/**
 * The login backends in use.
 *
 * @since 0.2.0
 */
export class Authenticator extends Context.Tag("effect-users/Authenticator")<Authenticator, AuthenticatorService>() {}

/**
 * Builds the authenticator from running backends.
 *
 * @since 0.2.0
 */
export const makeAuthenticator = (backends: ReadonlyArray<RunningBackend>): AuthenticatorService => {
  const byName = new Map(backends.map((backend) => [backend.name, backend]))
  const sessions = new WeakMap<HttpServerRequest.HttpServerRequest, RequestSession>()
  return {
    backends,
    backend: (name) => byName.get(name)!,
    sessionOf: (request) => Option.fromNullable(sessions.get(request)),
    sameSiteOnly: (request) =>
      sessions.get(request)?.backend.transport.crossSite(request) ? Effect.fail(csrfRejected) : Effect.void,
    authenticate: (request, names) => {
      const candidates = names === undefined ? backends : backends.filter((backend) => names.includes(backend.name))
      const unsafe = isUnsafe(request.method)
      const step = (index: number, refused: boolean): Effect.Effect<Option.Option<User>, CsrfRejected> => {
        const backend = candidates[index]
        if (backend === undefined) return refused ? Effect.fail(csrfRejected) : Effect.succeedNone
        const token = backend.transport.read(request)
        if (Option.isNone(token)) return step(index + 1, refused)
        if (unsafe && backend.transport.crossSite(request)) return step(index + 1, true)
        return Effect.flatMap(backend.strategy.read(token.value), (user) => {
          if (Option.isNone(user)) return step(index + 1, refused)
          sessions.set(request, { backend, token: token.value })
          return Effect.succeed(user as Option.Option<User>)
        })
      }
      return step(0, false)
    }
  }
}

/**
 * The response of a login or a refresh on this backend: a bearer pair (`access_token`, `token_type`,
 * `refresh_token`) when it issued a refresh token, else the transport's own login response; with the login's
 * device token (cookie and header) when it has one.
 *
 * @since 0.2.0
 */
export const loginResponse =
  (backend: RunningBackend) =>
  (tokens: Login.Tokens): HttpServerResponse.HttpServerResponse => {
    const response = Option.match(tokens.refreshToken, {
      onNone: () => backend.transport.loginResponse(tokens.accessToken),
      onSome: (refreshToken) =>
        HttpServerResponse.unsafeJson(
          { access_token: tokens.accessToken, token_type: "bearer", refresh_token: refreshToken },
          { status: 200, headers: noStore }
        )
    })
    return tokens.device === undefined || backend.device === undefined
      ? response
      : backend.device.write(response, tokens.device)
  }

/**
 * The running backends, their strategies built (and their refresh tokens, for backends that have them on).
 *
 * @since 0.2.0
 */
export function layer<Backends extends ReadonlyArray<AuthBackend.Any>>(
  backends: Backends,
  options?: { readonly device?: DeviceTransport | undefined }
): Layer.Layer<Authenticator, ConfigError.ConfigError, Sessions | AuthBackend.Context<Backends[number]>>
// Each strategy's requirement is its backend's `R`, which the signature above collects.
export function layer(
  backends: ReadonlyArray<AuthBackend.Any>,
  options: { readonly device?: DeviceTransport | undefined } = {}
): Layer.Layer<Authenticator, ConfigError.ConfigError, unknown> {
  return Layer.scoped(
    Authenticator,
    Effect.map(
      Effect.forEach(backends, (backend) =>
        Effect.gen(function* () {
          const strategy = yield* backend.strategy
          const running: RunningBackend = {
            name: backend.name,
            transport: backend.transport,
            strategy,
            device: options.device
          }
          if (backend.refresh === undefined) return running
          const family = RefreshTokens.familyStrategy(strategy)
          if (Option.isNone(family)) {
            return yield* Effect.dieMessage(
              `Backend ${backend.name}: refresh tokens need a strategy whose access tokens name their family ` +
                "(AuthStrategy.jwt, AuthStrategy.database)"
            )
          }
          const refresh = yield* RefreshTokens.make({ name: backend.name, strategy: family.value }, backend.refresh)
          return { ...running, strategy: RefreshTokens.withRefresh(family.value, refresh), refresh }
        })
      ),
      makeAuthenticator
    )
  )
}

/**
 * The `Login` over the running backends.
 *
 * @since 0.2.0
 */
export const layerLogin = (options: {
  readonly requiresVerification: boolean
}): Layer.Layer<Login.Login, never, Authenticator | UserManager | Sessions> =>
  Layer.effect(
    Login.Login,
    Effect.flatMap(Authenticator, (authenticator) =>
      Login.make({ backends: authenticator.backends, requiresVerification: options.requiresVerification })
    )
  )

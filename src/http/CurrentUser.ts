/**
 * Who is calling: the services the authentication middlewares provide to handlers, and the runtime that
 * resolves a request to a user through the login backends (first backend that yields a user wins).
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AuthStrategy } from "../AuthStrategy.js"
import type { RefreshTokensService } from "../RefreshTokens.js"
import type { User } from "../User.js"
import type { Transport } from "./AuthBackend.js"

/**
 * The authenticated user, provided by an authentication middleware.
 *
 * @since 0.1.0
 */
export class CurrentUser extends Context.Tag("effect-users/CurrentUser")<CurrentUser, User>() {}

/**
 * The authenticated user if there is one, provided by an `optional` authentication middleware.
 *
 * @since 0.1.0
 */
export class OptionalUser extends Context.Tag("effect-users/OptionalUser")<OptionalUser, Option.Option<User>>() {}

/**
 * What a route asks of its caller; FastAPI Users' `current_user(...)` options.
 *
 * @since 0.1.0
 */
export interface Requirement {
  /** Yield no user instead of failing. */
  readonly optional?: boolean | undefined
  /** The user must be active (else 401). */
  readonly active?: boolean | undefined
  /** The user must be verified (else 403). */
  readonly verified?: boolean | undefined
  /** The user must be a superuser (else 403). */
  readonly superuser?: boolean | undefined
}

/**
 * A backend with its strategy built.
 *
 * @since 0.2.0
 */
export interface RunningBackend {
  readonly name: string
  readonly transport: Transport
  readonly strategy: AuthStrategy
  /** The backend's refresh tokens, when it has them on. */
  readonly refresh?: RefreshTokensService | undefined
}

/**
 * The backend and token that authenticated a request.
 *
 * @since 0.2.0
 */
export interface RequestSession {
  readonly backend: RunningBackend
  readonly token: string
}

/**
 * The login backends in use, in order.
 *
 * @since 0.1.0
 */
export interface AuthenticatorService {
  readonly backends: ReadonlyArray<RunningBackend>
  readonly backend: (name: string) => RunningBackend
  /** The user of the first backend (among `names`, default all) whose token maps to a user. */
  readonly authenticate: (
    request: HttpServerRequest.HttpServerRequest,
    names?: ReadonlyArray<string>
  ) => Effect.Effect<Option.Option<User>>
  /** The backend and token that authenticated this request, once `authenticate` found its user. */
  readonly sessionOf: (request: HttpServerRequest.HttpServerRequest) => Option.Option<RequestSession>
}

/**
 * The login backends in use.
 *
 * @since 0.1.0
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
    authenticate: (request, names) => {
      const candidates = names === undefined ? backends : backends.filter((backend) => names.includes(backend.name))
      const step = (index: number): Effect.Effect<Option.Option<User>> => {
        const backend = candidates[index]
        if (backend === undefined) return Effect.succeedNone
        const token = backend.transport.read(request)
        if (Option.isNone(token)) return step(index + 1)
        return Effect.flatMap(backend.strategy.read(token.value), (user) => {
          if (Option.isNone(user)) return step(index + 1)
          sessions.set(request, { backend, token: token.value })
          return Effect.succeed(user as Option.Option<User>)
        })
      }
      return step(0)
    }
  }
}

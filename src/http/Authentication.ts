/**
 * Authentication middlewares: `HttpApiMiddleware` tags the caller names, each carrying its requirement
 * (FastAPI Users' `current_user(...)` options) and the backends it tries, and `layer(tag)`, which implements
 * one from the running `Authenticator` with nothing to look up.
 */
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import type * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { User } from "../User.js"
import { Authenticator } from "./Authenticator.js"
import { CurrentUser, OptionalUser, type Requirement } from "./CurrentUser.js"
import { CsrfRejected, Forbidden, Unauthorized } from "./HttpErrors.js"

/**
 * The security schemes of a set of backends, by backend name.
 *
 * @since 0.1.0
 */
export type Security = Record<string, HttpApiSecurity.HttpApiSecurity>

/**
 * 401 or 403: how a required authentication fails (403 `CSRF_REJECTED`: a cross-site request's cookie).
 *
 * @since 0.1.0
 */
export const AuthFailure = Schema.Union(Unauthorized, Forbidden, CsrfRejected)

/**
 * What an authentication tag carries besides its schemes: its requirement and the backends it tries.
 *
 * @since 0.1.0
 */
export interface Settings {
  readonly requirement: Requirement
  /** The backends tried, by name; undefined tries all, in order. */
  readonly backends: ReadonlyArray<string> | undefined
}

/**
 * The options of a required authentication's middleware tag.
 *
 * @since 0.1.0
 */
export interface RequiredOptions<S extends Security> {
  readonly failure: typeof AuthFailure
  readonly provides: typeof CurrentUser
  readonly security: S
}

/**
 * The options of an optional authentication's middleware tag: it never fails.
 *
 * @since 0.1.0
 */
export interface OptionalOptions<S extends Security> {
  readonly provides: typeof OptionalUser
  readonly security: S
}

/**
 * A required authentication tag: fails with 401/403, else provides `CurrentUser`.
 *
 * @since 0.1.0
 */
export type AuthenticationTag<Self, Id extends string, S extends Security> = HttpApiMiddleware.TagClass<
  Self,
  Id,
  RequiredOptions<S>
> &
  Settings

/**
 * An optional authentication tag: provides `OptionalUser`, never fails.
 *
 * @since 0.1.0
 */
export type OptionalAuthenticationTag<Self, Id extends string, S extends Security> = HttpApiMiddleware.TagClass<
  Self,
  Id,
  OptionalOptions<S>
> &
  Settings

/**
 * The base class of required authentication tags over these schemes:
 * `class Verified extends Authentication(security)<Verified>()("App/Verified", { active: true, verified: true }) {}`.
 * `UsersApi.make(...).Authentication` is this, bound to the app's backends.
 *
 * @since 0.1.0
 */
export const Authentication =
  <S extends Security>(security: S, backends?: ReadonlyArray<string>) =>
  <Self>() =>
  <const Id extends string>(id: Id, requirement: Omit<Requirement, "optional"> = {}): AuthenticationTag<Self, Id, S> =>
    Object.assign(HttpApiMiddleware.Tag<Self>()(id, { failure: AuthFailure, provides: CurrentUser, security }), {
      requirement: { ...requirement, optional: false },
      backends
    } satisfies Settings)

/**
 * Like `Authentication`, for tags that provide `OptionalUser` (none when the caller fails the requirement).
 *
 * @since 0.1.0
 */
export const OptionalAuthentication =
  <S extends Security>(security: S) =>
  <Self>() =>
  <const Id extends string>(
    id: Id,
    requirement: Omit<Requirement, "optional"> = {}
  ): OptionalAuthenticationTag<Self, Id, S> =>
    Object.assign(HttpApiMiddleware.Tag<Self>()(id, { provides: OptionalUser, security }), {
      requirement: { ...requirement, optional: true },
      backends: undefined
    } satisfies Settings)

const unauthorized: Unauthorized = { detail: "Unauthorized" }
const forbidden: Forbidden = { detail: "Forbidden" }

/**
 * The user if they meet the requirement, else the 401 or 403 to answer.
 *
 * @since 0.1.0
 */
export const check = (
  requirement: Requirement,
  found: Option.Option<User>
): Either.Either<User, Unauthorized | Forbidden> => {
  if (Option.isNone(found)) return Either.left(unauthorized)
  const user = found.value
  if (requirement.active && !user.isActive) return Either.left(unauthorized)
  if (requirement.verified && !user.isVerified) return Either.left(forbidden)
  if (requirement.superuser && !user.isSuperuser) return Either.left(forbidden)
  return Either.right(user)
}

type Failure = typeof AuthFailure.Type

type SchemeHandler = () => Effect.Effect<unknown, Failure, HttpServerRequest.HttpServerRequest>

/**
 * Implements an authentication tag from the running `Authenticator`. HttpApi calls the handler of each
 * security scheme in turn until one succeeds; the first already tried every backend, so the others repeat
 * its failure instead of querying again. The first records its failure where it decides it, so the success
 * path (every authenticated request) carries no bookkeeping. An optional tag treats a refused cross-site cookie
 * as no user.
 *
 * @since 0.1.0
 */
export const layer = <Self, Service>(
  tag: Context.Tag<Self, Service> & Settings & { readonly security: Security }
): Layer.Layer<Self, never, Authenticator> =>
  Layer.effect(
    tag,
    Effect.map(Authenticator, (authenticator) => {
      const { backends, requirement } = tag
      const failures = new WeakMap<object, Failure>()
      const resolve = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.matchEffect(authenticator.authenticate(request, backends), {
          onFailure: (refused): Effect.Effect<unknown, Failure> => {
            if (requirement.optional) return Effect.succeedNone
            failures.set(request, refused)
            return Effect.fail(refused)
          },
          onSuccess: (found): Effect.Effect<unknown, Failure> => {
            const verdict = check(requirement, found)
            if (requirement.optional) return Effect.succeed(Either.getRight(verdict))
            if (Either.isLeft(verdict)) failures.set(request, verdict.left)
            return verdict
          }
        })
      const first: SchemeHandler = () => Effect.flatMap(HttpServerRequest.HttpServerRequest, resolve)
      const again: SchemeHandler = () =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const failure = failures.get(request)
          return failure === undefined ? resolve(request) : Effect.fail(failure)
        })
      const handlers: Record<string, SchemeHandler> = {}
      Object.keys(tag.security).forEach((key, index) => {
        handlers[key] = index === 0 ? first : again
      })
      // One handler per scheme of the tag, which is the shape HttpApiMiddleware's security service has.
      return handlers as Service
    })
  )

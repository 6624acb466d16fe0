/**
 * Who is calling: the services the authentication middlewares provide to handlers (`Authenticator` resolves a
 * request to its user).
 */
import * as Context from "effect/Context"
import type * as Option from "effect/Option"
import type { User } from "../User.js"

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

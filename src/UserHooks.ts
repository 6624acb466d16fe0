/**
 * Lifecycle hooks: what the app does when users register, verify, reset passwords, log in, change or go.
 *
 * Every hook is a no-op until a layer overrides it; `UserHooks.layer({ onAfterRegister })` overrides one
 * and keeps the others. `request` is the HTTP request that triggered the operation, when there was one.
 *
 * Failure policy: an `onAfter*` hook runs once the change is stored, so its failure cannot undo it. The
 * manager logs the failure (hook name and user ID) and the operation still succeeds. `onBeforeDelete`
 * runs before anything changes: its failure aborts the deletion with `UserDeleteAborted`.
 *
 * Hooks that call the manager (FastAPI Users' `on_after_register` calling `request_verify`) come from
 * `UserManager.layerHooks((users) => hooks)`: the manager is built first, then hands itself to them.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type { BaseUser, OAuthLink, User } from "./User.js"

/**
 * The HTTP request behind an operation, if any.
 *
 * @since 0.1.0
 */
export type HookRequest = Option.Option<HttpServerRequest.HttpServerRequest>

/**
 * What an update changed: the stored fields given in the patch, and whether the password changed.
 *
 * @since 0.1.0
 */
export type UserChanges<U extends BaseUser = User> = Partial<Omit<U, "id" | "hashedPassword">> & {
  readonly passwordChanged?: true
}

/**
 * Why OAuth links ended: the user unlinked one (`unlinked`), or the owner of the user's address proved it (a
 * verification, or a password reset while the address was unverified) and every link made before that proof ended
 * (`emailProven`): whoever linked them had not shown they own the address.
 *
 * @since 0.2.0
 */
export type OAuthUnlinkReason = "unlinked" | "emailProven"

/**
 * The hooks, each returning an effect the manager runs at the documented point.
 *
 * @since 0.1.0
 */
export interface UserHooksService<U extends BaseUser = User> {
  /** A user registered (or was created). */
  readonly onAfterRegister: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
  /** A user was updated; `changes` holds the fields that changed. */
  readonly onAfterUpdate: (user: U, changes: UserChanges<U>, request: HookRequest) => Effect.Effect<void, unknown>
  /** A user logged in; `response` is the login's response when there is one (to add a header or cookie). */
  readonly onAfterLogin: (
    user: U,
    request: HookRequest,
    response: Option.Option<HttpServerResponse.HttpServerResponse>
  ) => Effect.Effect<void, unknown>
  /** A verification token was issued: mail it to the user. */
  readonly onAfterRequestVerify: (user: U, token: string, request: HookRequest) => Effect.Effect<void, unknown>
  /** A user verified their e-mail. */
  readonly onAfterVerify: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
  /** A reset-password token was issued: mail it to the user. */
  readonly onAfterForgotPassword: (user: U, token: string, request: HookRequest) => Effect.Effect<void, unknown>
  /** A user reset their password. */
  readonly onAfterResetPassword: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
  /** A user is about to be deleted; a failure stops the deletion. */
  readonly onBeforeDelete: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
  /** A user was deleted. */
  readonly onAfterDelete: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
  /** An OAuth account was linked to an existing user (association, or a login linked by e-mail): mail the owner. */
  readonly onAfterOAuthLink: (user: U, link: OAuthLink, request: HookRequest) => Effect.Effect<void, unknown>
  /** OAuth accounts were unlinked from the user, and why: mail the owner. */
  readonly onAfterOAuthUnlink: (
    user: U,
    links: ReadonlyArray<OAuthLink>,
    reason: OAuthUnlinkReason,
    request: HookRequest
  ) => Effect.Effect<void, unknown>
}

/**
 * Hooks that do nothing; they fit every user model.
 *
 * @since 0.1.0
 */
export const noHooks: UserHooksService<BaseUser> = {
  onAfterRegister: () => Effect.void,
  onAfterUpdate: () => Effect.void,
  onAfterLogin: () => Effect.void,
  onAfterRequestVerify: () => Effect.void,
  onAfterVerify: () => Effect.void,
  onAfterForgotPassword: () => Effect.void,
  onAfterResetPassword: () => Effect.void,
  onBeforeDelete: () => Effect.void,
  onAfterDelete: () => Effect.void,
  onAfterOAuthLink: () => Effect.void,
  onAfterOAuthUnlink: () => Effect.void
}

/**
 * The name of every hook, in the order the operations run them.
 *
 * @since 0.1.0
 */
export const hookNames: ReadonlyArray<keyof UserHooksService> = [
  "onAfterRegister",
  "onAfterUpdate",
  "onAfterLogin",
  "onAfterRequestVerify",
  "onAfterVerify",
  "onAfterForgotPassword",
  "onAfterResetPassword",
  "onBeforeDelete",
  "onAfterDelete",
  "onAfterOAuthLink",
  "onAfterOAuthUnlink"
]

/**
 * The hooks in use; no-ops unless a layer provides some. Typed for the default model; it holds the hooks of
 * whichever model the app has, and the manager of that model runs them typed by its users.
 *
 * @since 0.1.0
 */
export class UserHooks extends Context.Reference<UserHooks>()("effect-users/UserHooks", {
  defaultValue: (): UserHooksService => noHooks
}) {}

/** The hooks of a model as the tag holds them. */
const held = <U extends BaseUser>(hooks: UserHooksService<U>) => hooks as unknown as UserHooksService

/**
 * Overrides the given hooks; the others stay no-ops.
 *
 * @since 0.1.0
 */
export const layer = <U extends BaseUser = User>(hooks: Partial<UserHooksService<U>>): Layer.Layer<UserHooks> =>
  Layer.succeed(UserHooks, held<U>({ ...noHooks, ...hooks }))

/**
 * Like `layer`, for hooks that need services: `make` runs once, when the layer is built.
 *
 * @since 0.1.0
 */
export const layerEffect = <U extends BaseUser = User, E = never, R = never>(
  make: Effect.Effect<Partial<UserHooksService<U>>, E, R>
): Layer.Layer<UserHooks, E, R> =>
  Layer.effect(
    UserHooks,
    Effect.map(make, (hooks) => held<U>({ ...noHooks, ...hooks }))
  )

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
 * `UserHooks.layerFromManager((users) => hooks)`: the manager is built first, then hands itself to them.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { BaseUser, User } from "./User.js"
import type { UserManagerService } from "./UserManager.js"

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
 * The hooks, each returning an effect the manager runs at the documented point.
 *
 * @since 0.1.0
 */
export interface UserHooksService<U extends BaseUser = User> {
  readonly onAfterRegister: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
  readonly onAfterUpdate: (user: U, changes: UserChanges<U>, request: HookRequest) => Effect.Effect<void, unknown>
  readonly onAfterLogin: (
    user: U,
    request: HookRequest,
    response: Option.Option<HttpServerResponse.HttpServerResponse>
  ) => Effect.Effect<void, unknown>
  readonly onAfterRequestVerify: (user: U, token: string, request: HookRequest) => Effect.Effect<void, unknown>
  readonly onAfterVerify: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
  readonly onAfterForgotPassword: (user: U, token: string, request: HookRequest) => Effect.Effect<void, unknown>
  readonly onAfterResetPassword: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
  readonly onBeforeDelete: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
  readonly onAfterDelete: (user: U, request: HookRequest) => Effect.Effect<void, unknown>
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
  onAfterDelete: () => Effect.void
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
  "onAfterDelete"
]

/**
 * The manager running a hook: `UserManager` provides itself to every hook effect it runs, so that hooks
 * built by `layerFromManager` reach it without the layers depending on each other. It is the manager of
 * whichever user model the app has; the hooks of that model read it typed by theirs.
 *
 * @since 0.2.0
 */
export class HookManager extends Context.Tag("effect-users/UserHooks/HookManager")<HookManager, unknown>() {}

type AnyHook = (...args: ReadonlyArray<unknown>) => Effect.Effect<void, unknown>

const withManager = <U extends BaseUser>(
  make: (users: UserManagerService<U>) => Partial<UserHooksService<U>>
): UserHooksService<U> => {
  // Built once per manager, on its first hook call.
  const built = new WeakMap<object, Partial<UserHooksService<U>>>()
  const hooksOf = (users: UserManagerService<U>) => {
    let hooks = built.get(users)
    if (hooks === undefined) {
      hooks = make(users)
      built.set(users, hooks)
    }
    return hooks
  }
  const delegate =
    (name: keyof UserHooksService): AnyHook =>
    (...args) =>
      Effect.flatMap(Effect.serviceOption(HookManager), (users) => {
        if (Option.isNone(users)) return Effect.dieMessage(`UserHooks.${name} ran outside a UserManager`)
        const hook = hooksOf(users.value as UserManagerService<U>)[name] as AnyHook | undefined
        return hook === undefined ? Effect.void : hook(...args)
      })
  return Object.fromEntries(hookNames.map((name) => [name, delegate(name)])) as unknown as UserHooksService<U>
}

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

/**
 * Hooks that use the manager running them, e.g. to send the verification e-mail on registration:
 * `UserHooks.layerFromManager((users) => ({ onAfterRegister: (user) => users.requestVerify(user) }))`.
 * `make` runs once per manager, on its first hook call; the hooks it leaves out stay no-ops.
 *
 * @since 0.2.0
 */
export const layerFromManager = <U extends BaseUser = User>(
  make: (users: UserManagerService<U>) => Partial<UserHooksService<U>>
): Layer.Layer<UserHooks> => Layer.succeed(UserHooks, held(withManager(make)))

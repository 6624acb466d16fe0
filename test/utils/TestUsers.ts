import { createHash } from "node:crypto"
import { Effect, Layer, Redacted } from "effect"
import {
  PasswordHasher,
  Sessions,
  type User,
  UserHooks,
  UserManager,
  UserManagerConfig,
  UserRepository
} from "effect-users"

export const verifySecret = Redacted.make("verify-secret-verify-secret-verify-secret")
export const resetSecret = Redacted.make("reset-secret-reset-secret-reset-secret-reset")

export const testConfig = (options: Partial<UserManagerConfig.UserManagerOptions> = {}) =>
  UserManagerConfig.layer({ verificationTokenSecret: verifySecret, resetPasswordTokenSecret: resetSecret, ...options })

/** A fast, deterministic hasher for manager tests; it counts how often it hashes and verifies. */
export const makeFakeHasher = () => {
  const counts = { hash: 0, verify: 0 }
  const digest = (password: Redacted.Redacted<string>) =>
    `fake$${createHash("sha256").update(Redacted.value(password)).digest("hex")}`
  const service: PasswordHasher.PasswordHasherService = {
    hash: (password) =>
      Effect.sync(() => {
        counts.hash++
        return digest(password)
      }),
    verify: (password, hash) =>
      Effect.sync(() => {
        counts.verify++
        return digest(password) === hash
      }),
    needsRehash: (hash) => !hash.startsWith("fake$")
  }
  return { counts, service, digest }
}

export type HookCall = { readonly hook: keyof UserHooks.UserHooksService; readonly args: ReadonlyArray<unknown> }

/** What a recorder holds: the calls, in order, and those of one hook. */
export interface HookRecorder {
  readonly calls: ReadonlyArray<HookCall>
  readonly named: (hook: keyof UserHooks.UserHooksService) => ReadonlyArray<HookCall>
}

const makeRecorder = (calls: Array<HookCall>): HookRecorder => ({
  calls,
  named: (hook) => calls.filter((c) => c.hook === hook)
})

// biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
type AnyHooks = UserHooks.UserHooksService<any>

/**
 * Hooks that record every call, with some overridden. `recorder()` starts a recorder of its own that sees
 * only the calls made after it was started: a test sharing a server with others reads its own calls.
 */
export const recordingHooks = (overrides: Partial<AnyHooks> = {}) => {
  const calls: Array<HookCall> = []
  const recorders: Array<Array<HookCall>> = [calls]
  const record =
    (hook: keyof UserHooks.UserHooksService) =>
    (...args: ReadonlyArray<unknown>) =>
      Effect.suspend(() => {
        for (const recorded of recorders) recorded.push({ hook, args })
        const override = overrides[hook] as
          | ((...args: ReadonlyArray<unknown>) => Effect.Effect<void, unknown>)
          | undefined
        return override ? override(...args) : Effect.void
      })
  const hooks = Object.fromEntries(UserHooks.hookNames.map((name) => [name, record(name)])) as unknown as AnyHooks
  return {
    ...makeRecorder(calls),
    layer: UserHooks.layer(hooks),
    recorder: (): HookRecorder => {
      const own: Array<HookCall> = []
      recorders.push(own)
      return makeRecorder(own)
    }
  }
}

export interface Harness {
  // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
  readonly users: UserManager.UserManagerService<any>
  readonly sessions: Sessions.SessionsService
  readonly hasher: ReturnType<typeof makeFakeHasher>
  readonly hooks: ReturnType<typeof recordingHooks>
}

/**
 * Builds a manager over the `UserRepository` in context with a fake hasher and recording hooks;
 * `extra` layers (validator, config, ID parser, …) override the defaults.
 */
export const harness = (
  // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
  options: { readonly hooks?: Partial<UserHooks.UserHooksService<any>>; readonly extra?: Layer.Layer<never, any> } = {}
): Effect.Effect<Harness, never, UserRepository.UserRepository> =>
  Effect.gen(function* () {
    const repository = yield* UserRepository.UserRepository
    const hasher = makeFakeHasher()
    const hooks = recordingHooks(options.hooks)
    const layer = UserManager.layer.pipe(
      Layer.provide(Layer.mergeAll(testConfig(), options.extra ?? Layer.empty)),
      Layer.provide(Layer.succeed(UserRepository.UserRepository, repository)),
      Layer.provide(Layer.mergeAll(PasswordHasher.layer(hasher.service), hooks.layer)),
      Layer.orDie
    )
    const [users, sessions] = yield* Effect.provide(Effect.all([UserManager.UserManager, Sessions.Sessions]), layer)
    return { users, sessions, hasher, hooks }
  })

let counter = 0
/** A fresh e-mail address, so that tests sharing a database never collide. */
export const freshEmail = (name = "user") => `${name}.${Date.now().toString(36)}${(counter++).toString(36)}@camelot.bt`

export const password = (value: string) => Redacted.make(value)

// biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
export type AnyUser = User.BaseUser<any>

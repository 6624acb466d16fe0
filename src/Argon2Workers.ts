/**
 * Argon2id on a pool of low-priority worker threads: the same hashes as `makeArgon2`, but the hashing
 * threads are niced, so under a login flood the OS still schedules the event loop first and cheap requests
 * (a token check, one indexed query) keep their latency. libuv's own pool cannot be niced from JavaScript;
 * on Linux `os.setPriority` called inside a worker applies to that thread only.
 */

import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Pool from "./internal/argon2Workers.js"
import { unwrap } from "./internal/config.js"
import { PasswordHasher } from "./PasswordHasher.js"

/**
 * Options of the worker pool: argon2 parameters, the number of threads, their niceness, how long idle threads
 * live (`idleTimeout`) and the queue bound.
 *
 * @since 0.1.0
 */
export interface Argon2WorkersOptions extends Pool.Options {}

/**
 * The worker-pool hasher, with its live thread count (threads that started and have not exited yet).
 *
 * @since 0.1.0
 */
export interface Argon2WorkersService extends Pool.Service {}

/**
 * The worker-pool hasher in a scope: closing it terminates every thread, and jobs still queued or running
 * die with `ServiceUnavailable`.
 *
 * @since 0.2.0
 */
export const make = (options: Argon2WorkersOptions = {}): Effect.Effect<Argon2WorkersService, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => Pool.makePool(options)),
      (pool) => pool.shutdown
    ),
    (pool) => pool.service
  )

/**
 * Builds the worker-pool hasher without a scope, for scripts: its threads are unref'ed (they never keep the
 * process alive) and live until the process ends. In a server prefer `layer`.
 *
 * @since 0.2.0
 */
export const makeUnscoped = (options: Argon2WorkersOptions = {}): Argon2WorkersService => Pool.makePool(options).service

/**
 * `PasswordHasher` on the worker pool, whose threads end with the layer.
 *
 * @since 0.2.0
 */
export const layer = (options: Argon2WorkersOptions = {}): Layer.Layer<PasswordHasher> =>
  Layer.scoped(PasswordHasher, make(options))

/**
 * `layer` with its options read through `Config`.
 *
 * @since 0.2.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Argon2WorkersOptions>
): Layer.Layer<PasswordHasher, ConfigError.ConfigError> =>
  Layer.scoped(PasswordHasher, Effect.flatMap(unwrap(config), make))

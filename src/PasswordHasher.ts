/**
 * Password hashing. The default is argon2id at OWASP's minimum row (m=19456 KiB, t=2, p=1) in PHC
 * strings, run on libuv's thread pool with a bounded number of hashes in flight. It also verifies the
 * hashes FastAPI Users stores (argon2 with other parameters, bcrypt) and reports them as outdated so
 * that the manager re-hashes them on the next successful login.
 */

import { availableParallelism } from "node:os"
import * as argon2 from "@node-rs/argon2"
import * as bcrypt from "@node-rs/bcrypt"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { queueWait } from "./internal/hashQueue.js"
import { ServiceUnavailable } from "./UserError.js"

/**
 * Hashes and verifies passwords. Plain passwords only ever travel as `Redacted`.
 *
 * @since 0.1.0
 */
export interface PasswordHasherService {
  /** Hashes a password with the current parameters. */
  readonly hash: (password: Redacted.Redacted<string>) => Effect.Effect<string>
  /** Whether the password matches the stored hash; an unreadable hash never matches. */
  readonly verify: (password: Redacted.Redacted<string>, hash: string) => Effect.Effect<boolean>
  /** Whether a stored hash should be replaced by one made with the current algorithm and parameters. */
  readonly needsRehash: (hash: string) => boolean
}

/**
 * Argon2id parameters, how many hashes may run at once and how many may wait.
 *
 * @since 0.1.0
 */
export interface Argon2Options {
  /** KiB of memory per hash (default 19456). */
  readonly memoryCost?: number | undefined
  /** Passes (default 2). */
  readonly timeCost?: number | undefined
  /** Lanes (default 1). */
  readonly parallelism?: number | undefined
  /**
   * Hashes in flight at once (default: the number of cores). Bounds memory to concurrency × memoryCost
   * and leaves libuv's pool room for the cheap work (file I/O, WebCrypto) that shares it.
   */
  readonly concurrency?: number | undefined
  /** Hashes and verifies waiting for their turn (default `defaultQueuePerCore` × concurrency); see `withConcurrencyLimit`. */
  readonly queue?: number | undefined
}

/**
 * A hasher that bounds its work, and what it holds right now.
 *
 * @since 0.1.0
 */
export interface BoundedHasherService extends PasswordHasherService {
  /** Hashes running and waiting at this moment. */
  readonly load: () => { readonly running: number; readonly waiting: number }
}

/**
 * Default waiting hashes per hash in flight. At 25–50 ms per hash, the last of 32 waits about 0.8–1.6 s:
 * past that a client is better told "503, retry after 1 s" than kept waiting into its own timeout, and a
 * flood no longer stretches every login's latency. A waiting entry is a suspended fiber (no argon2 memory).
 *
 * @since 0.1.0
 */
export const defaultQueuePerCore = 32

/**
 * The defect of a hasher whose queue is full: the HTTP edge answers 503 with `Retry-After: 1`.
 *
 * @since 0.1.0
 */
export const queueFull = (): ServiceUnavailable =>
  new ServiceUnavailable({ reason: "PasswordHasher: the hash queue is full", retryAfter: 1 })

const ARGON2ID = 2 // @node-rs/argon2's Algorithm.Argon2id: a const enum that isolatedModules cannot import
const bcryptPrefix = /^\$2[abxy]\$/

// Neither library puts the password in its errors, but a hash failure is an infrastructure fault: a defect
// with a fixed message, so nothing of the input can reach a log.
const hashingFault = (operation: string) => () => new Error(`PasswordHasher: ${operation} failed`)

/**
 * Lets at most `concurrency` hashes and verifies of a hasher run at once and at most `queue` wait their
 * turn; beyond that, `hash` and `verify` die at once with `ServiceUnavailable` (load shedding: the manager's
 * signatures stay as they are, the HTTP edge answers 503). A waiter that is interrupted leaves the queue.
 *
 * @since 0.1.0
 */
export const withConcurrencyLimit = (
  hasher: PasswordHasherService,
  concurrency: number,
  queue: number = defaultQueuePerCore * concurrency
): BoundedHasherService => {
  const semaphore = Effect.unsafeMakeSemaphore(concurrency)
  let admitted = 0
  let running = 0
  const counted = <A>(effect: Effect.Effect<A>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => running++),
      () => effect,
      () => Effect.sync(() => running--)
    )
  // The counter moves only where interruption cannot split it from its release.
  const permit = <A>(effect: Effect.Effect<A>): Effect.Effect<A> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        if (admitted >= concurrency + queue) return Effect.die(queueFull())
        admitted++
        const wait = queueWait()
        return restore(semaphore.withPermits(1)(Effect.zipRight(Effect.sync(wait.started), counted(effect)))).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              admitted--
              wait.left()
            })
          )
        )
      })
    )
  return {
    hash: (password) => permit(hasher.hash(password)),
    verify: (password, hash) => permit(hasher.verify(password, hash)),
    needsRehash: hasher.needsRehash,
    load: () => ({ running, waiting: admitted - running })
  }
}

/**
 * Builds the argon2id hasher (which also verifies bcrypt) with the given parameters.
 *
 * @since 0.1.0
 */
export const makeArgon2 = (options: Argon2Options = {}): BoundedHasherService => {
  const params = {
    algorithm: ARGON2ID,
    memoryCost: options.memoryCost ?? 19456,
    timeCost: options.timeCost ?? 2,
    parallelism: options.parallelism ?? 1
  } as argon2.Options
  const current = `$argon2id$v=19$m=${params.memoryCost},t=${params.timeCost},p=${params.parallelism}$`

  // A started hash runs to the end on libuv's pool whatever happens to the fiber, so it holds its permit until
  // then (uninterruptible): interrupted logins cannot pile up hashes beyond the bound. (An AbortSignal would
  // not stop a running hash either, and costs @node-rs/argon2 a slower path.)
  const run = <A>(operation: string, task: () => Promise<A>) =>
    Effect.uninterruptible(Effect.tryPromise({ try: task, catch: hashingFault(operation) }))

  const hash = (password: Redacted.Redacted<string>) =>
    run("hash", () => argon2.hash(Redacted.value(password), params)).pipe(
      Effect.orDie,
      Effect.withSpan("PasswordHasher.hash")
    )

  const verify = (password: Redacted.Redacted<string>, stored: string) => {
    const check = stored.startsWith("$argon2")
      ? () => argon2.verify(stored, Redacted.value(password))
      : bcryptPrefix.test(stored)
        ? () => bcrypt.verify(Redacted.value(password), stored)
        : undefined
    if (check === undefined) return Effect.succeed(false)
    return run("verify", check).pipe(
      // A malformed stored hash is a mismatch, not an outage.
      Effect.orElseSucceed(() => false),
      Effect.withSpan("PasswordHasher.verify")
    )
  }

  const concurrency = options.concurrency ?? availableParallelism()
  return withConcurrencyLimit(
    { hash, verify, needsRehash: (stored) => !stored.startsWith(current) },
    concurrency,
    options.queue ?? defaultQueuePerCore * concurrency
  )
}

/**
 * The password hasher in use; argon2id with OWASP's minimum parameters unless a layer provides another.
 *
 * @since 0.1.0
 */
export class PasswordHasher extends Context.Reference<PasswordHasher>()("effect-users/PasswordHasher", {
  defaultValue: (): PasswordHasherService => makeArgon2()
}) {}

/**
 * Argon2id with other parameters or another concurrency bound.
 *
 * @since 0.1.0
 */
export const layerArgon2 = (options: Argon2Options = {}): Layer.Layer<PasswordHasher> =>
  Layer.sync(PasswordHasher, () => makeArgon2(options))

/**
 * Any other hasher.
 *
 * @since 0.1.0
 */
export const layer = (service: PasswordHasherService): Layer.Layer<PasswordHasher> =>
  Layer.succeed(PasswordHasher, service)

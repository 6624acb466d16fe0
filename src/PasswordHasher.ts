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

/** Hashes and verifies passwords. Plain passwords only ever travel as `Redacted`. */
export interface PasswordHasherService {
  /** Hashes a password with the current parameters. */
  readonly hash: (password: Redacted.Redacted<string>) => Effect.Effect<string>
  /** Whether the password matches the stored hash; an unreadable hash never matches. */
  readonly verify: (password: Redacted.Redacted<string>, hash: string) => Effect.Effect<boolean>
  /** Whether a stored hash should be replaced by one made with the current algorithm and parameters. */
  readonly needsRehash: (hash: string) => boolean
}

/** Argon2id parameters and how many hashes may run at once. */
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
}

const ARGON2ID = 2 // @node-rs/argon2's Algorithm.Argon2id: a const enum that isolatedModules cannot import
const bcryptPrefix = /^\$2[abxy]\$/

// Neither library puts the password in its errors, but a hash failure is an infrastructure fault: a defect
// with a fixed message, so nothing of the input can reach a log.
const hashingFault = (operation: string) => () => new Error(`PasswordHasher: ${operation} failed`)

/** Lets at most `concurrency` hashes and verifies of a hasher run at once; the others wait their turn. */
export const withConcurrencyLimit = (hasher: PasswordHasherService, concurrency: number): PasswordHasherService => {
  const permit = Effect.unsafeMakeSemaphore(concurrency).withPermits(1)
  return {
    hash: (password) => permit(hasher.hash(password)),
    verify: (password, hash) => permit(hasher.verify(password, hash)),
    needsRehash: hasher.needsRehash
  }
}

/** Builds the argon2id hasher (which also verifies bcrypt) with the given parameters. */
export const makeArgon2 = (options: Argon2Options = {}): PasswordHasherService => {
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

  return withConcurrencyLimit(
    { hash, verify, needsRehash: (stored) => !stored.startsWith(current) },
    options.concurrency ?? availableParallelism()
  )
}

/** The password hasher in use; argon2id with OWASP's minimum parameters unless a layer provides another. */
export class PasswordHasher extends Context.Reference<PasswordHasher>()("effect-users/PasswordHasher", {
  defaultValue: (): PasswordHasherService => makeArgon2()
}) {
  /** Argon2id with other parameters or another concurrency bound. */
  static readonly argon2 = (options: Argon2Options = {}): Layer.Layer<PasswordHasher> =>
    Layer.sync(PasswordHasher, () => makeArgon2(options))

  /** Any other hasher. */
  static readonly layer = (service: PasswordHasherService): Layer.Layer<PasswordHasher> =>
    Layer.succeed(PasswordHasher, service)
}

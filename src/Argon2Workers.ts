/**
 * Argon2id on a pool of low-priority worker threads: the same hashes as `makeArgon2`, but the hashing
 * threads are niced, so under a login flood the OS still schedules the event loop first and cheap requests
 * (a token check, one indexed query) keep their latency. libuv's own pool cannot be niced from JavaScript;
 * on Linux `os.setPriority` called inside a worker applies to that thread only.
 */

import { createRequire } from "node:module"
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type Argon2Options, makeArgon2, type PasswordHasherService } from "./PasswordHasher.js"

/** Options of the worker pool: argon2 parameters, the number of threads and their niceness. */
export interface Argon2WorkersOptions extends Omit<Argon2Options, "concurrency"> {
  /** Worker threads, i.e. hashes in flight at once (default: the number of cores). */
  readonly threads?: number | undefined
  /** Niceness of the hashing threads, 0 (normal) to 19 (lowest); default 10. */
  readonly niceness?: number | undefined
}

const workerSource = `
const { parentPort, workerData } = require("node:worker_threads")
const { setPriority } = require("node:os")
const argon2 = require(workerData.argon2)
try { setPriority(workerData.niceness) } catch {}
parentPort.on("message", ({ id, op, password, hash }) => {
  try {
    const value = op === "hash" ? argon2.hashSync(password, workerData.params) : argon2.verifySync(hash, password)
    parentPort.postMessage({ id, ok: true, value })
  } catch {
    parentPort.postMessage({ id, ok: false })
  }
})
`

/** Builds the worker-pool hasher. Workers are unref'ed: they never keep the process alive. */
export const makeArgon2Workers = (options: Argon2WorkersOptions = {}): PasswordHasherService => {
  const params = {
    algorithm: 2, // Argon2id (a const enum isolatedModules cannot import)
    memoryCost: options.memoryCost ?? 19456,
    timeCost: options.timeCost ?? 2,
    parallelism: options.parallelism ?? 1
  }
  // bcrypt and needsRehash are the libuv-pool hasher's; only argon2 work goes to the workers.
  const fallback = makeArgon2({ ...params, concurrency: 1 })
  const size = options.threads ?? availableParallelism()
  const workerData = {
    argon2: createRequire(import.meta.url).resolve("@node-rs/argon2"),
    niceness: options.niceness ?? 10,
    params
  }
  type Pending = (reply: { readonly ok: boolean; readonly value?: unknown }) => void
  const pending = new Map<number, Pending>()
  const idle: Array<Worker> = []
  const queue: Array<(worker: Worker) => void> = []
  let nextId = 0
  let started = false

  const start = () => {
    started = true
    for (let index = 0; index < size; index++) {
      const worker = new Worker(workerSource, { eval: true, workerData })
      worker.unref()
      worker.on("message", (reply: { readonly id: number; readonly ok: boolean; readonly value?: unknown }) => {
        const resume = pending.get(reply.id)
        pending.delete(reply.id)
        release(worker)
        resume?.(reply)
      })
      idle.push(worker)
    }
  }
  const release = (worker: Worker) => {
    const next = queue.shift()
    if (next === undefined) idle.push(worker)
    else next(worker)
  }

  const run = (message: { readonly op: "hash" | "verify"; readonly password: string; readonly hash?: string }) =>
    // A started hash runs to its end on its thread whatever happens to the fiber, so it is not interruptible.
    Effect.async<unknown, Error>((resume) => {
      if (!started) start()
      const id = nextId++
      pending.set(id, (reply) =>
        resume(reply.ok ? Effect.succeed(reply.value) : Effect.fail(new Error(`PasswordHasher: ${message.op} failed`)))
      )
      const send = (worker: Worker) => worker.postMessage({ id, ...message })
      const worker = idle.pop()
      if (worker === undefined) queue.push(send)
      else send(worker)
    }).pipe(Effect.uninterruptible)

  return {
    hash: (password) =>
      run({ op: "hash", password: Redacted.value(password) }).pipe(
        Effect.map((value) => value as string),
        Effect.orDie,
        Effect.withSpan("PasswordHasher.hash")
      ),
    verify: (password, stored) =>
      stored.startsWith("$argon2")
        ? run({ op: "verify", password: Redacted.value(password), hash: stored }).pipe(
            Effect.map((value) => value === true),
            Effect.orElseSucceed(() => false),
            Effect.withSpan("PasswordHasher.verify")
          )
        : fallback.verify(password, stored),
    needsRehash: fallback.needsRehash
  }
}

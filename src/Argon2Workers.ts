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
import {
  type Argon2Options,
  type BoundedHasherService,
  defaultQueuePerCore,
  makeArgon2,
  queueFull
} from "./PasswordHasher.js"

/** Options of the worker pool: argon2 parameters, the number of threads, their niceness and the queue bound. */
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
parentPort.on("message", ({ op, password, hash }) => {
  try {
    const value = op === "hash" ? argon2.hashSync(password, workerData.params) : argon2.verifySync(hash, password)
    parentPort.postMessage({ ok: true, value })
  } catch {
    parentPort.postMessage({ ok: false })
  }
})
`

/** Builds the worker-pool hasher. Workers are unref'ed: they never keep the process alive. */
export const makeArgon2Workers = (options: Argon2WorkersOptions = {}): BoundedHasherService => {
  const params = {
    algorithm: 2, // Argon2id (a const enum isolatedModules cannot import)
    memoryCost: options.memoryCost ?? 19456,
    timeCost: options.timeCost ?? 2,
    parallelism: options.parallelism ?? 1
  }
  // bcrypt and needsRehash are the libuv-pool hasher's; only argon2 work goes to the workers.
  const size = options.threads ?? availableParallelism()
  const bound = options.queue ?? defaultQueuePerCore * size
  const fallback = makeArgon2({ ...params, concurrency: 1, queue: bound })
  const workerData = {
    argon2: createRequire(import.meta.url).resolve("@node-rs/argon2"),
    niceness: options.niceness ?? 10,
    params
  }
  type Reply = { readonly ok: boolean; readonly value?: unknown }
  type Job = { readonly message: object; readonly reply: (reply: Reply) => void }
  const idle: Array<Worker> = []
  const busy = new Map<Worker, Job>()
  const queue: Array<Job> = []
  let spawned = false

  const dispatch = (worker: Worker, job: Job) => {
    busy.set(worker, job)
    worker.postMessage(job.message)
  }
  const release = (worker: Worker) => {
    busy.delete(worker)
    const next = queue.shift()
    if (next === undefined) idle.push(worker)
    else dispatch(worker, next)
  }
  const spawn = () => {
    const worker = new Worker(workerSource, { eval: true, workerData })
    worker.unref()
    worker.on("message", (reply: Reply) => {
      const job = busy.get(worker)
      release(worker)
      job?.reply(reply)
    })
    // A thread that dies (out of memory, say) fails its job and is replaced, so nothing waits forever.
    worker.on("error", () => {})
    worker.on("exit", () => {
      const job = busy.get(worker)
      busy.delete(worker)
      const index = idle.indexOf(worker)
      if (index !== -1) idle.splice(index, 1)
      job?.reply({ ok: false })
      release(spawn())
    })
    return worker
  }

  // The pool's threads bound the hashes in flight: an interrupted fiber's hash still finishes on its thread
  // before the thread takes the next job. A job still waiting in the queue is simply dropped. A full queue
  // sheds the job at once (a defect: the callers' types stay as they are; HTTP answers 503).
  const run = (message: { readonly op: "hash" | "verify"; readonly password: string; readonly hash?: string }) =>
    Effect.suspend(() =>
      spawned && idle.length === 0 && queue.length >= bound ? Effect.die(queueFull()) : enqueue(message)
    )
  const enqueue = (message: { readonly op: "hash" | "verify"; readonly password: string; readonly hash?: string }) =>
    Effect.async<unknown, Error>((resume) => {
      if (!spawned) {
        spawned = true
        for (let index = 0; index < size; index++) idle.push(spawn())
      }
      const job: Job = {
        message,
        reply: (reply) =>
          resume(
            reply.ok ? Effect.succeed(reply.value) : Effect.fail(new Error(`PasswordHasher: ${message.op} failed`))
          )
      }
      const worker = idle.pop()
      if (worker === undefined) queue.push(job)
      else dispatch(worker, job)
      return Effect.sync(() => {
        const waiting = queue.indexOf(job)
        if (waiting !== -1) queue.splice(waiting, 1)
      })
    })

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
    needsRehash: fallback.needsRehash,
    load: () => ({ running: busy.size, waiting: queue.length })
  }
}

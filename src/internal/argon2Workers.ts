/**
 * The worker pool behind `Argon2Workers`: threads, their jobs, respawning and shutdown. Not public: tests reach
 * it for its seams (another worker module, a look at every spawned thread).
 */

import { createRequire } from "node:module"
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import {
  type Argon2Options,
  type BoundedHasherService,
  defaultQueuePerCore,
  makeArgon2,
  queueFull
} from "../PasswordHasher.js"
import { ServiceUnavailable } from "../UserError.js"
import { queueWait } from "./hashQueue.js"

/** Options of the worker pool (`Argon2Workers.Argon2WorkersOptions`). */
export interface Options extends Omit<Argon2Options, "concurrency"> {
  /** Worker threads, i.e. hashes in flight at once (default: the number of cores). */
  readonly threads?: number | undefined
  /** Niceness of the hashing threads, 0 (normal) to 19 (lowest); default 10. */
  readonly niceness?: number | undefined
  /**
   * How long the pool stays idle (no job running or waiting) before its threads end, each giving back its
   * isolate (about 7 MB); the next job starts them again and waits for a thread start (a few hashes' time).
   * Default 1 minute; `Duration.infinity` keeps them for the pool's lifetime.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * Start the threads only once two jobs overlap: until then, and again after idle threads ended, a job alone runs
   * on libuv's pool (one hash at a time cannot crowd the event loop). A quiet server, and the manager's start-up
   * hash, then start no thread (each holds about 7 MB). Default false: the first job starts them.
   */
  readonly lazyThreads?: boolean | undefined
}

/** The worker-pool hasher, with its live thread count (`Argon2Workers.Argon2WorkersService`). */
export interface Service extends BoundedHasherService {
  /** Threads that started and have not exited yet. */
  readonly threads: () => number
}

/** Test seams: another worker module, and a look at every spawned thread. */
export interface Argon2WorkersInternal {
  readonly workerSource?: string | undefined
  readonly argon2Module?: string | undefined
  readonly onSpawn?: ((worker: Worker) => void) | undefined
}

/** Deaths in a row, without a finished job in between, after which the pool stops respawning. */
const maxDeathsInRow = 3

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
parentPort.postMessage({ ready: true })
`

type Message = { readonly op: "hash" | "verify"; readonly password: string; readonly hash?: string }
type Reply = { readonly ok: boolean; readonly value?: unknown; readonly ready?: boolean }
type Outcome = Reply | { readonly defect: ServiceUnavailable }
type Job = {
  readonly message: Message
  readonly reply: (outcome: Outcome) => void
  readonly wait: ReturnType<typeof queueWait>
}

/**
 * The pool and its shutdown. A thread that exits before it is ready (its module cannot load), or
 * `maxDeathsInRow` deaths without a finished job, break the pool: no more respawning, every job dies with
 * `ServiceUnavailable` instead of the pool spinning on threads that cannot work.
 */
export const makePool = (
  options: Options = {},
  internal: Argon2WorkersInternal = {}
): { readonly service: Service; readonly shutdown: Effect.Effect<void> } => {
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
    argon2: internal.argon2Module ?? createRequire(import.meta.url).resolve("@node-rs/argon2"),
    niceness: options.niceness ?? 10,
    params
  }
  const idleMillis = Duration.toMillis(Duration.decode(options.idleTimeout ?? "1 minute"))
  const all = new Set<Worker>()
  // Threads ended for idleness: their exit is not a death.
  const retired = new Set<Worker>()
  const idle: Array<Worker> = []
  const busy = new Map<Worker, Job>()
  const queue: Array<Job> = []
  let spawned = false
  let deathsInRow = 0
  let stopped: ServiceUnavailable | undefined
  let idleTimer: ReturnType<typeof setTimeout> | undefined

  // Once nothing runs or waits, the threads end after `idleMillis` unless a job comes first.
  const retireWhenIdle = () => {
    if (busy.size > 0 || queue.length > 0 || !Number.isFinite(idleMillis) || stopped !== undefined) return
    clearTimeout(idleTimer)
    idleTimer = setTimeout(() => {
      spawned = false
      for (const worker of idle.splice(0)) {
        retired.add(worker)
        void worker.terminate()
      }
    }, idleMillis)
    idleTimer.unref()
  }

  const stop = (reason: ServiceUnavailable) => {
    if (stopped !== undefined) return
    stopped = reason
    clearTimeout(idleTimer)
    idle.length = 0
    for (const job of queue.splice(0)) job.reply({ defect: reason })
    for (const [worker, job] of busy) {
      busy.delete(worker)
      job.reply({ defect: reason })
    }
    for (const worker of all) void worker.terminate()
  }
  const dispatch = (worker: Worker, job: Job) => {
    job.wait.started()
    busy.set(worker, job)
    worker.postMessage(job.message)
  }
  const release = (worker: Worker) => {
    busy.delete(worker)
    const next = queue.shift()
    if (next === undefined) {
      idle.push(worker)
      retireWhenIdle()
    } else dispatch(worker, next)
  }
  const spawn = () => {
    const worker = new Worker(internal.workerSource ?? workerSource, { eval: true, workerData })
    let ready = false
    all.add(worker)
    worker.unref()
    internal.onSpawn?.(worker)
    worker.on("message", (reply: Reply) => {
      if (reply.ready === true) {
        ready = true
        return
      }
      deathsInRow = 0
      const job = busy.get(worker)
      release(worker)
      job?.reply(reply)
    })
    worker.on("error", () => {})
    // A thread that dies (out of memory, say) fails its job and is replaced, so nothing waits forever;
    // unless it never got ready, or threads keep dying: then respawning would only spin.
    worker.on("exit", () => {
      all.delete(worker)
      if (retired.delete(worker) || stopped !== undefined) return
      const job = busy.get(worker)
      busy.delete(worker)
      const index = idle.indexOf(worker)
      if (index !== -1) idle.splice(index, 1)
      deathsInRow++
      if (!ready || deathsInRow >= maxDeathsInRow) {
        if (job !== undefined) queue.unshift(job)
        return stop(
          new ServiceUnavailable({
            reason: ready
              ? "PasswordHasher: the hashing threads keep dying"
              : "PasswordHasher: a hashing thread failed to start"
          })
        )
      }
      job?.reply({ ok: false })
      release(spawn())
    })
    return worker
  }

  // The pool's threads bound the hashes in flight: an interrupted fiber's hash still finishes on its thread
  // before the thread takes the next job. A job still waiting in the queue is simply dropped. A full queue
  // sheds the job at once (a defect: the callers' types stay as they are; HTTP answers 503).
  const run = (message: Message) =>
    Effect.suspend(() =>
      stopped !== undefined
        ? Effect.die(stopped)
        : spawned && idle.length === 0 && queue.length >= bound
          ? Effect.die(queueFull())
          : enqueue(message)
    )
  const enqueue = (message: Message) =>
    Effect.async<unknown, Error>((resume) => {
      clearTimeout(idleTimer)
      if (!spawned) {
        spawned = true
        for (let index = 0; index < size; index++) idle.push(spawn())
      }
      const wait = queueWait()
      const job: Job = {
        message,
        wait,
        reply: (outcome) => {
          wait.left()
          resume(
            "defect" in outcome
              ? Effect.die(outcome.defect)
              : outcome.ok
                ? Effect.succeed(outcome.value)
                : Effect.fail(new Error(`PasswordHasher: ${message.op} failed`))
          )
        }
      }
      const worker = idle.pop()
      if (worker === undefined) queue.push(job)
      else dispatch(worker, job)
      return Effect.sync(() => {
        const waiting = queue.indexOf(job)
        if (waiting !== -1) queue.splice(waiting, 1)
        wait.left()
        retireWhenIdle()
      })
    })

  // With lazyThreads, whether a job runs on libuv's pool: the threads are down and nothing else is hashing there.
  // (The fallback counts an admitted job at once, so of two jobs arriving together the second starts the threads.)
  const alone = () => {
    if (options.lazyThreads !== true || spawned || stopped !== undefined) return false
    const { running, waiting } = fallback.load()
    return running + waiting === 0
  }
  const service: Service = {
    hash: (password) =>
      Effect.suspend(() =>
        alone()
          ? fallback.hash(password)
          : run({ op: "hash", password: Redacted.value(password) }).pipe(
              Effect.map((value) => value as string),
              Effect.orDie,
              Effect.withSpan("PasswordHasher.hash")
            )
      ),
    verify: (password, stored) =>
      Effect.suspend(() =>
        stored.startsWith("$argon2") && !alone()
          ? run({ op: "verify", password: Redacted.value(password), hash: stored }).pipe(
              Effect.map((value) => value === true),
              Effect.orElseSucceed(() => false),
              Effect.withSpan("PasswordHasher.verify")
            )
          : fallback.verify(password, stored)
      ),
    needsRehash: fallback.needsRehash,
    load: () => {
      const libuv = fallback.load()
      return { running: busy.size + libuv.running, waiting: queue.length + libuv.waiting }
    },
    threads: () => all.size
  }
  const shutdown = Effect.suspend(() => {
    const threads = [...all]
    stop(new ServiceUnavailable({ reason: "PasswordHasher: the worker pool is shut down" }))
    return Effect.promise(() => Promise.all(threads.map((worker) => worker.terminate())))
  }).pipe(Effect.asVoid)
  return { service, shutdown }
}

/**
 * Work that runs after the response: a bounded queue served by a fixed number of worker fibers that live as
 * long as the layer. `forgot-password` and `request-verify-token` answer 202 at once and hand their lookup,
 * token and hook to it, so their timing says nothing about the address.
 *
 * Bounded both ways: at most `workers` jobs run and at most `capacity` wait; a job beyond that is dropped
 * with a warning (the client got its 202 either way). A job that meets an outage (see `Failures`) makes new
 * jobs refuse with `ServiceUnavailable` for its `Retry-After`, so that callers get 503 while storage is down
 * instead of 202s whose work cannot happen; the first job after that window probes again.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { ServiceUnavailable } from "../UserError.js"
import * as Failures from "./Failures.js"

/**
 * How much background work may run and wait.
 *
 * @since 0.1.0
 */
export interface BackgroundWorkOptions {
  /** Jobs running at once (default 4): each usually waits on a mail server, not on the CPU. */
  readonly workers?: number | undefined
  /** Jobs waiting for a worker (default 256); beyond it new jobs are dropped. */
  readonly capacity?: number | undefined
}

/**
 * The options `layer` reads; default 4 workers and 256 waiting jobs.
 *
 * @since 0.1.0
 */
export class BackgroundWorkConfig extends Context.Reference<BackgroundWorkConfig>()(
  "effect-users/BackgroundWorkConfig",
  { defaultValue: (): BackgroundWorkOptions => ({}) }
) {}

/**
 * Runs jobs after the response, bounded.
 *
 * @since 0.1.0
 */
export interface BackgroundWorkService {
  /**
   * Queues a job; false when the queue is full and the job was dropped (a warning is logged, without the
   * job's data). Dies with `ServiceUnavailable` while a recent job met an outage. The job's failures and
   * defects are logged, never returned.
   */
  readonly submit: (name: string, job: Effect.Effect<void, unknown>) => Effect.Effect<boolean>
  /** Jobs waiting for a worker. */
  readonly waiting: Effect.Effect<number>
}

/**
 * The background work of the HTTP routes.
 *
 * @since 0.1.0
 */
export class BackgroundWork extends Context.Tag("effect-users/BackgroundWork")<
  BackgroundWork,
  BackgroundWorkService
>() {}

interface Job {
  readonly name: string
  readonly effect: Effect.Effect<void, unknown>
}

/**
 * Starts the workers in the scope (they are interrupted when it closes) and returns the service.
 *
 * @since 0.1.0
 */
export const make = (options: BackgroundWorkOptions = {}): Effect.Effect<BackgroundWorkService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const capacity = options.capacity ?? 256
    const queue = yield* Effect.acquireRelease(Queue.dropping<Job>(capacity), Queue.shutdown)
    let openUntil = 0
    let dropped = 0
    let lastWarning = Number.NEGATIVE_INFINITY

    const outcome = (job: Job, cause: Cause.Cause<unknown>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.void
        const verdict = Failures.classify(cause)
        const annotations = { job: job.name }
        if (verdict._tag === "Unavailable") {
          openUntil = now + verdict.unavailability.retryAfter * 1000
          return Effect.annotateLogs(
            Effect.logError(`Background ${job.name} failed: ${verdict.unavailability.reason}`),
            annotations
          )
        }
        const failure = verdict._tag === "Internal" ? verdict.defect : Cause.squash(cause)
        return Effect.annotateLogs(
          Effect.logError(`Background ${job.name} failed: ${Failures.describe(failure)}`),
          annotations
        )
      })

    const run = (job: Job) =>
      job.effect.pipe(
        Effect.matchCauseEffect({
          onFailure: (cause) => outcome(job, cause),
          onSuccess: () => Effect.sync(() => (openUntil = 0))
        })
      )

    const worker = Effect.forever(Effect.flatMap(Queue.take(queue), run))
    for (let index = 0; index < (options.workers ?? 4); index++) yield* Effect.forkScoped(worker)

    const submit = (name: string, effect: Effect.Effect<void, unknown>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (now < openUntil) {
          return Effect.die(
            new ServiceUnavailable({
              reason: `background ${name} refused: a recent job found storage unavailable`,
              retryAfter: Math.ceil((openUntil - now) / 1000)
            })
          )
        }
        return Effect.flatMap(Queue.offer(queue, { name, effect }), (accepted) => {
          if (accepted) return Effect.succeed(true)
          dropped++
          // One warning per second at most: a flood must not turn into a flood of log lines.
          if (now - lastWarning < 1000) return Effect.succeed(false)
          lastWarning = now
          const count = dropped
          dropped = 0
          return Effect.as(
            Effect.logWarning(`Background work is full (${capacity} waiting): dropped ${count} job(s), last ${name}`),
            false
          )
        })
      })

    return { submit, waiting: Effect.map(Queue.size(queue), (size) => Math.max(0, size)) }
  })

/**
 * The background work, with the options of `BackgroundWorkConfig` in context (default 4 workers, 256 waiting).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<BackgroundWork> = Layer.scoped(
  BackgroundWork,
  Effect.flatMap(BackgroundWorkConfig, (options) => make(options))
)

/**
 * Sets the bounds of the background work: provide it to `UsersApi.make(...).layer(api)`.
 *
 * @since 0.1.0
 */
export const configure = (options: BackgroundWorkOptions): Layer.Layer<BackgroundWorkConfig> =>
  Layer.succeed(BackgroundWorkConfig, options)

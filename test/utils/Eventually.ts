/** Polling with a deadline, for effects whose outcome arrives after the call that causes it returns. */
import { Duration, Effect, Schedule } from "effect"

/**
 * Runs `effect` until it succeeds, every 10 ms, and fails with its last error once `timeout` (default 5 s,
 * wall clock) has passed. Use it inside `it.live` or a layer with `excludeTestServices`.
 */
export const eventually = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly timeout?: Duration.DurationInput } = {}
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(options.timeout ?? "5 seconds")
    return yield* Effect.retry(effect, {
      schedule: Schedule.spaced("10 millis"),
      while: () => Date.now() < deadline
    })
  })

/** An effect that succeeds with the value once `get` returns one, else fails (for `eventually`). */
export const defined = <A>(get: () => A | undefined, what: string): Effect.Effect<A, Error> =>
  Effect.suspend(() => {
    const value = get()
    return value === undefined ? Effect.fail(new Error(`still waiting for ${what}`)) : Effect.succeed(value)
  })

/** `eventually` for plain async tests: resolves once `check` returns true, rejects after `timeout` ms. */
export const waitFor = async (check: () => boolean, what: string, timeout = 5_000): Promise<void> => {
  const deadline = Date.now() + timeout
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A security-event sink for tests that keeps what it is given, and a way to wait for its (batched) delivery. */
import { Effect, Layer } from "effect"
import { AuthEvents } from "effect-users"

/**
 * A sink that keeps what it is given. `layer` registers it with the `AuthEvents` in context (a test server's);
 * `standalone` brings its own `AuthEvents.layer()` too.
 */
export const recording = (name = "recording") => {
  const events: Array<AuthEvents.AuthEvent> = []
  const sink: AuthEvents.Sink = { name, write: (batch) => Effect.sync(() => events.push(...batch)) }
  const layer = AuthEvents.layerSink(sink)
  return { events, sink, layer, standalone: layer.pipe(Layer.provideMerge(AuthEvents.layer())) }
}

/** The events of one kind, in the order they were written. */
export const ofKind = <K extends AuthEvents.Kind>(events: ReadonlyArray<AuthEvents.AuthEvent>, kind: K) =>
  events.filter((event): event is Extract<AuthEvents.AuthEvent, { _tag: K }> => event._tag === kind)

/**
 * Yields until `check` holds: the writer fiber delivers in the background. It never sleeps, so it works under the
 * `TestClock` too; fails after `tries` yields.
 */
export const delivered = (check: () => boolean, what: string, tries = 10_000): Effect.Effect<void, Error> =>
  Effect.suspend(() =>
    check()
      ? Effect.void
      : tries === 0
        ? Effect.fail(new Error(`still waiting for ${what}`))
        : Effect.zipRight(Effect.yieldNow(), delivered(check, what, tries - 1))
  )

/** A tracer for tests that keeps everything spans are told: names, attributes, events and how they ended. */
import { Tracer } from "effect"

/** An ended span as recorded; a success value is never exported by tracers, so it is not kept. */
export interface RecordedSpan {
  readonly name: string
  readonly attributes: ReadonlyArray<readonly [string, unknown]>
  readonly failure: unknown
}

/** A span event as recorded. */
export interface RecordedEvent {
  readonly eventName: string
  readonly eventAttributes: unknown
}

/** A tracer and what it recorded, in order. */
export const recordingTracer = () => {
  const recorded: Array<RecordedSpan | RecordedEvent> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const attributes = new Map<string, unknown>()
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: Math.random().toString(16).slice(2),
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        end: (_endTime, exit) =>
          recorded.push({ name, attributes: [...attributes], failure: exit._tag === "Failure" ? exit.cause : null }),
        attribute: (key, value) => attributes.set(key, value),
        event: (eventName, _time, eventAttributes) => recorded.push({ eventName, eventAttributes }),
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
  /** The text of each query `@effect/sql` ran under this tracer (its `sql.execute` spans). */
  const queries = () =>
    recorded.flatMap((entry) =>
      "name" in entry && entry.name === "sql.execute" ? [String(new Map(entry.attributes).get("db.query.text"))] : []
    )
  return { recorded, tracer, queries }
}

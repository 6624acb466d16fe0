/**
 * `PgStorage`: every query is bounded in time, against a PostgreSQL cluster of the test's own that it freezes
 * (SIGSTOP: connections open, no answer, like a network partition). A query on a frozen server fails after the
 * query timeout with an error `PgUnavailable` reads as an outage (the SQL adapters die with `ServiceUnavailable`:
 * 503); the connection it was sent on is dropped, not handed to the next query; and once the server is resumed the
 * same client works again.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, layer } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Layer, Option, Redacted } from "effect"
import { Failures } from "effect-users/http"
import { PgStorage, PgUnavailable } from "effect-users/pg"
import * as PgCluster from "../utils/PgCluster.js"

const backendPid = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`, (rows) => rows[0]!.pid)
)

const timedExit = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(Effect.exit(effect)), ([duration, exit]) => ({ exit, ms: Duration.toMillis(duration) }))

const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  assert.isTrue(Exit.isFailure(exit), "the query failed")
  const cause = (exit as Exit.Failure<unknown, unknown>).cause
  return Option.getOrThrow(Cause.failureOption(cause))
}

describe.skipIf(!PgCluster.available)("PgStorage on a frozen PostgreSQL", () => {
  const client = Layer.unwrapEffect(
    Effect.map(PgCluster.PgCluster, (cluster) =>
      PgStorage.layer({
        url: Redacted.make(cluster.url),
        maxConnections: 1,
        queryTimeout: "1 second",
        connectTimeout: "1 second"
      })
    )
  )

  layer(Layer.provideMerge(client, PgCluster.layer), { excludeTestServices: true, timeout: 60_000 })(
    "one connection",
    (it) => {
      it.effect("a query times out as unavailable, its connection is dropped, and the client recovers", () =>
        Effect.gen(function* () {
          const cluster = yield* PgCluster.PgCluster
          const before = yield* backendPid
          assert.strictEqual(yield* backendPid, before, "one pooled connection, reused")

          const frozen = yield* Effect.gen(function* () {
            yield* cluster.freeze
            const first = yield* timedExit(backendPid)
            // Sent on the pooled connection: no answer, so pg's query_timeout fails it.
            const firstError = failureOf(first.exit)
            assert.match(Failures.describe(firstError), /Query read timeout/)
            assert.isTrue(PgUnavailable.isUnavailable(firstError), Failures.describe(firstError))
            // Not queued behind the lost query on the same connection: a new one is tried, and times out connecting.
            const second = yield* timedExit(backendPid)
            const secondError = failureOf(second.exit)
            assert.notMatch(Failures.describe(secondError), /Query read timeout/)
            assert.match(Failures.describe(secondError), /connection timeout/i)
            assert.isTrue(PgUnavailable.isUnavailable(secondError), Failures.describe(secondError))
            return [first.ms, second.ms]
          }).pipe(Effect.ensuring(cluster.thaw))
          for (const ms of frozen) {
            assert.isAtLeast(ms, 900)
            assert.isBelow(ms, 3000, `answered in ${ms} ms`)
          }

          // Resumed: the same client serves again, on a new connection (the one that timed out was closed).
          const after = yield* backendPid
          assert.notStrictEqual(after, before)
          assert.strictEqual(yield* backendPid, after)
        })
      )
    }
  )
})

/**
 * When an `SqlError` means that the database cannot serve now, for the SQL adapters: they run on whichever
 * `SqlClient` the app provides, so the error's causes are read for both families by their string data (SQLite's
 * codes here, PostgreSQL's and `pg`'s from `PgUnavailable`) and for Node's socket errors. Every SQL adapter
 * gives up on its errors with `orDie`: an outage dies with `ServiceUnavailable`, anything else as itself.
 */
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import { isPgFault } from "../pg/PgUnavailable.js"
import * as Unavailable from "../Unavailable.js"

// SQLite: a lock held past the busy timeout (another connection or process writing), I/O faults, a full disk,
// a file that cannot be opened, out of memory. Extended codes (`SQLITE_IOERR_WRITE`) share their prefix.
const sqliteCodes = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|NOMEM|PROTOCOL)(_|$)/

/**
 * Whether one error (not its causes) is SQLite's way of saying "cannot serve now" (`SQLITE_BUSY`, ...).
 *
 * @since 0.2.0
 */
export const isSqliteFault = (u: unknown): boolean => sqliteCodes.test(Unavailable.codeOf(u) ?? "")

/**
 * Whether an `SqlError` says that the database is down, unreachable, locked, overloaded or timed out: an SQLite,
 * PostgreSQL or `pg` fault, or a Node socket error, in its causes. Other errors (a constraint, a syntax error, a
 * value that does not decode) are not outages.
 *
 * @since 0.2.0
 */
export const isUnavailable: Unavailable.Recogniser = (error) =>
  Predicate.isTagged(error, "SqlError") &&
  (Unavailable.someCause(error, (u) => isSqliteFault(u) || isPgFault(u)) || Unavailable.isNetworkFault(error))

/**
 * `Effect.orDie` for SQL adapters: an outage dies with `ServiceUnavailable`, any other error as itself.
 *
 * @since 0.2.0
 */
export const orDie: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, never, R> =
  Unavailable.orDieWith(isUnavailable)

/**
 * `Effect.die` for SQL adapters: an outage dies with `ServiceUnavailable`, any other error as itself.
 *
 * @since 0.2.0
 */
export const die = (error: unknown): Effect.Effect<never> => Effect.die(Unavailable.defectOf(isUnavailable, error))

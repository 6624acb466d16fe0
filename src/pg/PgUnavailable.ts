/**
 * What PostgreSQL, `pg` and `pg-pool` say when the database cannot serve now: SQLSTATEs and messages, as string
 * data. No driver is imported, so that `SqlUnavailable` (the SQL adapters, on whichever `SqlClient` the app
 * provides) can read them without loading `pg`.
 */
import * as Predicate from "effect/Predicate"
import * as Unavailable from "../Unavailable.js"

/**
 * The message of `pg`'s `query_timeout` error (`PgStorage`'s `queryTimeout`).
 *
 * @since 0.2.0
 */
export const queryTimeoutMessage = "Query read timeout"

/**
 * Whether a SQLSTATE means "cannot serve now": class 08 (connection exception), class 53 (insufficient
 * resources: too many connections, out of memory, disk full), 57P01-57P05 (shut down, crash recovery, starting
 * up, idle session timeout), 57014 (canceled: `statement_timeout`) and 55P03 (`lock_timeout`).
 *
 * @since 0.2.0
 */
export const isUnavailableCode = (code: string): boolean =>
  code.startsWith("08") || code.startsWith("53") || /^57P0[1-5]$/.test(code) || code === "57014" || code === "55P03"

// What `pg` and `pg-pool` say, without a code, when a connection dies, cannot be had in time (`connectTimeout`)
// or a query gets no answer in time (`PgStorage`'s `queryTimeout`); and `@effect/sql-pg`'s connection failures.
const messages = new RegExp(
  [
    "^Connection terminated",
    "^timeout exceeded when trying to connect$",
    `^${queryTimeoutMessage}$`,
    "is not queryable$",
    "^Failed to acquire connection",
    "^Connection error$",
    "^PgClient: Connection timed out$",
    "^PgClient: Failed to connect$",
    "^PgStorage: Failed to connect$"
  ].join("|")
)

/**
 * Whether one error (not its causes) is PostgreSQL's, `pg`'s or `pg-pool`'s way of saying "cannot serve now".
 *
 * @since 0.2.0
 */
export const isPgFault = (u: unknown): boolean => {
  const code = Unavailable.codeOf(u)
  return (code !== undefined && isUnavailableCode(code)) || messages.test(Unavailable.messageOf(u))
}

/**
 * Whether an `SqlError` of `@effect/sql-pg` (or `PgStorage`) says that PostgreSQL is down, unreachable,
 * overloaded or timed out: a PostgreSQL or `pg` fault, or a Node socket error, in its causes.
 *
 * @since 0.2.0
 */
export const isUnavailable: Unavailable.Recogniser = (error) =>
  Predicate.isTagged(error, "SqlError") &&
  (Unavailable.someCause(error, isPgFault) || Unavailable.isNetworkFault(error))

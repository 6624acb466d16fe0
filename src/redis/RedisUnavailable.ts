/**
 * When a `RedisError` means that Redis cannot serve now: what ioredis says when a command cannot be sent or
 * answered (the client fails fast: no offline queue, no retried commands, a command timeout), Redis's own replies
 * of a server that cannot serve now, and Node's socket errors. String data only: no driver is imported.
 */
import * as Predicate from "effect/Predicate"
import * as Unavailable from "../Unavailable.js"

// ioredis: no offline queue while disconnected, a closed connection, the command timeout, no retries left, no
// cluster node reachable, a cluster node gone until its replica is promoted (retries used up), a cluster client
// reconnecting.
const clientMessages =
  /^Stream isn't writeable|^Connection is closed|^Command timed out|^Reached the max retries per request limit|^None of startup nodes is available|^Too many Cluster redirections|^Cluster isn't ready|^Failed to refresh slots cache/

// Redis's replies of a server that cannot serve now: loading its dataset, a read-only replica, a master that is
// down, a cluster failing over or resharding, a busy script, out of memory, too few replicas to write (also what
// the stores say when no replica acknowledged a revocation in time).
const serverReplies = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|OOM|NOREPLICAS) /

/**
 * Whether one error (not its causes) is ioredis's or Redis's way of saying "cannot serve now".
 *
 * @since 0.2.0
 */
export const isRedisFault = (u: unknown): boolean => {
  const message = Unavailable.messageOf(u)
  return clientMessages.test(message) || serverReplies.test(message)
}

/**
 * Whether a `RedisError` says that Redis is down, unreachable, stalled or overloaded: an ioredis or Redis fault,
 * or a Node socket error, in its causes. A reply that is a bug (`WRONGTYPE`, a broken script) is not an outage.
 *
 * @since 0.2.0
 */
export const isUnavailable: Unavailable.Recogniser = (error) =>
  Predicate.isTagged(error, "RedisError") &&
  (Unavailable.someCause(error, isRedisFault) || Unavailable.isNetworkFault(error))

/**
 * A PostgreSQL 15 cluster of a test's own, on a free loopback port, that the test can stop and start to
 * simulate an outage. `initdb` refuses to run as root, so every command runs as the postgres user on a
 * directory it owns. The cluster is destroyed when the layer's scope closes, and at process exit if the
 * scope never closes (a crashed worker), so no server or directory outlives the test.
 */
import { execFileSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import { acquireServer, freePort } from "./LocalServer.js"

const bin = "/usr/lib/postgresql/15/bin"

/** Whether this machine can run a cluster of its own (PostgreSQL 15 binaries and a postgres user). */
export const available = (() => {
  if (!existsSync(join(bin, "pg_ctl"))) return false
  try {
    execFileSync("id", ["-u", "postgres"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

const asRoot = process.getuid?.() === 0

const runAsPostgres = (command: string, args: ReadonlyArray<string>) => {
  const quoted = [command, ...args].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(" ")
  return asRoot
    ? execFileSync("su", ["postgres", "-c", quoted], { stdio: "pipe" })
    : execFileSync(command, [...args], { stdio: "pipe" })
}

/** A running cluster: its URL, and the outage switches. */
export interface PgClusterService {
  readonly port: number
  /** `postgres://postgres@127.0.0.1:PORT/postgres` */
  readonly url: string
  /** Stops the server as an operator would for an outage (`pg_ctl stop -m fast`: sessions are cut). */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port and data. */
  readonly start: Effect.Effect<void>
}

/** The cluster of this test. */
export class PgCluster extends Context.Tag("test/PgCluster")<PgCluster, PgClusterService>() {}

const make = Effect.gen(function* () {
  const port = yield* Effect.promise(freePort)
  const dir = mkdtempSync(join(tmpdir(), "effect-users-pg-"))
  if (asRoot) execFileSync("chown", ["postgres", dir])
  else chownSync(dir, process.getuid!(), process.getgid!())
  const data = join(dir, "data")
  const pgCtl = join(bin, "pg_ctl")
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=20`
  const start = () => runAsPostgres(pgCtl, ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"])
  const stop = (mode: "fast" | "immediate") => {
    try {
      runAsPostgres(pgCtl, ["-D", data, "-m", mode, "-w", "stop"])
    } catch {
      // Already stopped.
    }
  }
  yield* acquireServer(
    () => {
      runAsPostgres(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"])
      start()
    },
    () => {
      stop("immediate")
      rmSync(dir, { recursive: true, force: true })
    }
  )
  return PgCluster.of({
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: Effect.sync(() => stop("fast")),
    start: Effect.sync(() => {
      start()
    })
  })
})

/** A fresh cluster for the layer's lifetime. */
export const layer: Layer.Layer<PgCluster> = Layer.scoped(PgCluster, make)

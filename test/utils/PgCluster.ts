/**
 * A PostgreSQL 15 cluster of a test's own, on a free loopback port, that the test can stop and start to
 * simulate an outage. `initdb` refuses to run as root, so every command runs as the postgres user on a
 * directory it owns. The cluster is destroyed when the layer's scope closes, and at process exit if the
 * scope never closes (a crashed worker), so no server or directory outlives the test.
 */
import { execFileSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
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
  /**
   * Freezes the server (SIGSTOP to this cluster's postmaster and backends only): connections stay open and get
   * no answer, like a network partition. Pair it with `thaw` in a finalizer; the layer thaws before it ends.
   */
  readonly freeze: Effect.Effect<void>
  /** Resumes a frozen server (SIGCONT); does nothing when it is not frozen. */
  readonly thaw: Effect.Effect<void>
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
  // The processes of this cluster only: the postmaster named by its data directory's postmaster.pid, and its
  // children (backends and auxiliary processes). Never the machine's own PostgreSQL.
  const processes = (): Array<number> => {
    const pidFile = join(data, "postmaster.pid")
    if (!existsSync(pidFile)) return []
    const postmaster = Number(readFileSync(pidFile, "utf8").split("\n")[0])
    if (!Number.isInteger(postmaster) || postmaster <= 1) return []
    const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(postmaster)], { encoding: "utf8" })
      .split("\n")
      .map((line) => Number(line.trim()))
      .filter((pid) => Number.isInteger(pid) && pid > 1)
    return [postmaster, ...children]
  }
  let frozen = false
  const signal = (name: "SIGSTOP" | "SIGCONT") => {
    for (const pid of processes()) {
      try {
        process.kill(pid, name)
      } catch {
        // Exited meanwhile.
      }
    }
  }
  const thaw = () => {
    if (!frozen) return
    signal("SIGCONT")
    frozen = false
  }
  yield* acquireServer(
    () => {
      runAsPostgres(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"])
      start()
    },
    () => {
      // A frozen server would never answer pg_ctl's stop.
      thaw()
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
    }),
    freeze: Effect.sync(() => {
      frozen = true
      signal("SIGSTOP")
    }),
    thaw: Effect.sync(thaw)
  })
})

/** A fresh cluster for the layer's lifetime. */
export const layer: Layer.Layer<PgCluster> = Layer.scoped(PgCluster, make)

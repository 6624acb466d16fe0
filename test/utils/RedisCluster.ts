/**
 * A Redis Cluster of a test's own: 3 masters and 3 replicas from the machine's `redis-server`, on free loopback ports
 * (client and bus ports both chosen free, never 6379), in a temporary directory, built with `redis-cli --cluster
 * create` and ready once every node says `cluster_state:ok` with all 16384 slots served and every master has its
 * replica in sync. Torn down (`SHUTDOWN NOSAVE`, then SIGKILL by pid file) by `destroy` (`startRedisCluster`, for
 * `afterAll`), when the layer's scope closes (`clusterLayer`), or when the process exits. One per test file: it takes
 * a few seconds to start.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import { freePort } from "./LocalServer.js"

/** One node of the cluster. */
export interface ClusterNode {
  readonly port: number
  /** Its `host:port`, as ioredis names it. */
  readonly address: string
}

/** The running cluster and its failure switches. */
export interface RedisClusterService {
  readonly nodes: ReadonlyArray<ClusterNode>
  /** `host:port,...` of every node, as `REDIS_CLUSTER_NODES` takes it. */
  readonly nodeList: string
  /** Runs `redis-cli` against one node; its output. */
  readonly cli: (port: number, ...args: Array<string>) => string
  /** The current masters and, for each, its replicas' ports (read from `CLUSTER NODES`). */
  readonly topology: () => ReadonlyArray<{ readonly port: number; readonly replicas: ReadonlyArray<number> }>
  /** The port of the master serving `slot` now. */
  readonly masterOf: (slot: number) => number | undefined
  /** Kills a node at once (SIGKILL: no goodbye, as a crashed machine). */
  readonly kill: (port: number) => void
  /** Starts a killed node again with its cluster configuration (it rejoins, as a replica if it was replaced). */
  readonly restart: (port: number) => void
  /** Waits until the cluster is whole again: state ok on every live node, all slots served, replicas in sync. */
  readonly waitHealthy: (options?: { readonly replicas?: boolean; readonly timeoutMs?: number }) => void
}

/** The cluster of this test file. */
export class RedisCluster extends Context.Tag("test/RedisCluster")<RedisCluster, RedisClusterService>() {}

const sleep = (seconds: number) => void spawnSync("sleep", [String(seconds)])

/** Starts a cluster now; `destroy` ends it (also run at process exit). */
export const startRedisCluster = async (): Promise<RedisClusterService & { readonly destroy: () => void }> => {
  const dir = mkdtempSync(join(tmpdir(), "effect-users-redis-cluster-"))
  const ports: Array<{ port: number; bus: number }> = []
  const taken = new Set<number>()
  while (ports.length < 6) {
    const [port, bus] = [await freePort(), await freePort()]
    if (port === bus || taken.has(port) || taken.has(bus) || port === 6379 || bus === 6379) continue
    taken.add(port).add(bus)
    ports.push({ port, bus })
  }
  const nodes = ports.map(({ port }) => ({ port, address: `127.0.0.1:${port}` }))
  const nodeDir = (port: number) => join(dir, String(port))
  const pidOf = (port: number) => {
    const file = join(nodeDir(port), "redis.pid")
    if (!existsSync(file)) return undefined
    const pid = Number(readFileSync(file, "utf8").trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  }
  const cli = (port: number, ...args: Array<string>) =>
    spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 10_000 })
      .stdout ?? ""
  const alive = (port: number) => cli(port, "ping").trim() === "PONG"
  const startNode = ({ port, bus }: { port: number; bus: number }) => {
    mkdirSync(nodeDir(port), { recursive: true })
    execFileSync("redis-server", [
      "--port",
      String(port),
      "--cluster-port",
      String(bus),
      "--bind",
      "127.0.0.1",
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      join(nodeDir(port), "nodes.conf"),
      // Quick failure detection: a dead master is replaced within a few seconds.
      "--cluster-node-timeout",
      "1000",
      // DEBUG SLEEP stalls a replica in the tests (from loopback only).
      "--enable-debug-command",
      "local",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "yes",
      "--dir",
      nodeDir(port),
      "--pidfile",
      join(nodeDir(port), "redis.pid"),
      "--logfile",
      join(nodeDir(port), "redis.log")
    ])
    for (let i = 0; i < 100 && !alive(port); i++) sleep(0.05)
  }
  const kill = (port: number) => {
    const pid = pidOf(port)
    if (pid === undefined) return
    try {
      process.kill(pid, "SIGKILL")
    } catch {}
    rmSync(join(nodeDir(port), "redis.pid"), { force: true })
  }
  const destroy = () => {
    for (const { port } of ports) {
      if (alive(port)) cli(port, "shutdown", "nosave")
    }
    sleep(0.1)
    for (const { port } of ports) kill(port)
    rmSync(dir, { recursive: true, force: true })
  }
  const topology = () => {
    const live = ports.find(({ port }) => alive(port))
    if (live === undefined) return []
    const lines = cli(live.port, "cluster", "nodes").trim().split("\n")
    const parsed = lines.map((line) => {
      const [id, address, flags, master] = line.split(" ")
      return { id, port: Number(address?.split("@")[0]?.split(":")[1]), flags: flags?.split(",") ?? [], master }
    })
    return parsed
      .filter((node) => node.flags.includes("master") && !node.flags.includes("fail"))
      .map((master) => ({
        port: master.port,
        replicas: parsed
          .filter((node) => node.master === master.id && !node.flags.includes("fail"))
          .map((node) => node.port)
      }))
  }
  const masterOf = (slot: number) => {
    const live = ports.find(({ port }) => alive(port))
    if (live === undefined) return undefined
    for (const line of cli(live.port, "cluster", "nodes").trim().split("\n")) {
      const fields = line.split(" ")
      if (!fields[2]?.includes("master") || fields[2].includes("fail")) continue
      for (const range of fields.slice(8)) {
        const [from, to = from] = range.split("-").map(Number)
        if (from !== undefined && to !== undefined && from <= slot && slot <= to) {
          return Number(fields[1]?.split("@")[0]?.split(":")[1])
        }
      }
    }
    return undefined
  }
  const waitHealthy = (options: { readonly replicas?: boolean; readonly timeoutMs?: number } = {}) => {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000)
    const healthy = () => {
      const live = ports.filter(({ port }) => alive(port))
      for (const { port } of live) {
        const info = cli(port, "cluster", "info")
        if (!info.includes("cluster_state:ok") || !info.includes("cluster_slots_ok:16384")) return false
      }
      const masters = topology()
      if (masters.length !== 3) return false
      if (options.replicas === false) return true
      for (const master of masters) {
        const replication = cli(master.port, "info", "replication")
        if (!/connected_slaves:[1-9]/.test(replication) || !/state=online/.test(replication)) return false
      }
      return true
    }
    while (!healthy()) {
      if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy after ${options.timeoutMs ?? 30_000} ms`)
      sleep(0.1)
    }
  }
  const onExit = () => destroy()
  process.once("exit", onExit)
  try {
    for (const node of ports) startNode(node)
    const created = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...nodes.map((node) => node.address), "--cluster-replicas", "1", "--cluster-yes"],
      { encoding: "utf8", timeout: 60_000 }
    )
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
    waitHealthy({ timeoutMs: 60_000 })
  } catch (error) {
    destroy()
    process.removeListener("exit", onExit)
    throw error
  }
  return {
    destroy: () => {
      process.removeListener("exit", onExit)
      destroy()
    },
    nodes,
    nodeList: nodes.map((node) => node.address).join(","),
    cli,
    topology,
    masterOf,
    kill,
    restart: (port) => {
      const node = ports.find((candidate) => candidate.port === port)
      if (node !== undefined) startNode(node)
    },
    waitHealthy
  }
}

/** A fresh cluster for the layer's lifetime. */
export const clusterLayer: Layer.Layer<RedisCluster> = Layer.scoped(
  RedisCluster,
  Effect.acquireRelease(Effect.promise(startRedisCluster), (cluster) => Effect.sync(() => cluster.destroy()))
)

/** Whether this machine can run a Redis Cluster of a test's own (`redis-server` 7 or later and `redis-cli`). */
export const canRunCluster = (() => {
  const version = spawnSync("redis-server", ["--version"], { encoding: "utf8" })
  const major = Number(/v=(\d+)\./.exec(version.stdout ?? "")?.[1] ?? 0)
  return version.status === 0 && major >= 7 && spawnSync("redis-cli", ["--version"], { stdio: "ignore" }).status === 0
})()

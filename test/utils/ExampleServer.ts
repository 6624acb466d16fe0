/**
 * The example server (`examples/server.ts`, what `npm start` serves) in a child process of a test. Hermetic by
 * default: a free port, a fresh SQLite file, no PostgreSQL and no Redis unless the test names them, and Redis keys
 * (sessions and throttle counts) under a prefix of its own, so that no two servers, and no two test runs on one
 * Redis, share a session or a rate-limit count. Stopping it ends the process and removes its file and its keys.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { freePort } from "./LocalServer.js"

/** The repository's root. */
export const root = fileURLToPath(new URL("../../", import.meta.url))

/**
 * This process's environment without what `npm test` exports (`npm_*`: a child `npm` would take this package's
 * settings for its own).
 */
export const baseEnv = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && !/^npm_|^init_cwd$/i.test(entry[0])
    )
  )

export interface ExampleServerOptions {
  /** The port to listen on (one the test had to know beforehand); a free one by default. */
  readonly port?: number
  /** Variables set over the hermetic defaults: DATABASE_URL, REDIS_URL, USERS_THROTTLE_PREFIX, ... */
  readonly env?: Record<string, string>
  /** The command line; `node --import tsx examples/server.ts` by default. */
  readonly command?: ReadonlyArray<string>
  /** Where it runs; the repository's root by default. */
  readonly cwd?: string
  /** Milliseconds to wait for "Listening on". */
  readonly timeout?: number
}

export interface ExampleServer {
  readonly base: string
  readonly port: number
  readonly process: ChildProcess
  /** Everything it printed so far (stdout and stderr). */
  readonly output: () => string
  /** Its SQLite file (unused when DATABASE_URL is set). */
  readonly sqliteFile: string
  /** The prefix of its Redis keys (sessions under `sessions:`, throttle counts under `throttle:`). */
  readonly prefix: string
  /** SIGTERM to its process group (SIGKILL after 10 s), then its SQLite file and Redis keys removed. */
  readonly stop: () => Promise<void>
}

const deleteKeys = async (url: string, prefix: string) => {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let cursor = "0"
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== "0")
  } catch {
    // A Redis of the test's own may be stopped already: nothing of this server is left on it then.
  } finally {
    redis.disconnect()
  }
}

/** Starts the server and resolves once it listens (rejects with its output if it exits first or times out). */
export const startExampleServer = async (options: ExampleServerOptions = {}): Promise<ExampleServer> => {
  const port = options.port ?? (await freePort())
  const id = crypto.randomUUID()
  const prefix = `effect-users-test:server:${id}:`
  const file = join(tmpdir(), `effect-users-example-${id}.db`)
  const env = {
    ...baseEnv(),
    PORT: String(port),
    SQLITE_FILE: file,
    DATABASE_URL: "",
    REDIS_URL: "",
    REDIS_CLUSTER_NODES: "",
    REDIS_KEY_PREFIX: `${prefix}sessions:`,
    USERS_THROTTLE_PREFIX: `${prefix}throttle:`,
    ...options.env
  }
  const [command, ...args] = options.command ?? [process.execPath, "--import", "tsx", "examples/server.ts"]
  const child = spawn(command!, args, {
    cwd: options.cwd ?? root,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const kill = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal)
        } catch {}
      }
      kill("SIGTERM")
      const timer = setTimeout(() => kill("SIGKILL"), 10_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(file, { force: true })
    if (env.REDIS_URL !== "") await deleteKeys(env.REDIS_URL, prefix)
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`the example server did not listen within ${options.timeout ?? 60_000} ms:\n${output}`))
    }, options.timeout ?? 60_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Listening on")) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the example server exited (${code}):\n${output}`))
    })
  })
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    process: child,
    output: () => output,
    sqliteFile: file,
    prefix,
    stop
  }
}

/** The server for the scope. */
export const exampleServer = (options?: ExampleServerOptions) =>
  Effect.acquireRelease(
    Effect.promise(() => startExampleServer(options)),
    (server) => Effect.promise(server.stop)
  )

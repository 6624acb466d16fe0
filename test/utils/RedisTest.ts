/**
 * Redis for tests: the server of REDIS_URL (or 127.0.0.1:6379, see RedisSetup.ts), keys under a random prefix per
 * suite so that parallel runs never meet, and a Redis server of a test's own that it can stop and start (outages).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer, Redacted } from "effect"
import { Redis } from "effect-users/redis"
import { Redis as IORedis } from "ioredis"
import { afterAll, describe, inject } from "vitest"
import { acquireServer, freePort } from "./LocalServer.js"

/** The server's URL, or "" when the Redis suites are skipped. */
export const serverUrl = inject("redisUrl")

/** `describe`, skipped when no Redis server is available. */
export const describeRedis = describe.skipIf(serverUrl === "")

/** The shared client layer on the test server. */
export const client = Redis.layer({ url: Redacted.make(serverUrl) })

/** The keys under `prefix` (SCAN: tests only; the stores never scan). */
export const keysUnder = async (prefix: string): Promise<Array<string>> => {
  const redis = new IORedis(serverUrl)
  try {
    const found: Array<string> = []
    let cursor = "0"
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 1000)
      found.push(...keys)
      cursor = next
    } while (cursor !== "0")
    return found
  } finally {
    redis.disconnect()
  }
}

/** A random key prefix whose keys are deleted after the file's tests (only those keys). */
export const freshPrefix = (name = "test"): string => {
  const prefix = `effect-users-test:${name}:${crypto.randomUUID()}:`
  afterAll(async () => {
    if (serverUrl === "") return
    const keys = await keysUnder(prefix)
    if (keys.length === 0) return
    const redis = new IORedis(serverUrl)
    try {
      await redis.del(...keys)
    } finally {
      redis.disconnect()
    }
  })
  return prefix
}

/** Whether this machine can run a Redis server of a test's own. */
export const canRunServer = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0

/** A Redis server of the test's own: its URL and the outage switches. */
export interface RedisServerService {
  readonly url: string
  /** Stops the server (`SHUTDOWN NOSAVE`): connections are cut, new ones refused. */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port (empty: it keeps nothing). */
  readonly start: Effect.Effect<void>
}

/** The Redis server of this test. */
export class RedisServer extends Context.Tag("test/RedisServer")<RedisServer, RedisServerService>() {}

const makeServer = Effect.gen(function* () {
  const port = yield* Effect.promise(freePort)
  const dir = mkdtempSync(join(tmpdir(), "effect-users-redis-"))
  const cli = (...args: Array<string>) => spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" })
  const start = () => {
    execFileSync("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "yes",
      "--dir",
      dir,
      "--pidfile",
      join(dir, "redis.pid"),
      "--logfile",
      join(dir, "redis.log")
    ])
    for (let i = 0; i < 100 && cli("ping").stdout.trim() !== "PONG"; i++) spawnSync("sleep", ["0.05"])
  }
  const stop = () => void cli("shutdown", "nosave")
  yield* acquireServer(start, () => {
    stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return RedisServer.of({ url: `redis://127.0.0.1:${port}`, stop: Effect.sync(stop), start: Effect.sync(start) })
})

/** A fresh server for the layer's lifetime. */
export const serverLayer: Layer.Layer<RedisServer> = Layer.scoped(RedisServer, makeServer)

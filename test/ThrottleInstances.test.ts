import { type ChildProcess, spawn } from "node:child_process"
import { rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Redis } from "ioredis"

const root = new URL("../", import.meta.url).pathname
const prefix = `effect-users-test:instances:${process.pid}:${Date.now().toString(36)}:`

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(address)))
    })
  })

interface Instance {
  readonly process: ChildProcess
  readonly base: string
  readonly file: string
}

const start = async (name: string): Promise<Instance> => {
  const port = await freePort()
  const file = join(tmpdir(), `effect-users-throttle-${name}-${process.pid}.db`)
  rmSync(file, { force: true })
  const child = spawn(process.execPath, ["--import", "tsx", "examples/server.ts"], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      SQLITE_FILE: file,
      DATABASE_URL: "",
      REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      USERS_THROTTLE_PREFIX: prefix
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Listening on")) resolve()
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.on("exit", (code) => reject(new Error(`server ${name} exited (${code}): ${output}`)))
  })
  return { process: child, base: `http://127.0.0.1:${port}`, file }
}

const login = async (instance: Instance, username: string) => {
  const response = await fetch(`${instance.base}/auth/jwt/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password: "wrong-password" })
  })
  await response.text()
  return response.status
}

describe("two server processes sharing one Redis", () => {
  let a: Instance
  let b: Instance

  beforeAll(async () => {
    ;[a, b] = await Promise.all([start("a"), start("b")])
  }, 60_000)

  afterAll(async () => {
    for (const instance of [a, b]) {
      instance?.process.kill("SIGKILL")
      if (instance) rmSync(instance.file, { force: true })
    }
    // The account counts live for a day: remove this run's keys (and only those).
    const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  it("share the per-account count and the per-client count", { timeout: 60_000 }, async () => {
    const email = `shared.${Date.now().toString(36)}@camelot.bt`
    const statuses: Array<number> = []
    // Five free attempts, spread over both instances; the sixth is refused by either.
    for (let i = 0; i < 5; i++) statuses.push(await login(i % 2 === 0 ? a : b, email))
    assert.deepStrictEqual(statuses, [400, 400, 400, 400, 400])
    assert.strictEqual(await login(b, email), 429)
    assert.strictEqual(await login(a, email), 429)
    // The per-client login limit (30 a minute by default): 7 requests so far, 23 more pass, the 31st does not.
    for (let i = 0; i < 23; i++) {
      assert.strictEqual(await login(i % 2 === 0 ? a : b, `other.${i}.${Date.now().toString(36)}@camelot.bt`), 400)
    }
    assert.strictEqual(await login(b, `last.${Date.now().toString(36)}@camelot.bt`), 429)
    assert.strictEqual(await login(a, `last2.${Date.now().toString(36)}@camelot.bt`), 429)
  })
})

import { type ChildProcess, spawn } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, describe, it } from "@effect/vitest"

const root = fileURLToPath(new URL("../", import.meta.url))
const port = 20_000 + (process.pid % 1000)
const base = `http://127.0.0.1:${port}`

// What a fresh clone holds that `npm start` reads (no dist/, no build/); node_modules is shared, read-only.
const copied = [
  "src",
  "examples",
  "scripts",
  "bench/floor.ts",
  "bench/refreshServer.ts",
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json",
  "tsconfig.start.json"
]

/** The command lines of a process and of all its descendants (Linux: /proc). */
const tree = (pid: number): Array<string> => {
  const parents = new Map<number, Array<number>>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)])
    } catch {}
  }
  const lines: Array<string> = []
  const visit = (id: number) => {
    try {
      lines.push(readFileSync(`/proc/${id}/cmdline`, "utf8").split("\0").join(" ").trim())
    } catch {}
    for (const child of parents.get(id) ?? []) visit(child)
  }
  visit(pid)
  return lines
}

// `npm test` exports npm_* variables (this package's among them): the clone gets a clean npm environment.
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_|^init_cwd$/i.test(name))),
  PORT: String(port),
  DATABASE_URL: ""
}

/** `npm start` in its own process group, once it prints "Listening on" (or fails when it exits first). */
const npmStart = (cwd: string) =>
  new Promise<{ readonly child: ChildProcess; readonly output: () => string }>((resolve, reject) => {
    const child = spawn("npm", ["start"], {
      cwd,
      env: { ...env, SQLITE_FILE: join(cwd, "start.db") },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Listening on")) resolve({ child, output: () => output })
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.on("exit", (code) => reject(new Error(`npm start exited (${code}):\n${output}`)))
  })

/** Ends the whole process group (npm, its shell, the server) and waits for npm to exit. */
const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.removeAllListeners("exit")
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    process.kill(-child.pid!, "SIGTERM")
  })

describe("npm start on a fresh clone", () => {
  const clone = mkdtempSync(join(tmpdir(), "effect-users-start-"))
  const running: Array<ChildProcess> = []
  afterAll(async () => {
    for (const child of running) await stop(child)
    rmSync(clone, { recursive: true, force: true })
  })

  it("builds, then serves the built JavaScript with plain node (no tsx); a second start does not rebuild", async () => {
    for (const path of copied) {
      if (path.includes("/")) mkdirSync(join(clone, path, ".."), { recursive: true })
      cpSync(join(root, path), join(clone, path), { recursive: true })
    }
    symlinkSync(join(root, "node_modules"), join(clone, "node_modules"))

    const first = await npmStart(clone)
    running.push(first.child)
    assert.include(first.output(), "npm run build")
    const processes = tree(first.child.pid!)
    assert.isTrue(
      processes.some((line) => /^\S*node( --\S+)* build\/examples\/server\.js$/.test(line)),
      processes.join("\n")
    )
    assert.isFalse(
      processes.some((line) => line.includes("tsx")),
      processes.join("\n")
    )

    const registered = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "gawain@camelot.bt", password: "green-knight-1" })
    })
    assert.strictEqual(registered.status, 201)
    const docs = await fetch(`${base}/docs`)
    assert.strictEqual(docs.status, 200)
    assert.include(await docs.text(), "swagger-ui")
    const openApi = await fetch(`${base}/openapi.json`)
    assert.include(Object.keys(((await openApi.json()) as { paths: object }).paths), "/auth/register")
    await stop(first.child)

    const second = await npmStart(clone)
    running.push(second.child)
    assert.notInclude(second.output(), "npm run build")
  }, 300_000)
})

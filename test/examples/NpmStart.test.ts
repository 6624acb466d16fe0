import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { type ExampleServer, root, startExampleServer } from "../utils/ExampleServer.js"

// What a fresh clone holds that `npm start` reads (no dist/, no build/); node_modules is shared, read-only.
const copied = [
  "src",
  "data/common-passwords.txt",
  "examples",
  "scripts",
  "bench/floor.ts",
  "bench/refreshServer.ts",
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json",
  "tsconfig.start.json",
  "tsconfig.page.json"
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

/** `npm start` in the clone, once it prints "Listening on"; its own SQLite file in the clone. */
const npmStart = (cwd: string) =>
  startExampleServer({ command: ["npm", "start"], cwd, env: { SQLITE_FILE: join(cwd, "start.db") }, timeout: 240_000 })

describe("npm start on a fresh clone", () => {
  const clone = mkdtempSync(join(tmpdir(), "effect-users-start-"))
  const running: Array<ExampleServer> = []
  afterAll(async () => {
    for (const server of running) await server.stop()
    rmSync(clone, { recursive: true, force: true })
  })

  it("builds, then serves the built JavaScript with plain node (no tsx); a second start does not rebuild", async () => {
    for (const path of copied) {
      if (path.includes("/")) mkdirSync(join(clone, path, ".."), { recursive: true })
      cpSync(join(root, path), join(clone, path), { recursive: true })
    }
    symlinkSync(join(root, "node_modules"), join(clone, "node_modules"))

    const first = await npmStart(clone)
    running.push(first)
    assert.include(first.output(), "npm run build")
    // The sign-in page and its module, compiled with the rest.
    const page = await fetch(`${first.base}/`)
    assert.strictEqual(page.status, 200)
    assert.include(await page.text(), '<script type="module" src="/page.js">')
    const module = await fetch(`${first.base}/page.js`)
    assert.strictEqual(module.status, 200)
    const script = await module.text()
    assert.strictEqual(script, readFileSync(join(clone, "build/examples/page/page.js"), "utf8"))
    // One bundle: the QR code library is inside, the browser resolves no bare import.
    assert.notMatch(script, /^import\s/m)
    assert.include(script, "toCanvas")
    // The sign-in mail's link opens the page.
    const landing = await fetch(`${first.base}/magic-link?token=x`)
    assert.strictEqual(landing.status, 200)
    assert.include(await landing.text(), '<script type="module" src="/page.js">')
    const processes = tree(first.process.pid!)
    assert.isTrue(
      processes.some((line) => /^\S*node( --\S+)* build\/examples\/server\.js$/.test(line)),
      processes.join("\n")
    )
    assert.isFalse(
      processes.some((line) => line.includes("tsx")),
      processes.join("\n")
    )

    const registered = await fetch(`${first.base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "gawain@camelot.bt", password: "green-knight-of-the-chapel" })
    })
    assert.strictEqual(registered.status, 201)
    const docs = await fetch(`${first.base}/docs`)
    assert.strictEqual(docs.status, 200)
    assert.include(await docs.text(), "swagger-ui")
    const openApi = await fetch(`${first.base}/openapi.json`)
    assert.include(Object.keys(((await openApi.json()) as { paths: object }).paths), "/auth/register")
    await first.stop()

    const second = await npmStart(clone)
    running.push(second)
    assert.notInclude(second.output(), "npm run build")
  }, 300_000)
})

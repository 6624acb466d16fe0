import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { waitFor } from "./utils/Eventually.js"

const root = new URL("../", import.meta.url).pathname
const file = join(tmpdir(), `effect-users-server-test-${process.pid}.db`)
const port = 18_000 + (process.pid % 1000)
const base = `http://127.0.0.1:${port}`

describe("npm start (examples/server.ts)", () => {
  let server: ChildProcess
  let output = ""

  beforeAll(async () => {
    rmSync(file, { force: true })
    server = spawn(process.execPath, ["--import", "tsx", "examples/server.ts"], {
      cwd: root,
      env: { ...process.env, PORT: String(port), SQLITE_FILE: file, DATABASE_URL: "", REDIS_URL: "" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes("Listening on")) resolve()
      }
      server.stdout!.on("data", onData)
      server.stderr!.on("data", onData)
      server.on("exit", (code) => reject(new Error(`server exited (${code}): ${output}`)))
    })
  })

  afterAll(() => {
    server.kill("SIGKILL")
    rmSync(file, { force: true })
  })

  it("warns loudly about development secrets and creates the SQLite file", () => {
    assert.include(output, "DEVELOPMENT SECRETS IN USE")
    assert.include(output, "127.0.0.1")
    assert.isTrue(existsSync(file))
  })

  it("serves the API and /docs; hooks print the verification token", async () => {
    const email = `merlin.${Date.now()}@camelot.bt`
    const password = "correct-horse-battery"
    const json = { "content-type": "application/json" }
    const registered = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ email, password })
    })
    assert.strictEqual(registered.status, 201)
    const login = await fetch(`${base}/auth/jwt/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: email, password })
    })
    assert.strictEqual(login.status, 200)
    const { access_token } = (await login.json()) as { access_token: string }
    const me = await fetch(`${base}/users/me`, { headers: { authorization: `Bearer ${access_token}` } })
    assert.strictEqual(me.status, 200)
    assert.strictEqual(((await me.json()) as { email: string }).email, email)

    await fetch(`${base}/auth/request-verify-token`, { method: "POST", headers: json, body: JSON.stringify({ email }) })
    const token = /Verification token: [\w-]+\.[\w-]+\.[\w-]+/
    await waitFor(() => token.test(output), "the verification token in the server's output")
    assert.notInclude(output, password)

    const docs = await fetch(`${base}/docs`)
    assert.strictEqual(docs.status, 200)
    assert.include(await docs.text(), "swagger-ui")
  })

  it("shuts down cleanly on SIGTERM", async () => {
    server.removeAllListeners("exit")
    const done = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)))
    server.kill("SIGTERM")
    const code = await done
    assert.strictEqual(code, 0)
  })
})

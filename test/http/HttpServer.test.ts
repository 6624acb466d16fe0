import { existsSync, readdirSync, readFileSync } from "node:fs"
import { request } from "node:http"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { waitFor } from "../utils/Eventually.js"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"

describe("npm start (examples/server.ts)", () => {
  let server: ExampleServer
  let base = ""
  const output = () => server.output()

  beforeAll(async () => {
    server = await startExampleServer()
    base = server.base
  }, 60_000)

  afterAll(() => server?.stop())

  it("warns loudly about development secrets and creates the SQLite file", () => {
    assert.include(output(), "DEVELOPMENT SECRETS IN USE")
    assert.include(output(), "127.0.0.1")
    assert.isTrue(existsSync(server.sqliteFile))
  })

  it("serves the API and /docs; the console mailer prints the verification link", async () => {
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
    // Without SMTP_URL the outbox's mails are printed: the verification link with its token.
    const token = /\/verify\?token=[\w-]+\.[\w-]+\.[\w-]+/
    await waitFor(() => token.test(output()), "the verification link in the server's output")
    assert.notInclude(output(), password)

    const docs = await fetch(`${base}/docs`)
    assert.strictEqual(docs.status, 200)
    assert.include(await docs.text(), "swagger-ui")
  })

  it.skipIf(!existsSync("/proc/self/task"))(
    "starts no hashing thread for its start-up hash or a lone login; logins at once start them",
    async () => {
      // The hashing threads are the process's niced threads (proc(5): field 19 of a thread's stat).
      const hashingThreads = () =>
        readdirSync(`/proc/${server.process.pid}/task`).filter((tid) => {
          const stat = readFileSync(`/proc/${server.process.pid}/task/${tid}/stat`, "utf8")
          return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]) > 0
        }).length
      const email = `lone.${Date.now()}@camelot.bt`
      const password = "correct-horse-battery"
      const register = await fetch(`${base}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password })
      })
      assert.strictEqual(register.status, 201)
      const login = () =>
        fetch(`${base}/auth/jwt/login`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ username: email, password })
        }).then((reply) => reply.status)
      assert.strictEqual(await login(), 200)
      assert.strictEqual(hashingThreads(), 0)
      assert.deepStrictEqual(await Promise.all([login(), login(), login(), login()]), [200, 200, 200, 200])
      assert.isAbove(hashingThreads(), 0)
    },
    30_000
  )

  it("answers 60 MB uploads 413 and every client reads it (the body limit finds each request's Node socket)", async () => {
    // The server runs in a process of its own: without the lingering close, its reset beats the 413 to the client.
    const upload = (chunked: boolean) =>
      new Promise<string>((resolve) => {
        const headers: Record<string, string> = { "content-type": "application/json" }
        if (!chunked) headers["content-length"] = String(60 * 1024 * 1024)
        const req = request(`${base}/auth/register`, { method: "POST", headers })
        let done = false
        req.on("response", (res) => {
          done = true
          let body = ""
          res.on("data", (chunk: Buffer) => {
            body += chunk
          })
          res.on("end", () => resolve(`${res.statusCode} ${body}`))
        })
        req.on("error", (error: NodeJS.ErrnoException) => {
          if (!done) resolve(`ERR ${error.code}`)
        })
        const chunk = Buffer.alloc(64 * 1024, "a")
        let sent = 0
        const pump = () => {
          while (!done && sent < 60 * 1024 * 1024) {
            sent += chunk.length
            if (!req.write(chunk)) return void req.once("drain", pump)
          }
          if (!done) req.end()
        }
        pump()
      })
    const replies = await Promise.all([true, false, true, false].map(upload))
    assert.deepStrictEqual(replies, Array(4).fill(`413 ${JSON.stringify({ detail: "PAYLOAD_TOO_LARGE" })}`))
  }, 30_000)

  it("shuts down cleanly on SIGTERM", async () => {
    const child = server.process
    const done = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    const code = await done
    assert.strictEqual(code, 0)
  })
})

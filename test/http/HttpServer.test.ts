import { existsSync } from "node:fs"
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
    await waitFor(() => token.test(output()), "the verification token in the server's output")
    assert.notInclude(output(), password)

    const docs = await fetch(`${base}/docs`)
    assert.strictEqual(docs.status, 200)
    assert.include(await docs.text(), "swagger-ui")
  })

  it("shuts down cleanly on SIGTERM", async () => {
    const child = server.process
    const done = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    const code = await done
    assert.strictEqual(code, 0)
  })
})

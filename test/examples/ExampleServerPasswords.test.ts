/**
 * `npm start`'s password policy (`examples/passwordPolicy.ts`): NIST SP 800-63B-4's 15 characters unless
 * USERS_PASSWORD_POLICY=compat (FastAPI Users' 8); both refuse common passwords and the e-mail's words, with
 * FastAPI Users' error bodies, and never echo the password.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"

const json = { "content-type": "application/json" }

const register = async (server: ExampleServer, email: string, password: string) => {
  const response = await fetch(`${server.base}/auth/register`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ email, password })
  })
  const text = await response.text()
  assert.notInclude(text, password)
  return { status: response.status, body: JSON.parse(text) as { readonly detail?: unknown } }
}

const refused = (reason: string) => ({
  status: 400,
  body: { detail: { code: "REGISTER_INVALID_PASSWORD", reason } }
})

describe("npm start's password policy", () => {
  const servers: Record<string, ExampleServer> = {}
  beforeAll(async () => {
    const [nist, compat] = await Promise.all([
      startExampleServer(),
      startExampleServer({ env: { USERS_PASSWORD_POLICY: "compat" } })
    ])
    servers.nist = nist
    servers.compat = compat
  }, 120_000)
  afterAll(async () => {
    await Promise.all(Object.values(servers).map((server) => server.stop()))
  })

  it("by default, NIST's: 15 characters at least, no common password, no word of the e-mail", async () => {
    const server = servers.nist!
    assert.deepStrictEqual(
      await register(server, "gawain@camelot.bt", "violet kettle"),
      refused("Password should be at least 15 characters")
    )
    assert.deepStrictEqual(
      await register(server, "gawain@camelot.bt", "1234567890qwertyuiop"),
      refused("Password is too common")
    )
    assert.deepStrictEqual(
      await register(server, "gawain@camelot.bt", "Gawain and the green knight"),
      refused("Password should not contain parts of your e-mail address")
    )
    const created = await register(server, "gawain@camelot.bt", "violet kettle h")
    assert.strictEqual(created.status, 201)
  })

  it("USERS_PASSWORD_POLICY=compat: 8 characters, still no common password", async () => {
    const server = servers.compat!
    assert.deepStrictEqual(
      await register(server, "percival@camelot.bt", "violet "),
      refused("Password should be at least 8 characters")
    )
    assert.deepStrictEqual(
      await register(server, "percival@camelot.bt", "Password1"),
      refused("Password is too common")
    )
    const created = await register(server, "percival@camelot.bt", "violet k")
    assert.strictEqual(created.status, 201)
  })

  it("another USERS_PASSWORD_POLICY stops the start with a message naming the variable", async () => {
    const error = await startExampleServer({ env: { USERS_PASSWORD_POLICY: "lenient" }, timeout: 60_000 }).then(
      (server) => server.stop().then(() => undefined),
      (error: Error) => error
    )
    assert.instanceOf(error, Error)
    assert.include(error!.message, "USERS_PASSWORD_POLICY")
  }, 90_000)
})

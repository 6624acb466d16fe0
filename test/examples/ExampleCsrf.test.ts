/**
 * `npm start` and CSRF: `USERS_ALLOWED_ORIGINS` lists the origins besides the server's own whose pages may use the
 * auth cookie; another origin's cookie request answers 403 CSRF_REJECTED; a malformed entry stops the start.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"

describe("npm start: USERS_ALLOWED_ORIGINS", () => {
  let server: ExampleServer | undefined
  afterAll(() => server?.stop())

  it("another origin's cookie request is refused; the server's own origin and the listed one are accepted", async () => {
    server = await startExampleServer({
      env: { USERS_ALLOWED_ORIGINS: "https://app.example.com, http://localhost:5173" }
    })
    const { base } = server
    const email = freshEmail("csrf-start")
    const registered = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password })
    })
    assert.strictEqual(registered.status, 201)
    const login = await fetch(`${base}/auth/cookie/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: email, password })
    })
    assert.strictEqual(login.status, 204)
    const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!
    const patch = (origin: string) =>
      fetch(`${base}/users/me`, {
        method: "PATCH",
        headers: { cookie, origin, "content-type": "application/json" },
        body: JSON.stringify({ is_active: true })
      })
    const refused = await patch("https://evil.example")
    assert.deepStrictEqual([refused.status, await refused.json()], [403, { detail: "CSRF_REJECTED" }])
    for (const origin of [base, "https://app.example.com", "http://localhost:5173"]) {
      assert.strictEqual((await patch(origin)).status, 200, origin)
    }
  })

  it("an entry that is not an origin stops the server with a message naming the variable", async () => {
    const failed = await startExampleServer({ env: { USERS_ALLOWED_ORIGINS: "app.example.com" } }).then(
      (started) => started.stop().then(() => "started"),
      (error: Error) => error.message
    )
    assert.include(failed, "USERS_ALLOWED_ORIGINS")
    assert.include(failed, "app.example.com")
  })
})

/**
 * `npm start` with REDIS_URL keeps the cookie backend's sessions in Redis (keys under REDIS_KEY_PREFIX): login
 * writes the hashed token there, the cookie authenticates, logout deletes it. Without REDIS_URL (the other
 * example tests pass it empty) the sessions stay in the database.
 */
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"
import { describeRedis, freshPrefix, keysUnder, serverUrl } from "../utils/RedisTest.js"

describeRedis("npm start with REDIS_URL", () => {
  const prefix = freshPrefix("server")
  let server: ExampleServer
  let base = ""

  beforeAll(async () => {
    server = await startExampleServer({ env: { REDIS_URL: serverUrl, REDIS_KEY_PREFIX: prefix } })
    base = server.base
  }, 60_000)

  afterAll(() => server?.stop())

  it("cookie sessions live in Redis: login writes the token's digest, logout deletes it", async () => {
    assert.include(server.output(), `Sessions: Redis (REDIS_URL), keys under ${prefix}`)
    const email = `gawain.${Date.now()}@camelot.bt`
    const password = "correct-horse-battery"
    const registered = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password })
    })
    assert.strictEqual(registered.status, 201)
    const { id } = (await registered.json()) as { id: string }
    const login = await fetch(`${base}/auth/cookie/login`, {
      method: "POST",
      body: new URLSearchParams({ username: email, password })
    })
    assert.strictEqual(login.status, 204)
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!
    const token = cookie.slice(cookie.indexOf("=") + 1)
    const keys = await keysUnder(prefix)
    assert.includeMembers(keys, [`${prefix}user:${id}`, `${prefix}issued`])
    assert.lengthOf(
      keys.filter((key) => key.startsWith(`${prefix}token:`)),
      1
    )
    assert.isFalse(
      keys.some((key) => key.includes(token)),
      "the token itself is never a key"
    )
    assert.strictEqual((await fetch(`${base}/users/me`, { headers: { cookie } })).status, 200)
    assert.strictEqual((await fetch(`${base}/auth/cookie/logout`, { method: "POST", headers: { cookie } })).status, 204)
    assert.deepStrictEqual(await keysUnder(prefix), [], "logout leaves no key behind")
    assert.strictEqual((await fetch(`${base}/users/me`, { headers: { cookie } })).status, 401)
  })
})

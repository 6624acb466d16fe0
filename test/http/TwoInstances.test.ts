/**
 * Two server processes (`examples/server.ts`) on one PostgreSQL database agree on every session: a JWT
 * logged out on A is refused by B, logout-all on B ends A's sessions, both list the same sessions, and a
 * password reset on A ends the JWT and cookie sessions B serves. Run with the cookie sessions (and the JWT
 * deny-list) in PostgreSQL, and again with them and the throttle counts in one Redis.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { waitFor } from "../utils/Eventually.js"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { serverUrl as redisUrl } from "../utils/RedisTest.js"

type Instance = ExampleServer

/** The same suite without Redis (sessions in PostgreSQL) and, when a Redis server is available, with it. */
const variants = [
  { name: "cookie sessions in PostgreSQL", env: {} },
  ...(redisUrl === ""
    ? []
    : [{ name: "cookie sessions and throttle counts in one Redis", env: { REDIS_URL: redisUrl } }])
]

describePg("two instances on one PostgreSQL database", () => {
  describe.each(variants)("$name", ({ env }) => {
    const db = freshDatabase()
    let a: Instance
    let b: Instance

    beforeAll(async () => {
      // One after the other: the second finds the migrations applied. Both share one Redis key prefix.
      a = await startExampleServer({ env: { ...env, DATABASE_URL: db.url, COOKIE_SECURE: "false" } })
      b = await startExampleServer({
        env: {
          ...env,
          DATABASE_URL: db.url,
          COOKIE_SECURE: "false",
          REDIS_KEY_PREFIX: `${a.prefix}sessions:`,
          USERS_THROTTLE_PREFIX: `${a.prefix}throttle:`
        }
      })
      if ("REDIS_URL" in env) assert.include(b.output(), "Sessions: Redis (REDIS_URL)")
    }, 60_000)

    afterAll(async () => {
      await b?.stop()
      await a?.stop()
    })

    const password = "correct-horse-battery"
    const form = { "content-type": "application/x-www-form-urlencoded" }
    const json = { "content-type": "application/json" }
    const jwtLogin = async (on: Instance, email: string, pass = password) => {
      const reply = await fetch(`${on.base}/auth/jwt/login`, {
        method: "POST",
        headers: form,
        body: new URLSearchParams({ username: email, password: pass })
      })
      return { authorization: `Bearer ${((await reply.json()) as { access_token: string }).access_token}` }
    }
    const cookieLogin = async (on: Instance, email: string) => {
      const reply = await fetch(`${on.base}/auth/cookie/login`, {
        method: "POST",
        headers: form,
        body: new URLSearchParams({ username: email, password })
      })
      return { cookie: (reply.headers.get("set-cookie") ?? "").split(";")[0]! }
    }
    const me = async (on: Instance, headers: Record<string, string>) =>
      (await fetch(`${on.base}/users/me`, { headers })).status
    const post = async (on: Instance, path: string, headers: Record<string, string>) =>
      (await fetch(`${on.base}${path}`, { method: "POST", headers })).status
    const register = async () => {
      const email = `two.${Date.now()}.${Math.random().toString(36).slice(2)}@camelot.bt`
      const reply = await fetch(`${a.base}/auth/register`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ email, password })
      })
      assert.strictEqual(reply.status, 201)
      return email
    }

    it("a JWT logged out on A is refused on B; the other JWT and the cookie still work on both", async () => {
      const email = await register()
      const [dropped, kept, cookie] = [await jwtLogin(a, email), await jwtLogin(b, email), await cookieLogin(b, email)]
      for (const on of [a, b])
        for (const headers of [dropped, kept, cookie]) assert.strictEqual(await me(on, headers), 200)
      assert.strictEqual(await post(a, "/auth/jwt/logout", dropped), 204)
      assert.deepStrictEqual([await me(b, dropped), await me(a, dropped)], [401, 401])
      for (const on of [a, b]) for (const headers of [kept, cookie]) assert.strictEqual(await me(on, headers), 200)
    }, 30_000)

    it("both list the same sessions; logout-all on B ends every session on A", async () => {
      const email = await register()
      const [jwt, first, second] = [await jwtLogin(a, email), await cookieLogin(a, email), await cookieLogin(b, email)]
      const ids = async (on: Instance) => {
        const reply = await fetch(`${on.base}/users/me/sessions`, { headers: jwt })
        return ((await reply.json()) as Array<{ id: string }>).map((session) => session.id).sort()
      }
      const listed = await ids(a)
      assert.lengthOf(listed, 2)
      assert.deepStrictEqual(await ids(b), listed)
      assert.strictEqual(await post(b, "/auth/logout-all", second), 204)
      for (const headers of [jwt, first, second]) assert.strictEqual(await me(a, headers), 401)
    }, 30_000)

    it("a password reset on A ends the JWT and cookie sessions on B", async () => {
      const email = await register()
      const [jwt, cookie] = [await jwtLogin(b, email), await cookieLogin(b, email)]
      const [beforeA, beforeB] = [a.output().length, b.output().length]
      await fetch(`${a.base}/auth/forgot-password`, { method: "POST", headers: json, body: JSON.stringify({ email }) })
      // The outbox is shared: either instance's worker may print the reset link.
      const pattern = /\/reset-password\?token=([\w-]+\.[\w-]+\.[\w-]+)/
      const printed = () => a.output().slice(beforeA) + b.output().slice(beforeB)
      await waitFor(() => pattern.test(printed()), "the reset link in A's or B's output", 10_000)
      const token = pattern.exec(printed())![1]!
      const reset = await fetch(`${a.base}/auth/reset-password`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ token, password: "a-password-after-reset" })
      })
      assert.strictEqual(reset.status, 200)
      assert.deepStrictEqual([await me(b, jwt), await me(b, cookie)], [401, 401])
      assert.strictEqual(await me(b, await jwtLogin(b, email, "a-password-after-reset")), 200)
    }, 30_000)
  })
})

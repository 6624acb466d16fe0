/**
 * The scenario of issue 19 (item 3), against two example-server processes on one PostgreSQL database: for 60 s a
 * stranger guesses the owner's password from ever new clients, retrying the moment each `Retry-After` ends, on
 * both instances; meanwhile the owner logs in every 3 s, alternately on each instance, from the client that
 * logged in before (its device token: a header on the bearer backend, the cookie on the cookie backend). Every
 * one of the owner's logins succeeds; the stranger is still slowed. Run with the throttle's counts in each
 * process's memory, and in one Redis shared by both.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { serverUrl as redisUrl } from "../utils/RedisTest.js"

const variants = [
  { name: "counts in each process's memory", env: {} },
  ...(redisUrl === "" ? [] : [{ name: "counts in one Redis", env: { REDIS_URL: redisUrl } }])
]

const password = "correct-horse-battery"
const attackSeconds = 60
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const post = async (url: string, body: URLSearchParams | string, headers: Record<string, string>) => {
  const reply = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": typeof body === "string" ? "application/json" : "application/x-www-form-urlencoded",
      ...headers
    },
    body
  })
  await reply.arrayBuffer()
  return reply
}

describePg("a stranger guessing at the pace of Retry-After never refuses the owner's known device", () => {
  describe.each(variants)("$name", ({ env }) => {
    const db = freshDatabase()
    let a: ExampleServer
    let b: ExampleServer

    beforeAll(async () => {
      // The clients are named by X-Forwarded-For (the test is the trusted proxy): the stranger's are all others.
      const common = { ...env, DATABASE_URL: db.url, USERS_TRUSTED_PROXIES: "127.0.0.1" }
      a = await startExampleServer({ env: common })
      b = await startExampleServer({
        env: {
          ...common,
          REDIS_KEY_PREFIX: `${a.prefix}sessions:`,
          USERS_THROTTLE_PREFIX: `${a.prefix}throttle:`
        }
      })
    }, 60_000)

    afterAll(async () => {
      await b?.stop()
      await a?.stop()
    })

    it("every owner login succeeds, on both instances; the stranger meets 429s", { timeout: 120_000 }, async () => {
      const email = `owner.${Date.now().toString(36)}@camelot.bt`
      const owner = { "x-forwarded-for": "198.51.100.7" }
      assert.strictEqual(
        (await post(`${a.base}/auth/register`, JSON.stringify({ email, password }), owner)).status,
        201
      )
      const form = (pass: string) => new URLSearchParams({ username: email, password: pass })
      // The owner's two clients log in once before the attack: a bearer client and a browser.
      const first = await post(`${a.base}/auth/jwt/login`, form(password), owner)
      let device = first.headers.get("device-token")!
      assert.isString(device)
      const firstCookie = await post(`${b.base}/auth/cookie/login`, form(password), owner)
      let cookie = firstCookie.headers.getSetCookie().find((line) => line.startsWith("effectusersdevice="))!
      assert.isString(cookie)
      cookie = cookie.split(";")[0]!

      const end = Date.now() + attackSeconds * 1000
      const stranger = { guesses: 0, refused: 0, longestWait: 0 }
      const attack = async () => {
        for (let i = 0; Date.now() < end; i++) {
          const on = i % 2 === 0 ? a : b
          const reply = await post(`${on.base}/auth/jwt/login`, form(`guess-${i}`), {
            "x-forwarded-for": `203.0.113.${(i % 250) + 1}`
          })
          if (reply.status === 429) {
            stranger.refused++
            const wait = Number(reply.headers.get("retry-after")) * 1000
            stranger.longestWait = Math.max(stranger.longestWait, wait)
            await sleep(Math.min(wait, end - Date.now()))
          } else {
            assert.strictEqual(reply.status, 400)
            stranger.guesses++
          }
        }
      }
      const statuses: Array<string> = []
      const logins = async () => {
        for (let i = 0; Date.now() < end; i++) {
          await sleep(3000)
          const on = i % 2 === 0 ? b : a
          if (i % 4 < 2) {
            const reply = await post(`${on.base}/auth/jwt/login`, form(password), { ...owner, "device-token": device })
            statuses.push(`${i} jwt ${reply.status}`)
            device = reply.headers.get("device-token") ?? device
          } else {
            const reply = await post(`${on.base}/auth/cookie/login`, form(password), { ...owner, cookie })
            statuses.push(`${i} cookie ${reply.status}`)
          }
        }
      }
      await Promise.all([attack(), logins()])
      assert.isAtLeast(statuses.length, 15)
      assert.deepStrictEqual(
        statuses.filter((status) => !/ (200|204)$/.test(status)),
        [],
        statuses.join(", ")
      )
      // The stranger was slowed: refused, made to wait ever longer, a bounded number of guesses checked.
      assert.isAbove(stranger.refused, 0)
      assert.isAtLeast(stranger.longestWait, 16_000)
      assert.isBelow(stranger.guesses, "REDIS_URL" in env ? 15 : 30)
    })
  })
})

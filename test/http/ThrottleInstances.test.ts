/**
 * Two server processes on one Redis share the throttle's counts: the per-account back-off and the per-client limit
 * apply across both.
 */
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"
import { describeRedis, serverUrl as redisUrl } from "../utils/RedisTest.js"

type Instance = ExampleServer

const login = async (instance: Instance, username: string) => {
  const response = await fetch(`${instance.base}/auth/jwt/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password: "wrong-password" })
  })
  await response.text()
  return response.status
}

describeRedis("two server processes sharing one Redis", () => {
  let a: Instance
  let b: Instance

  beforeAll(async () => {
    a = await startExampleServer({ env: { REDIS_URL: redisUrl } })
    // B counts under A's prefix: the two share every count (and A's stop removes them).
    b = await startExampleServer({ env: { REDIS_URL: redisUrl, USERS_THROTTLE_PREFIX: `${a.prefix}throttle:` } })
  }, 60_000)

  afterAll(async () => {
    await b?.stop()
    await a?.stop()
  })

  it("share the per-account count and the per-client count", { timeout: 60_000 }, async () => {
    const email = `shared.${Date.now().toString(36)}@camelot.bt`
    const statuses: Array<number> = []
    // Five free attempts, spread over both instances; the sixth is refused by either.
    for (let i = 0; i < 5; i++) statuses.push(await login(i % 2 === 0 ? a : b, email))
    assert.deepStrictEqual(statuses, [400, 400, 400, 400, 400])
    assert.strictEqual(await login(b, email), 429)
    assert.strictEqual(await login(a, email), 429)
    // The per-client login limit (30 a minute by default): 7 requests so far, 23 more pass, the 31st does not.
    for (let i = 0; i < 23; i++) {
      assert.strictEqual(await login(i % 2 === 0 ? a : b, `other.${i}.${Date.now().toString(36)}@camelot.bt`), 400)
    }
    assert.strictEqual(await login(b, `last.${Date.now().toString(36)}@camelot.bt`), 429)
    assert.strictEqual(await login(a, `last2.${Date.now().toString(36)}@camelot.bt`), 429)
  })
})

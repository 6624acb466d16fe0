/**
 * A master of the Redis Cluster dies under two app instances (`npm start` with REDIS_CLUSTER_NODES, one PostgreSQL
 * database; issue 24): while its replica is promoted, live sessions answer 200 or 503 (never 500) and logged-out
 * ones 401 or 503 (never 200); afterwards everything works again by itself, and every token logged out before the
 * crash (its revocation acknowledged by the replica, `WAIT`) stays refused. The promoted master has no replica until
 * the dead node returns: revocations on its slots answer 503 until then, and 204 after.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Redis as IORedis } from "ioredis"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"
import { freshDatabase, serverUrl as pgUrl } from "../utils/PgTest.js"
import { canRunCluster, startRedisCluster } from "../utils/RedisCluster.js"

const cluster = canRunCluster ? await startRedisCluster() : undefined
afterAll(() => cluster?.destroy())
const canRunPg = pgUrl !== ""

const password = "correct-horse-battery"
const form = { "content-type": "application/x-www-form-urlencoded" }

interface Account {
  readonly id: string
  readonly email: string
  readonly live: ReadonlyArray<Record<string, string>>
  readonly dead: ReadonlyArray<Record<string, string>>
}

describe.skipIf(cluster === undefined || !canRunPg)("a master dies under two instances sharing a Redis Cluster", () => {
  const db = freshDatabase()
  const prefix = `effect-users-test:failover:${crypto.randomUUID()}:`
  let a: ExampleServer
  let b: ExampleServer

  beforeAll(async () => {
    const env = {
      DATABASE_URL: db.url,
      COOKIE_SECURE: "false",
      REDIS_CLUSTER_NODES: cluster!.nodeList,
      REDIS_KEY_PREFIX: `${prefix}sessions:`,
      USERS_THROTTLE_PREFIX: `${prefix}throttle:`,
      USERS_RATE_LIMITS: "off"
    }
    a = await startExampleServer({ env })
    b = await startExampleServer({ env })
  }, 60_000)

  afterAll(async () => {
    await b?.stop()
    await a?.stop()
  })

  const post = (on: ExampleServer, path: string, headers: Record<string, string>, body?: URLSearchParams) =>
    fetch(`${on.base}${path}`, { method: "POST", headers, ...(body === undefined ? {} : { body }) })
  const me = async (on: ExampleServer, headers: Record<string, string>) =>
    (await fetch(`${on.base}/users/me`, { headers })).status
  const cookieLogin = async (on: ExampleServer, email: string) => {
    const reply = await post(on, "/auth/cookie/login", form, new URLSearchParams({ username: email, password }))
    assert.strictEqual(reply.status, 204)
    return { cookie: (reply.headers.get("set-cookie") ?? "").split(";")[0]! }
  }
  const jwtLogin = async (on: ExampleServer, email: string) => {
    const reply = await post(on, "/auth/jwt/login", form, new URLSearchParams({ username: email, password }))
    assert.strictEqual(reply.status, 200)
    return { authorization: `Bearer ${((await reply.json()) as { access_token: string }).access_token}` }
  }
  const logout = async (on: ExampleServer, headers: Record<string, string>) =>
    (await post(on, "cookie" in headers ? "/auth/cookie/logout" : "/auth/jwt/logout", headers)).status

  it("sessions survive the failover, logged-out tokens stay refused, and the store recovers by itself", async () => {
    assert.include(a.output(), "Sessions: Redis Cluster (REDIS_CLUSTER_NODES)")
    const accounts: Array<Account> = []
    for (let i = 0; i < 12; i++) {
      const email = `failover.${i}.${Date.now()}@camelot.bt`
      const registered = await fetch(`${a.base}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password })
      })
      assert.strictEqual(registered.status, 201)
      const id = ((await registered.json()) as { id: string }).id
      const live = [await cookieLogin(a, email), await jwtLogin(b, email)]
      const dead = [await cookieLogin(b, email), await jwtLogin(a, email)]
      // Logged out on the other instance: the revocation is acknowledged by a replica before the 204.
      assert.strictEqual(await logout(b, dead[0]!), 204)
      assert.strictEqual(await logout(a, dead[1]!), 204)
      accounts.push({ id, email, live, dead })
    }

    // The master of the first user's slot dies, as a crashed machine would.
    const admin = new IORedis(cluster!.nodes[0]!.port, "127.0.0.1")
    const slotOf = async (account: Account) =>
      Number(await admin.call("CLUSTER", "KEYSLOT", `${prefix}sessions:{u:${account.id}}:tokens`))
    const victim = cluster!.masterOf(await slotOf(accounts[0]!))!
    const onVictim: Array<Account> = []
    for (const account of accounts) if (cluster!.masterOf(await slotOf(account)) === victim) onVictim.push(account)
    admin.disconnect()
    cluster!.kill(victim)

    const seen = new Map<number, number>()
    const started = Date.now()
    let recovered = false
    while (!recovered) {
      assert.isBelow(Date.now() - started, 40_000, `not recovered: ${JSON.stringify([...seen])}`)
      recovered = true
      for (const account of accounts) {
        for (const on of [a, b]) {
          for (const headers of account.live) {
            const status = await me(on, headers)
            seen.set(status, (seen.get(status) ?? 0) + 1)
            assert.oneOf(status, [200, 503], "a live session: working or 503")
            if (status !== 200) recovered = false
          }
          for (const headers of account.dead) {
            const status = await me(on, headers)
            seen.set(status, (seen.get(status) ?? 0) + 1)
            assert.oneOf(status, [401, 503], "a logged-out token: refused or 503, never accepted")
            if (status !== 401) recovered = false
          }
        }
      }
      const masters = cluster!.topology().map((master) => master.port)
      if (masters.includes(victim) || masters.length !== 3) recovered = false
    }
    assert.isFalse(seen.has(500))

    // Promoted: new logins work on every shard, and the instances agree.
    const newcomer = onVictim[0]!
    const fresh = await cookieLogin(b, newcomer.email)
    assert.strictEqual(await me(a, fresh), 200)
    // The promoted master has no replica yet: a revocation there cannot be made durable, so it answers 503.
    assert.strictEqual(await logout(a, fresh), 503)

    // The dead node comes back, rejoins as the new master's replica, and revocations there are durable again.
    cluster!.restart(victim)
    cluster!.waitHealthy({ timeoutMs: 30_000 })
    // The wait above blocked this process: let fetch see the keep-alive connections the servers closed meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const again = await cookieLogin(a, newcomer.email)
    let status = 0
    for (let i = 0; i < 50 && status !== 204; i++) {
      status = await logout(b, again)
      if (status !== 204) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    assert.strictEqual(status, 204)
    assert.strictEqual(await me(a, again), 401)
    for (const account of accounts) {
      for (const headers of account.dead) assert.strictEqual(await me(b, headers), 401)
      for (const headers of account.live) assert.strictEqual(await me(a, headers), 200)
    }

    // Each instance logged the outage once, and its end once.
    for (const instance of [a, b]) {
      const output = instance.output()
      assert.strictEqual(output.split("Redis Cluster connection lost").length - 1, 1, output)
      assert.strictEqual(output.split("Redis Cluster connection restored").length - 1, 1, output)
    }
  }, 120_000)
})

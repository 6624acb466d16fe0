/**
 * Lockout that only the guesser feels (issue 19, item 3): a login answers a device token; a later login presenting
 * it for that account counts under the device, never under the account, so a stranger's guesses cannot refuse the
 * owner's right password from a client that logged in before. Unknown clients are still slowed and, after
 * `maxAttempts`, refused; forged tokens and other accounts' tokens make a client unknown. And the mail routes
 * (item 6): past the per-address limit they answer 202 and send nothing; their work after the 202 is the same for
 * a known and an unknown address.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Logger, Redacted } from "effect"
import { Throttle, UserManager } from "effect-users"
import { DeviceTransport } from "effect-users/http"
import { defined, eventually } from "../utils/Eventually.js"
import { makeServer, nextToken, type Reply, request } from "../utils/HttpTest.js"
import { ofKind, recording } from "../utils/RecordingSink.js"
import { freshEmail, makeFakeHasher } from "../utils/TestUsers.js"

const db = () => SqliteClient.layer({ filename: ":memory:" })
const password = "correct-horse-battery"
const cookieName = "effectusersdevice"

const register = (email: string) => request("/auth/register", { json: { email, password } })
const login = (username: string, pass: string, headers: Record<string, string> = {}) =>
  request("/auth/jwt/login", { form: { username, password: pass }, headers })
const cookieLogin = (username: string, pass: string, headers: Record<string, string> = {}) =>
  request("/auth/cookie/login", { form: { username, password: pass }, headers })
const withDevice = (token: string) => ({ [DeviceTransport.header]: token })
const withCookie = (token: string) => ({ cookie: `${cookieName}=${token}` })

const deviceCookie = (reply: Reply) => reply.headers.getSetCookie().find((line) => line.startsWith(`${cookieName}=`))
const deviceOf = (reply: Reply) => {
  assert.strictEqual(reply.status === 200 || reply.status === 204, true, `login answered ${reply.status}`)
  const token = reply.headers.get(DeviceTransport.header)
  assert.isString(token)
  return token!
}

const assertThrottled = (reply: Reply) => {
  assert.strictEqual(reply.status, 429)
  assert.deepStrictEqual(reply.body, { detail: "TOO_MANY_REQUESTS" })
}

/** A stranger's wrong guesses from unknown clients until they are refused; the refusal. */
const lockUnknownClients = (email: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 4; i++) assert.strictEqual((yield* login(email, `guess-${i}`)).status, 400)
    const refused = yield* login(email, "guess-refused")
    assertThrottled(refused)
    return refused
  })

// Unknown clients: four free attempts, and the fourth is also the last (`maxAttempts`): refused for a day, the
// hard limit that once locked the owner out too. Devices: three free, then an hour's wait.
layer(
  makeServer(db(), {
    throttle: Throttle.layerMemory({
      clients: { login: false },
      accounts: { freeAttempts: 4, maxAttempts: 4, baseDelay: "1 hour", maxDelay: "1 hour" },
      devices: { freeAttempts: 3, baseDelay: "1 hour", maxDelay: "1 hour" }
    })
  }).layer,
  { excludeTestServices: true }
)("device tokens", (it) => {
  it.effect("a login answers a device token: in a header, and in an HttpOnly, SameSite=Strict cookie on /auth", () =>
    Effect.gen(function* () {
      const email = freshEmail("issued")
      assert.strictEqual((yield* register(email)).status, 201)
      for (const reply of [yield* login(email, password), yield* cookieLogin(email, password)]) {
        const token = deviceOf(reply)
        const cookie = deviceCookie(reply)
        assert.isDefined(cookie)
        assert.include(cookie!, `${cookieName}=${token};`)
        for (const attribute of ["HttpOnly", "SameSite=Strict", "Secure", "Path=/auth", "Max-Age=7776000"]) {
          assert.include(cookie!, attribute)
        }
      }
      // Refused logins get none.
      const wrong = yield* login(email, "wrong-password")
      assert.strictEqual(wrong.status, 400)
      assert.isNull(wrong.headers.get(DeviceTransport.header))
      assert.isUndefined(deviceCookie(wrong))
    })
  )

  it.effect("a stranger locks unknown clients out for a day; the owner's devices (header or cookie) still get in", () =>
    Effect.gen(function* () {
      const email = freshEmail("owner")
      assert.strictEqual((yield* register(email)).status, 201)
      const bearerDevice = deviceOf(yield* login(email, password))
      const browserDevice = deviceOf(yield* cookieLogin(email, password))
      const refused = yield* lockUnknownClients(email)
      assert.isAbove(Number(refused.headers.get("retry-after")), 23 * 3600)
      // Unknown clients stay refused, the right password too: no lookup, no hash, for anyone without a device.
      assertThrottled(yield* login(email, password))
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* login(email, password, withDevice(bearerDevice))).status, 200)
        assert.strictEqual((yield* cookieLogin(email, password, withCookie(browserDevice))).status, 204)
      }
      // The device's successes cleared nothing of the stranger's count.
      assertThrottled(yield* login(email, "guess-after"))
    })
  )

  it.effect("another account's device token, a forged one, an altered one: an unknown client", () =>
    Effect.gen(function* () {
      const victim = freshEmail("victim")
      const attacker = freshEmail("attacker")
      for (const email of [victim, attacker]) assert.strictEqual((yield* register(email)).status, 201)
      const victimDevice = deviceOf(yield* login(victim, password))
      const attackerDevice = deviceOf(yield* login(attacker, password))
      yield* lockUnknownClients(victim)
      const [version, nonce, expiry] = victimDevice.split(".")
      for (const token of [
        attackerDevice,
        `${version}.${nonce}.${expiry}.${"A".repeat(43)}`,
        `${version}.${"B".repeat(22)}.${expiry}.${victimDevice.split(".")[3]}`,
        "v1.junk"
      ]) {
        assertThrottled(yield* login(victim, password, withDevice(token)))
        assertThrottled(yield* cookieLogin(victim, password, withCookie(token)))
      }
      assert.strictEqual((yield* login(victim, password, withDevice(victimDevice))).status, 200)
    })
  )

  it.effect("cookies of that name planted ahead of the device's, or beside its header, hide nothing", () =>
    Effect.gen(function* () {
      const email = freshEmail("tossed")
      assert.strictEqual((yield* register(email)).status, 201)
      const device = deviceOf(yield* login(email, password))
      yield* lockUnknownClients(email)
      // Another subdomain (`Domain=`) or a narrower `Path` puts its cookie first in the browser's Cookie header:
      // were only the first read, a stranger holding such a foothold could make the owner an unknown client.
      const tossed = { cookie: `${cookieName}=junk; ${cookieName}=v1.x.y.z; ${cookieName}=${device}` }
      assert.strictEqual((yield* login(email, password, tossed)).status, 200)
      assert.strictEqual((yield* cookieLogin(email, password, tossed)).status, 204)
      const beside = { ...withCookie("junk"), ...withDevice(device) }
      assert.strictEqual((yield* login(email, password, beside)).status, 200)
      // Every value was junk: an unknown client still.
      assertThrottled(yield* login(email, password, { cookie: `${cookieName}=junk; ${cookieName}=v1.x.y.z` }))
    })
  )

  it.effect("a device's own lockout: its wrong passwords hold back that device alone; a success resets it", () =>
    Effect.gen(function* () {
      const email = freshEmail("fumbler")
      assert.strictEqual((yield* register(email)).status, 201)
      const phone = deviceOf(yield* login(email, password))
      const laptop = deviceOf(yield* login(email, password))
      // Two typos, then the right password: the device's count starts again.
      for (let i = 0; i < 2; i++) assert.strictEqual((yield* login(email, "typo", withDevice(phone))).status, 400)
      const next = deviceOf(yield* login(email, password, withDevice(phone)))
      assert.strictEqual(next.split(".")[1], phone.split(".")[1])
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* login(email, "typo", withDevice(phone))).status, 400)
      // Past its free attempts the device waits, even with the right password.
      assertThrottled(yield* login(email, password, withDevice(phone)))
      assertThrottled(yield* login(email, password, withDevice(next)))
      // Another device, and unknown clients, are not held back by it.
      assert.strictEqual((yield* login(email, password, withDevice(laptop))).status, 200)
      assert.strictEqual((yield* login(email, password)).status, 200)
    })
  )

  it.effect("current_password: a stranger's login guesses never refuse the owner's change", () =>
    Effect.gen(function* () {
      const email = freshEmail("changer")
      assert.strictEqual((yield* register(email)).status, 201)
      const { access_token } = (yield* login(email, password)).body
      yield* lockUnknownClients(email)
      const patched = yield* request("/users/me", {
        method: "PATCH",
        json: { password: "a-brand-new-password", current_password: password },
        headers: { authorization: `Bearer ${access_token}` }
      })
      assert.strictEqual(patched.status, 200)
    })
  )
})

// A known device's logins have a per-client budget of their own for its account: a stranger at the owner's
// address (every request of a test comes from 127.0.0.1) spends the address's, not the device's.
layer(
  makeServer(db(), { throttle: Throttle.layerMemory({ clients: { login: { limit: 3, window: "1 hour" } } }) }).layer,
  { excludeTestServices: true }
)("device tokens and the per-client limit", (it) => {
  it.effect("a stranger at the owner's address spends the address's limit, never the owner's device's", () =>
    Effect.gen(function* () {
      const email = freshEmail("natted")
      assert.strictEqual((yield* register(email)).status, 201)
      const device = deviceOf(yield* login(email, password))
      for (let i = 0; i < 2; i++) assert.strictEqual((yield* login(freshEmail("stranger"), "guess")).status, 400)
      assertThrottled(yield* login(freshEmail("stranger"), "guess"))
      // The stranger's own account and device do not reach the owner's budget either.
      const stranger = freshEmail("stranger")
      assert.strictEqual((yield* register(stranger)).status, 201)
      assertThrottled(yield* login(stranger, password))
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* login(email, password, withDevice(device))).status, 200)
      }
      // The device's own budget is the same limit: a fourth login of it within the window waits.
      assertThrottled(yield* login(email, password, withDevice(device)))
    })
  )
})

// The mail routes: a per-address limit of 2, a hasher that counts, logs captured.
const hasher = makeFakeHasher()
const logs: Array<{ message: string; annotations: Record<string, unknown> }> = []
const recorded = recording()
const mail = makeServer(
  db(),
  {
    throttle: Throttle.layerMemory({
      clients: { forgotPassword: false, requestVerifyToken: false },
      addresses: { forgotPassword: { limit: 2, window: "1 hour" }, requestVerifyToken: { limit: 2, window: "1 hour" } }
    }).pipe(Layer.merge(recorded.layer))
  },
  {},
  hasher.service
)
layer(
  mail.layer.pipe(
    Layer.provide(
      Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ annotations, message }) => {
          logs.push({ message: String(message), annotations: Object.fromEntries(annotations) })
        })
      )
    )
  ),
  { excludeTestServices: true }
)("mail routes", (it) => {
  const routes = [
    { path: "/auth/forgot-password", hook: "onAfterForgotPassword" },
    { path: "/auth/request-verify-token", hook: "onAfterRequestVerify" }
  ] as const

  it.effect("past the per-address limit: 202 as always, nothing sent, a log line", () =>
    Effect.gen(function* () {
      for (const { hook, path } of routes) {
        const email = freshEmail("limited")
        assert.strictEqual((yield* register(email)).status, 201)
        for (let i = 0; i < 2; i++) {
          const before = mail.hooks.named(hook).length
          assert.strictEqual((yield* request(path, { json: { email } })).status, 202)
          yield* nextToken(mail.hooks, hook, before)
        }
        const sent = mail.hooks.named(hook).length
        for (let i = 0; i < 3; i++) {
          const reply = yield* request(path, { json: { email: i === 1 ? email.toUpperCase() : email } })
          assert.strictEqual(reply.status, 202)
          assert.isNull(reply.body ?? null)
        }
        yield* Effect.sleep(200)
        assert.strictEqual(mail.hooks.named(hook).length, sent)
        const line = [...logs].reverse().find((entry) => entry.message.includes("Mail not sent"))
        assert.isDefined(line)
        assert.deepInclude(line!.annotations, { scope: "address", email })
        const notSent = () =>
          ofKind(recorded.events, "RequestThrottled").filter((event) => event.email?.toLowerCase() === email)
        yield* eventually(defined(() => (notSent().length === 3 ? true : undefined), "3 RequestThrottled"))
        assert.deepInclude(notSent().at(-1), { scope: "address", email, outcome: "mailNotSent" })
      }
    })
  )

  // The hashes a request's work after the 202 cost, counted once they are done: for a known address the hook
  // marks the end; for an unknown one, the count is read once it reached `expected` (or after 2 s) and settled.
  const hashesAfter = (path: string, email: string, done: Effect.Effect<unknown> | number) =>
    Effect.gen(function* () {
      const before = hasher.counts.hash
      assert.strictEqual((yield* request(path, { json: { email } })).status, 202)
      if (typeof done === "number") {
        const deadline = Date.now() + 2000
        while (Date.now() < deadline && hasher.counts.hash - before < done) yield* Effect.sleep(10)
      } else {
        yield* done
      }
      yield* Effect.sleep(100)
      return hasher.counts.hash - before
    })

  it.effect("known and unknown addresses cost the same hashes after the 202, on both mail routes", () =>
    Effect.gen(function* () {
      for (const { hook, path } of routes) {
        const known = freshEmail("known")
        assert.strictEqual((yield* register(known)).status, 201)
        const knownHashes = yield* hashesAfter(path, known, nextToken(mail.hooks, hook, mail.hooks.named(hook).length))
        const unknownHashes = yield* hashesAfter(path, freshEmail("unknown"), knownHashes)
        assert.strictEqual(unknownHashes, knownHashes, path)
      }
      // forgot-password's token carries an argon2 fingerprint of the stored hash: one hash, known or not, and for
      // an inactive user (who gets no mail) too; request-verify-token's work hashes nothing, verified or not.
      assert.strictEqual(yield* hashesAfter("/auth/forgot-password", freshEmail("nobody"), 1), 1)
      const users = yield* UserManager.UserManager
      const inactive = freshEmail("inactive")
      const verified = freshEmail("verified")
      yield* users.create({ email: inactive, password: Redacted.make(password), isActive: false }).pipe(Effect.orDie)
      yield* users.create({ email: verified, password: Redacted.make(password), isVerified: true }).pipe(Effect.orDie)
      assert.strictEqual(yield* hashesAfter("/auth/forgot-password", inactive, 1), 1)
      assert.strictEqual(yield* hashesAfter("/auth/request-verify-token", verified, 0), 0)
    })
  )
})

import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Logger, Redacted } from "effect"
import { AuditLog, PasswordHasher, Throttle, UserManager } from "effect-users"
import { defined, eventually } from "../utils/Eventually.js"
import { makeServer, nextToken, type Reply, request } from "../utils/HttpTest.js"
import { ofKind, recording } from "../utils/RecordingSink.js"
import { freshEmail, makeFakeHasher } from "../utils/TestUsers.js"

const db = () => SqliteClient.layer({ filename: ":memory:" })
const password = "correct-horse-battery"

const register = (email: string) => request("/auth/register", { json: { email, password } })
const login = (username: string, pass: string, headers: Record<string, string> = {}) =>
  request("/auth/jwt/login", { form: { username, password: pass }, headers })

const assertThrottled = (reply: Reply) => {
  assert.strictEqual(reply.status, 429)
  assert.deepStrictEqual(reply.body, { detail: "TOO_MANY_REQUESTS" })
  assert.isAtLeast(Number(reply.headers.get("retry-after")), 1)
}

const median = (values: Array<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const accountHasher = makeFakeHasher()
layer(
  makeServer(
    db(),
    // The back-off long enough that no wait ends during the test: both runs meet the same verdicts.
    {
      throttle: Throttle.layerMemory({
        clients: { login: false },
        accounts: { baseDelay: "1 hour", maxDelay: "1 hour" }
      })
    },
    {},
    accountHasher.service
  ).layer,
  { excludeTestServices: true }
)("per-account throttling", (it) => {
  it.effect("101 wrong passwords: refused long before the 100th, the same for a known and an unknown e-mail", () =>
    Effect.gen(function* () {
      const known = freshEmail("known")
      assert.strictEqual((yield* register(known)).status, 201)
      const unknown = freshEmail("unknown")
      const run = (email: string) =>
        Effect.gen(function* () {
          const replies: Array<{ status: number; body: unknown; ms: number }> = []
          let hashesWhileThrottled = 0
          for (let i = 0; i < 101; i++) {
            const before = accountHasher.counts.verify
            const started = performance.now()
            const reply = yield* login(email, `wrong-${i}`)
            replies.push({ status: reply.status, body: reply.body, ms: performance.now() - started })
            if (reply.status === 429) {
              assertThrottled(reply)
              hashesWhileThrottled += accountHasher.counts.verify - before
            }
          }
          return { replies, hashesWhileThrottled }
        })
      const a = yield* run(known)
      const b = yield* run(unknown)
      const outcome = (r: (typeof a.replies)[number]) => ({ status: r.status, body: r.body })
      // Five wrong guesses answered as usual, then 429: what the client sees never depends on the account.
      assert.deepStrictEqual(a.replies.map(outcome), b.replies.map(outcome))
      assert.deepStrictEqual(
        a.replies.slice(0, 6).map((r) => r.status),
        [400, 400, 400, 400, 400, 429]
      )
      assert.isBelow(a.replies.filter((r) => r.status === 400).length, 100)
      assert.strictEqual(a.replies.filter((r) => r.status === 429).length, 96)
      // A throttled guess costs no hash, and takes as long for an unknown e-mail as for a known one.
      assert.strictEqual(a.hashesWhileThrottled, 0)
      assert.strictEqual(b.hashesWhileThrottled, 0)
      const throttledMs = (run: typeof a) => median(run.replies.filter((r) => r.status === 429).map((r) => r.ms))
      assert.isBelow(Math.abs(throttledMs(a) - throttledMs(b)), 25)
    })
  )

  it.effect("after a first-try login the next five wrong passwords are answered as usual, the sixth waits", () =>
    Effect.gen(function* () {
      const email = freshEmail("first-try")
      assert.strictEqual((yield* register(email)).status, 201)
      assert.strictEqual((yield* login(email, password)).status, 200)
      const statuses: Array<number> = []
      for (let i = 0; i < 6; i++) statuses.push((yield* login(email, `typo-${i}`)).status)
      assert.deepStrictEqual(statuses, [400, 400, 400, 400, 400, 429])
    })
  )

  it.effect("an inactive user's right password counts as a failed attempt, like a wrong one", () =>
    Effect.gen(function* () {
      const users = yield* UserManager.UserManager
      const email = freshEmail("inactive")
      yield* users.create({ email, password: Redacted.make(password), isActive: false }).pipe(Effect.orDie)
      const statuses: Array<number> = []
      for (let i = 0; i < 6; i++) statuses.push((yield* login(email, i === 2 ? password : "wrong")).status)
      assert.deepStrictEqual(statuses, [400, 400, 400, 400, 400, 429])
    })
  )

  it.effect("the e-mail's canonical key is the account: another spelling shares the count", () =>
    Effect.gen(function* () {
      const email = freshEmail("spelling")
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* login(email, "wrong")).status, 400)
      assertThrottled(yield* login(`  ${email.toUpperCase()}`, "wrong"))
    })
  )
})

// A hasher that can be made to fail: a full queue (503), or a bug (500).
const fragile = makeFakeHasher()
let hasherFault: "queueFull" | "bug" | undefined
const fragileHasher: PasswordHasher.PasswordHasherService = {
  ...fragile.service,
  verify: (plain, hashed) =>
    hasherFault === "queueFull"
      ? Effect.die(PasswordHasher.queueFull())
      : hasherFault === "bug"
        ? Effect.dieMessage("hasher bug")
        : fragile.service.verify(plain, hashed)
}
layer(
  makeServer(
    db(),
    { throttle: Throttle.layerMemory({ clients: { login: false }, accounts: { baseDelay: "1 hour" } }) },
    {},
    fragileHasher
  ).layer,
  { excludeTestServices: true }
)("a password check that could not be made", (it) => {
  it.effect("503s and 500s count no attempt: after many, the right password logs in at once", () =>
    Effect.gen(function* () {
      const email = freshEmail("outage")
      assert.strictEqual((yield* register(email)).status, 201)
      // Four wrong passwords stay counted through the outage: the owner's right one is the fifth attempt.
      for (let i = 0; i < 4; i++) assert.strictEqual((yield* login(email, "stranger-guess")).status, 400)
      hasherFault = "queueFull"
      for (let i = 0; i < 8; i++) {
        const reply = yield* login(email, password)
        assert.strictEqual(reply.status, 503)
        assert.strictEqual(reply.headers.get("retry-after"), "1")
      }
      hasherFault = "bug"
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* login(email, password)).status, 500)
      hasherFault = undefined
      assert.strictEqual((yield* login(email, password)).status, 200)
    }).pipe(Effect.ensuring(Effect.sync(() => (hasherFault = undefined))))
  )
})

const shortHasher = makeFakeHasher()
const short = makeServer(
  db(),
  {
    throttle: Throttle.layerMemory({
      clients: { login: false },
      accounts: { freeAttempts: 2, baseDelay: "1 second", maxDelay: "1 second" }
    })
  },
  {},
  shortHasher.service
)
const logs: Array<{ message: string; annotations: Record<string, unknown> }> = []
const capture = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ annotations, message }) => {
    logs.push({ message: String(message), annotations: Object.fromEntries(annotations) })
  })
)
layer(short.layer.pipe(Layer.provide(capture)), { excludeTestServices: true })(
  "per-account throttling (1 s back-off)",
  (it) => {
    it.effect("every decision is a structured log line, never with the password", () =>
      Effect.gen(function* () {
        const email = freshEmail("logged")
        const guess = "a-very-distinctive-guess"
        for (let i = 0; i < 3; i++) yield* login(email, guess)
        const failed = logs.filter((line) => line.message.includes("Password check failed"))
        const throttled = logs.find((line) => line.message.includes("Request throttled"))
        assert.isAtLeast(failed.length, 2)
        assert.deepInclude(failed[0]!.annotations, { route: "login", email, client: "127.0.0.1", attempts: 1 })
        assert.isDefined(throttled)
        assert.deepInclude(throttled!.annotations, { route: "login", scope: "account", email, client: "127.0.0.1" })
        assert.notInclude(JSON.stringify(logs), guess)
      })
    )

    it.effect("the owner logs in once the back-off is over, and the right password clears the count", () =>
      Effect.gen(function* () {
        const email = freshEmail("owner")
        assert.strictEqual((yield* register(email)).status, 201)
        for (let i = 0; i < 2; i++) assert.strictEqual((yield* login(email, "stranger-guess")).status, 400)
        // Even the right password waits: checking it would tell the stranger when a guess is right.
        const refused = yield* login(email, password)
        assertThrottled(refused)
        yield* Effect.sleep(Number(refused.headers.get("retry-after")) * 1000 + 50)
        assert.strictEqual((yield* login(email, password)).status, 200)
        for (let i = 0; i < 2; i++) assert.strictEqual((yield* login(email, "typo")).status, 400)
      })
    )

    it.effect("a password reset works while login is throttled, and lets the owner in at once", () =>
      Effect.gen(function* () {
        const email = freshEmail("reset")
        assert.strictEqual((yield* register(email)).status, 201)
        for (let i = 0; i < 2; i++) assert.strictEqual((yield* login(email, "stranger-guess")).status, 400)
        assertThrottled(yield* login(email, password))
        const before = short.hooks.named("onAfterForgotPassword").length
        assert.strictEqual((yield* request("/auth/forgot-password", { json: { email } })).status, 202)
        const token = yield* nextToken(short.hooks, "onAfterForgotPassword", before)
        const reset = yield* request("/auth/reset-password", { json: { token, password: "brand-new-password" } })
        assert.strictEqual(reset.status, 200)
        assert.strictEqual((yield* login(email, "brand-new-password")).status, 200)
      })
    )
  }
)

// A server logging into a test logger, with a sink recording its login failures and refusals.
const junkLogs: Array<{ message: string; annotations: Record<string, unknown> }> = []
const recorded = recording()
const loginEvents = () =>
  recorded.events.filter((event) => event._tag === "LoginFailed" || event._tag === "RequestThrottled")
layer(
  makeServer(db(), {
    throttle: Throttle.layerMemory({
      clients: { login: false },
      accounts: { freeAttempts: 2, baseDelay: "1 hour" }
    }).pipe(Layer.merge(recorded.layer))
  }).layer.pipe(
    Layer.provide(
      Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ annotations, message }) => {
          junkLogs.push({ message: String(message), annotations: Object.fromEntries(annotations) })
        })
      )
    )
  ),
  { excludeTestServices: true }
)("login usernames in logs and hooks", (it) => {
  it.effect("a username that is not an e-mail is never logged: no control characters, no password", () =>
    Effect.gen(function* () {
      const injected = "x@camelot.bt\n[20:30:00.000] INFO (#1): Reset token: FAKE"
      const usernames = [injected, "x@camelot.bt\u001b[2J", "nul\u0000@camelot.bt", "Hunter2-secret"]
      for (const username of usernames) {
        for (let i = 0; i < 2; i++) assert.strictEqual((yield* login(username, "wrong")).status, 400)
        assertThrottled(yield* login(username, "wrong"))
      }
      const lines = junkLogs.filter((line) => /Password check failed|Request throttled/.test(line.message))
      assert.strictEqual(lines.length, 12)
      for (const line of lines) assert.strictEqual(line.annotations.email, Throttle.notAnEmail)
      // Per username: two wrong passwords, then a refusal (its `RequestThrottled` and the route's `LoginFailed`).
      yield* eventually(defined(() => (loginEvents().length === 16 ? true : undefined), "16 events"))
      assert.strictEqual(ofKind(recorded.events, "RequestThrottled").length, 4)
      for (const event of loginEvents()) assert.strictEqual(event.email, Throttle.notAnEmail)
      const written = [
        ...junkLogs.flatMap((line) => [line.message, ...Object.values(line.annotations).map(String)]),
        ...recorded.events.map((event) => AuditLog.toJson(event))
      ].join(" ")
      for (const leak of ["\n", "\u001b", "\u0000", "Hunter2-secret", "FAKE"]) assert.notInclude(written, leak)
    })
  )

  it.effect("an e-mail is logged and given to the events as the address, trimmed", () =>
    Effect.gen(function* () {
      const email = freshEmail("shown")
      junkLogs.length = 0
      recorded.events.length = 0
      assert.strictEqual((yield* login(`  ${email} `, "wrong")).status, 400)
      const failed = junkLogs.find((line) => line.message.includes("Password check failed"))
      assert.strictEqual(failed?.annotations.email, email)
      yield* eventually(defined(() => (loginEvents().length > 0 ? true : undefined), "LoginFailed"))
      assert.deepStrictEqual(
        loginEvents().map((event) => event.email),
        [email]
      )
    })
  )
})

const limited = { limit: 2, window: "1 minute" } as const
layer(
  makeServer(db(), {
    throttle: Throttle.layerMemory({
      clients: {
        login: limited,
        register: limited,
        forgotPassword: { limit: 10, window: "1 minute" },
        requestVerifyToken: limited,
        verify: limited,
        resetPassword: limited
      },
      addresses: { forgotPassword: limited }
    })
  }).layer,
  { excludeTestServices: true }
)("per-client limits, no trusted proxy", (it) => {
  it.effect("each route refuses the client's third request with 429; a spoofed X-Forwarded-For changes nothing", () =>
    Effect.gen(function* () {
      const spoof = (i: number) => ({ "x-forwarded-for": `203.0.113.${i}` })
      const calls = [
        (i: number) => login(freshEmail(), "wrong", spoof(i)),
        (i: number) => request("/auth/register", { json: { email: freshEmail(), password }, headers: spoof(i) }),
        (i: number) => request("/auth/request-verify-token", { json: { email: freshEmail() }, headers: spoof(i) }),
        (i: number) => request("/auth/verify", { json: { token: "not-a-token" }, headers: spoof(i) }),
        (i: number) => request("/auth/reset-password", { json: { token: "not-a-token", password }, headers: spoof(i) })
      ]
      for (const call of calls) {
        const first = yield* call(1)
        const second = yield* call(2)
        assert.notStrictEqual(first.status, 429)
        assert.notStrictEqual(second.status, 429)
        assertThrottled(yield* call(3))
      }
    })
  )

  it.effect("forgot-password's per-address limit never answers 429: a stranger cannot refuse the owner's request", () =>
    Effect.gen(function* () {
      // Past the limit nothing is sent (test/http/DeviceLockout.test.ts), but the answer is the usual one.
      const email = freshEmail("victim")
      for (const spelling of [email, email.toUpperCase(), email, email]) {
        assert.strictEqual((yield* request("/auth/forgot-password", { json: { email: spelling } })).status, 202)
      }
    })
  )

  it.effect("GET /users/me is never throttled", () =>
    Effect.gen(function* () {
      for (let i = 0; i < 20; i++) assert.strictEqual((yield* request("/users/me")).status, 401)
    })
  )

  it.effect("the OpenAPI document declares the 429 of every throttled route", () =>
    Effect.gen(function* () {
      const spec = (yield* request("/openapi.json")).body
      for (const path of [
        "/auth/jwt/login",
        "/auth/cookie/login",
        "/auth/register",
        "/auth/forgot-password",
        "/auth/reset-password",
        "/auth/request-verify-token",
        "/auth/verify"
      ]) {
        assert.property(spec.paths[path].post.responses, "429", path)
      }
      assert.notProperty(spec.paths["/users/me"].get.responses, "429")
    })
  )
})

layer(
  makeServer(db(), {
    trustedProxies: { addresses: ["127.0.0.1", "10.0.0.0/8"] },
    throttle: Throttle.layerMemory({ clients: { login: limited }, accounts: false })
  }).layer,
  { excludeTestServices: true }
)("per-client limits behind trusted proxies", (it) => {
  it.effect(
    "the client named by the trusted proxy has its own count; entries added before it by the client do not",
    () =>
      Effect.gen(function* () {
        const via = (chain: string) => ({ "x-forwarded-for": chain })
        // The socket is 127.0.0.1 (trusted); 10.1.2.3 is a trusted proxy too; 198.51.100.4 is the client.
        for (const forged of ["1.1.1.1", "2.2.2.2"]) {
          assert.strictEqual(
            (yield* login(freshEmail(), "wrong", via(`${forged}, 198.51.100.4, 10.1.2.3`))).status,
            400
          )
        }
        assertThrottled(yield* login(freshEmail(), "wrong", via("3.3.3.3, 198.51.100.4")))
        assert.strictEqual((yield* login(freshEmail(), "wrong", via("198.51.100.5"))).status, 400)
      })
  )
})

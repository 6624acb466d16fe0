/**
 * The tutorial's project (`examples/tutorial/`): its own HTTP test on memory layers runs here, and its server runs
 * as the tutorial starts it, on a PostgreSQL database of its own, the machine's Redis and the local OpenID Provider
 * of `examples/dev-oidc-provider.ts`.
 */
import "../../examples/tutorial/Notes.test.js"
import { type ChildProcess, spawn } from "node:child_process"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { makeBrowser } from "../utils/Browser.js"
import { baseEnv, exampleServer, root } from "../utils/ExampleServer.js"
import { freePort } from "../utils/LocalServer.js"
import { freshDatabase, serverUrl as postgresUrl } from "../utils/PgTest.js"
import { keysUnder, serverUrl as redisUrl } from "../utils/RedisTest.js"

const database = freshDatabase()

/** A child process started with tsx, once it has printed `ready`; ended with the scope. */
const startTsx = (file: string, env: Record<string, string>, ready: string) =>
  Effect.acquireRelease(
    Effect.async<ChildProcess>((resume) => {
      const child = spawn(process.execPath, ["--import", "tsx", file], {
        cwd: root,
        env: { ...baseEnv(), ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes(ready)) resume(Effect.succeed(child))
      }
      child.stdout!.on("data", onData)
      child.stderr!.on("data", onData)
      child.once("exit", (code) => resume(Effect.dieMessage(`${file} exited (${code}):\n${output}`)))
    }),
    (child) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGTERM")
      })
  )

class Running extends Context.Tag("test/TutorialServer")<
  Running,
  { readonly base: string; readonly output: () => string; readonly throttlePrefix: string }
>() {}

const TutorialServer = Layer.scoped(
  Running,
  Effect.gen(function* () {
    const [appPort, providerPort] = [yield* Effect.promise(freePort), yield* Effect.promise(freePort)]
    const base = `http://127.0.0.1:${appPort}`
    yield* startTsx(
      "examples/dev-oidc-provider.ts",
      { DEV_OIDC_PORT: String(providerPort), DEV_OIDC_APP_URL: base },
      "OpenID Provider at"
    )
    const server = yield* exampleServer({
      port: appPort,
      command: [process.execPath, "--import", "tsx", "examples/tutorial/Server.ts"],
      env: {
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl,
        PUBLIC_URL: base,
        USERS_AUTH_SECRET: "tutorial-auth-secret-of-at-least-32-bytes",
        USERS_RESET_PASSWORD_TOKEN_SECRET: "tutorial-reset-secret-of-at-least-32-bytes",
        USERS_VERIFICATION_TOKEN_SECRET: "tutorial-verify-secret-of-at-least-32-bytes",
        USERS_OAUTH_STATE_SECRET: "tutorial-state-secret-of-at-least-32-bytes",
        USERS_MFA_ENCRYPTION_KEY: "tutorial-mfa-key-of-at-least-32-bytes-long",
        OIDC_ISSUER: `http://127.0.0.1:${providerPort}`,
        OIDC_CLIENT_ID: "notes",
        OIDC_CLIENT_SECRET: "notes-dev-secret"
      }
    })
    return { base, output: server.output, throttlePrefix: `${server.prefix}throttle:` }
  })
)

const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body)
})

layer(TutorialServer, { excludeTestServices: true, timeout: 120_000 })("the tutorial's server", (it) => {
  it.effect.skipIf(postgresUrl === "" || redisUrl === "")(
    "on PostgreSQL and Redis: registers (the hook mails), stores notes, refreshes, throttles in Redis",
    () =>
      Effect.gen(function* () {
        const { base, output, throttlePrefix } = yield* Running
        const password = "plum kettle orbit 77"
        const registered = yield* Effect.promise(() =>
          fetch(`${base}/auth/register`, json({ email: "grace@example.com", password, display_name: "Grace" }))
        )
        assert.strictEqual(registered.status, 201)
        assert.include(output(), "Subject: Welcome to Notes")
        const rows = yield* Effect.promise(() => database.query('SELECT display_name FROM "user"'))
        assert.deepStrictEqual(rows, [{ display_name: "Grace" }])

        const login = yield* Effect.promise(() =>
          fetch(`${base}/auth/jwt/login`, {
            method: "POST",
            body: new URLSearchParams({ username: "grace@example.com", password })
          })
        )
        assert.strictEqual(login.status, 200)
        const tokens = (yield* Effect.promise(() => login.json())) as { access_token: string; refresh_token: string }
        const created = yield* Effect.promise(() =>
          fetch(`${base}/notes`, {
            ...json({ text: "Ship the tutorial" }),
            headers: { "content-type": "application/json", authorization: `Bearer ${tokens.access_token}` }
          })
        )
        assert.strictEqual(created.status, 201)
        const stored = yield* Effect.promise(() => database.query("SELECT text FROM note"))
        assert.deepStrictEqual(stored, [{ text: "Ship the tutorial" }])

        const refreshed = yield* Effect.promise(() =>
          fetch(`${base}/auth/jwt/refresh`, json({ refresh_token: tokens.refresh_token }))
        )
        assert.strictEqual(refreshed.status, 200)

        // A wrong password counts in Redis, under the server's prefix.
        const wrong = yield* Effect.promise(() =>
          fetch(`${base}/auth/jwt/login`, {
            method: "POST",
            body: new URLSearchParams({ username: "grace@example.com", password: "not her password" })
          })
        )
        assert.strictEqual(wrong.status, 400)
        assert.isNotEmpty(yield* Effect.promise(() => keysUnder(throttlePrefix)))
      })
  )

  it.effect.skipIf(postgresUrl === "" || redisUrl === "")(
    "signs a browser in through the local OpenID Provider: a new user named by its claims, with a cookie session",
    () =>
      Effect.gen(function* () {
        const { base } = yield* Running
        const browser = makeBrowser()
        const page = yield* browser.request(`${base}/auth/oidc/authorize`)
        assert.strictEqual(page.status, 200, page.text)
        const callback = yield* browser.signIn(JSON.parse(page.text).authorization_url, "alice", `${base}/auth/oidc/`)
        const reply = yield* browser.request(callback)
        assert.strictEqual(reply.status, 204, reply.text)
        const me = yield* browser.request(`${base}/users/me`)
        assert.strictEqual(me.status, 200, me.text)
        const user = JSON.parse(me.text)
        assert.strictEqual(user.email, "alice@example.com")
        assert.strictEqual(user.display_name, "alice")
        assert.isTrue(user.is_verified)
        const notes = yield* browser.request(`${base}/notes`)
        assert.strictEqual(notes.text, "[]")
      })
  )
})

/**
 * `npm start` (examples/server.ts) with OTEL_EXPORTER_OTLP_ENDPOINT: spans and metrics of a register and a login
 * are posted by OTLP/HTTP to the endpoint (a collector stub on a real socket here), under OTEL_SERVICE_NAME, without
 * a password; its
 * process loads `effect-users/otel` and the OpenTelemetry SDK. Without the variable it loads neither
 * (test/LazyLoading.test.ts).
 */
import { createServer, type Server } from "node:http"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"
import { moduleRecorder, packagesIn } from "../utils/LoadedModules.js"

interface Post {
  readonly path: string
  readonly body: Buffer
}

/** A collector that answers every OTLP post with an empty success and keeps what it got. */
const collectorStub = async () => {
  const posts: Array<Post> = []
  const server: Server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      posts.push({ path: request.url ?? "", body: Buffer.concat(chunks) })
      response.writeHead(200, { "content-type": request.headers["content-type"] ?? "application/x-protobuf" })
      response.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as { port: number }
  return {
    posts,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

const until = async (check: () => boolean, what: string, timeout = 20_000) => {
  const deadline = Date.now() + timeout
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe("npm start with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step()
  })

  it("posts the spans and metrics of a register and a login to the collector, without the password", async () => {
    const collector = await collectorStub()
    cleanup.push(collector.close)
    const recorder = moduleRecorder()
    cleanup.push(recorder.remove)
    const server: ExampleServer = await startExampleServer({
      command: [process.execPath, ...recorder.flags, "examples/server.ts"],
      env: {
        ...recorder.env,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_SERVICE_NAME: "otlp-export-test",
        OTEL_BSP_SCHEDULE_DELAY: "100",
        OTEL_METRIC_EXPORT_INTERVAL: "300"
      }
    })
    cleanup.push(server.stop)

    const email = `otlp-${crypto.randomUUID()}@camelot.bt`
    const password = `lance of gawain ${crypto.randomUUID()}`
    const register = await fetch(`${server.base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password })
    })
    assert.strictEqual(register.status, 201)
    const login = await fetch(`${server.base}/auth/jwt/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: email, password }).toString()
    })
    assert.strictEqual(login.status, 200)
    const { access_token: token } = (await login.json()) as { access_token: string }

    // OTLP/HTTP's default encoding is protobuf: names and attribute values appear as plain bytes.
    const posted = (path: string, text: string) => () =>
      collector.posts.some((post) => post.path === path && post.body.includes(text))
    await until(posted("/v1/traces", "Login.start"), "a Login.start span")
    assert.isTrue(posted("/v1/traces", "otlp-export-test")(), "the service is named by OTEL_SERVICE_NAME")
    await until(posted("/v1/traces", "UserManager.create"), "a UserManager.create span")
    await until(posted("/v1/metrics", "effect_users.logins"), "the logins metric")
    await until(posted("/v1/metrics", "effect_users.password_hasher.queue.wait"), "the hash queue's wait")
    for (const post of collector.posts) {
      assert.isFalse(post.body.includes(password), `${post.path} holds the password`)
      assert.isFalse(post.body.includes(token), `${post.path} holds the access token`)
    }
    assert.include(packagesIn(recorder.loaded()), "OpenTelemetry")
  }, 90_000)
})

/**
 * What an app does not use is not loaded: importing the root entry loads neither `openid-client` (loaded when an
 * OAuth provider is built) nor Swagger UI, and the core alone does not load `@effect/platform`. `npm start` loads
 * the OAuth client, the Redis client, the PostgreSQL driver and OpenTelemetry only when configured, and Swagger UI on the first
 * request for `/docs`. Each child process records the modules it loads (`test/utils/LoadedModules.ts`).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { type ExampleServer, root, startExampleServer } from "./utils/ExampleServer.js"
import { loadedByImporting, moduleRecorder, packagesIn } from "./utils/LoadedModules.js"
import { freePort } from "./utils/LocalServer.js"
import { freshDatabase } from "./utils/PgTest.js"
import { serverUrl as redisUrl } from "./utils/RedisTest.js"

const rootSource = readFileSync(join(root, "src/index.ts"), "utf8")
/** The modules the root entry re-exports (`./X.js` in `src/index.ts`), as source paths. */
const rootModules = Array.from(rootSource.matchAll(/from "\.\/([\w/]+)\.js"/g), (match) => `src/${match[1]}.ts`)
/** The HTTP edge and the SQL adapters, which the root still re-exports while it has `export * from "./http.js"`. */
const adapterEntries = ["src/http.ts", "src/sql.ts"]
const rootReexportsAdapters = adapterEntries.some((path) => rootModules.includes(path))

describe("importing the root entry", () => {
  it("loads neither openid-client nor Swagger UI nor OpenTelemetry", async () => {
    const loaded = packagesIn(await loadedByImporting(["src/index.ts"]))
    assert.notInclude(loaded, "OpenTelemetry")
    assert.notInclude(loaded, "openid-client")
    assert.notInclude(loaded, "Swagger UI")
  }, 60_000)

  it("the HTTP entry loads @effect/platform (the recording sees it)", async () => {
    assert.include(packagesIn(await loadedByImporting(["src/http.ts"])), "@effect/platform")
  }, 60_000)

  it("the HTTP entry loads neither undici nor ws (it reads a Node request without NodeHttpServerRequest)", async () => {
    const loaded = packagesIn(await loadedByImporting(["src/http.ts"]))
    assert.notInclude(loaded, "undici")
    assert.notInclude(loaded, "ws")
  }, 60_000)

  it("the recording sees undici and ws where NodeHttpServer is imported", async () => {
    const loaded = packagesIn(
      await loadedByImporting(["node_modules/@effect/platform-node/dist/esm/NodeHttpServer.js"])
    )
    assert.include(loaded, "undici")
    assert.include(loaded, "ws")
  }, 60_000)
})

// Another change removes the root's re-exports of ./http.js and ./sql.js; until it is merged, the core is checked
// as the root's modules without them, and the root itself is checked once it no longer re-exports them.
describe("@effect/platform is not loaded by the core (the root without its ./http.js and ./sql.js re-exports)", () => {
  it("the root's modules other than ./http.js and ./sql.js do not load @effect/platform", async () => {
    const core = rootModules.filter((path) => !adapterEntries.includes(path))
    assert.isAbove(core.length, 10)
    assert.notInclude(packagesIn(await loadedByImporting(core)), "@effect/platform")
  }, 60_000)

  it.skipIf(rootReexportsAdapters)(
    "the root entry does not load @effect/platform",
    async () => {
      assert.notInclude(packagesIn(await loadedByImporting(["src/index.ts"])), "@effect/platform")
    },
    60_000
  )
})

describe("npm start loads what it is configured to use", () => {
  const db = freshDatabase()
  const started: Array<{ readonly server: ExampleServer; readonly remove: () => void }> = []
  /** The example server with a recorder of its own. */
  const start = async (env: Record<string, string>) => {
    const recorder = moduleRecorder()
    const server = await startExampleServer({
      command: [process.execPath, ...recorder.flags, "examples/server.ts"],
      env: { ...recorder.env, ...env }
    }).catch((error) => {
      recorder.remove()
      throw error
    })
    started.push({ server, remove: recorder.remove })
    return { server, loaded: () => packagesIn(recorder.loaded()) }
  }
  afterAll(async () => {
    for (const { remove, server } of started) {
      await server.stop()
      remove()
    }
  })

  it("without OAuth, Redis or PostgreSQL: none of their clients, and Swagger UI only once /docs is asked for", async () => {
    const { loaded, server } = await start({})
    // Nor OpenTelemetry without OTEL_EXPORTER_OTLP_ENDPOINT (with it: test/otel/OtlpExport.test.ts).
    assert.notInclude(loaded(), "OpenTelemetry")
    assert.deepStrictEqual(
      loaded().filter((name) => name !== "@effect/platform"),
      []
    )
    const docs = await fetch(`${server.base}/docs`)
    assert.strictEqual(docs.status, 200)
    assert.include(loaded(), "Swagger UI")
  }, 90_000)

  it("its server loads neither undici nor ws (NodeHttpServer's test client and WebSockets)", async () => {
    const { loaded, server } = await start({})
    assert.strictEqual((await fetch(`${server.base}/greetings/ping`)).status, 200)
    assert.notInclude(loaded(), "undici")
    assert.notInclude(loaded(), "ws")
  }, 90_000)

  it("with an OpenID Provider (and Redis and PostgreSQL when available): their clients", async () => {
    // Discovery waits for the first login: an issuer nobody serves is enough to build the provider.
    const issuer = `http://127.0.0.1:${await freePort()}`
    const { loaded } = await start({
      OIDC_CLIENT_ID: "lazy-loading",
      OIDC_ISSUER: issuer,
      ...(redisUrl === "" ? {} : { REDIS_URL: redisUrl }),
      ...(db.url === "" ? {} : { DATABASE_URL: db.url })
    })
    assert.include(loaded(), "openid-client")
    if (redisUrl !== "") assert.include(loaded(), "ioredis")
    if (db.url !== "") assert.include(loaded(), "the PostgreSQL driver")
    assert.notInclude(loaded(), "Swagger UI")
  }, 90_000)
})

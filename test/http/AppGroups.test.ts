/**
 * An app's own routes beside ours, as a new app writes them and tests them: a `notes` group guarded with
 * `RequestLimits.guard` (one call: JSON bodies only, 415 for a form or text body; the body limit covers it too),
 * beside an unguarded one, served on `MemoryStores.layer` (every store of the routes in memory) with an HTTP test.
 */
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import {
  AccessTokenStore,
  AuthStrategy,
  MemoryStores,
  OAuthStateStore,
  PasswordHasher,
  RefreshTokenStore,
  UserManager,
  UserRepository
} from "effect-users"
import { AuthBackend, RequestLimits, UsersApi } from "effect-users/http"
import { authSecret, request } from "../utils/HttpTest.js"
import { freshEmail, makeFakeHasher, testConfig } from "../utils/TestUsers.js"

const Users = UsersApi.make({
  backends: [AuthBackend.cookie("cookie", AuthStrategy.jwt({ secret: Redacted.make(authSecret) }), { secure: false })],
  maxBodySize: 1024
})

const Note = Schema.Struct({ title: Schema.String })

class Notes extends RequestLimits.guard(
  HttpApiGroup.make("notes")
    .add(HttpApiEndpoint.post("add", "/notes").setPayload(Note).addSuccess(Note))
    .add(HttpApiEndpoint.get("list", "/notes").addSuccess(Schema.Array(Note)))
    .middleware(Users.Authenticated)
) {}

// The same routes without the guard: what an app had before.
class Loose extends HttpApiGroup.make("loose")
  .add(HttpApiEndpoint.post("add", "/loose").setPayload(Note).addSuccess(Note))
  .middleware(Users.Authenticated) {}

class Api extends Users.addTo(HttpApi.make("notes-app")).add(Notes).add(Loose) {}

const NotesLive = HttpApiBuilder.group(Api, "notes", (handlers) =>
  handlers.handle("add", ({ payload }) => Effect.succeed(payload)).handle("list", () => Effect.succeed([]))
)
const LooseLive = HttpApiBuilder.group(Api, "loose", (handlers) =>
  handlers.handle("add", ({ payload }) => Effect.succeed(payload))
)

const Server = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide([NotesLive, LooseLive]), Layer.provide(Users.layer(Api)))),
  Layer.provide(UserManager.layer.pipe(Layer.provide([testConfig(), PasswordHasher.layer(makeFakeHasher().service)]))),
  // The one layer of stores an HTTP test needs.
  Layer.provide(MemoryStores.layer),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

layer(Server, { excludeTestServices: true })("RequestLimits.guard on an app's own group", (it) => {
  const session = Effect.gen(function* () {
    const email = freshEmail("notes")
    const password = "correct-horse-battery"
    yield* request("/auth/register", { json: { email, password } })
    const login = yield* request("/auth/cookie/login", { form: { username: email, password } })
    assert.strictEqual(login.status, 204)
    return { cookie: login.headers.get("set-cookie")!.split(";")[0]! }
  })

  it.effect("a JSON body and a request without one pass; a form or text body is 415, even with the cookie", () =>
    Effect.gen(function* () {
      const headers = yield* session
      const json = yield* request("/notes", { headers, json: { title: "Grail" } })
      assert.strictEqual(json.status, 200, JSON.stringify(json.body))
      assert.deepStrictEqual(json.body, { title: "Grail" })
      const list = yield* request("/notes", { headers })
      assert.strictEqual(list.status, 200)
      const form = yield* request("/notes", { headers, form: { title: "Grail" } })
      assert.strictEqual(form.status, 415)
      assert.deepStrictEqual(form.body, { detail: "UNSUPPORTED_MEDIA_TYPE" })
      const text = yield* request("/notes", {
        headers: { ...headers, "content-type": "text/plain" },
        body: '{"title":"Grail"}'
      })
      assert.strictEqual(text.status, 415)
      // Without the guard, the same form body reaches the handler: what the guard is for.
      const loose = yield* request("/loose", { headers, form: { title: "Grail" } })
      assert.strictEqual(loose.status, 200)
    })
  )

  it.effect("the body limit covers the app's group: 413", () =>
    Effect.gen(function* () {
      const headers = yield* session
      const big = yield* request("/notes", { headers, json: { title: "x".repeat(2048) } })
      assert.strictEqual(big.status, 413)
      assert.deepStrictEqual(big.body, { detail: "PAYLOAD_TOO_LARGE" })
    })
  )
})

describe("MemoryStores.layer", () => {
  it.effect("provides every store of the routes, OAuth states included, each empty on every build", () =>
    Effect.gen(function* () {
      const build = Effect.gen(function* () {
        const states = yield* OAuthStateStore.OAuthStateStore
        const users = yield* UserRepository.UserRepository
        yield* AccessTokenStore.AccessTokenStore
        yield* RefreshTokenStore.RefreshTokenStore
        return [yield* states.spend("state-1", Date.now() + 60_000), yield* users.getByEmail("a@camelot.bt")] as const
      }).pipe(Effect.provide(MemoryStores.layer))
      const [first, found] = yield* build
      assert.isTrue(first)
      assert.isTrue(Option.isNone(found))
      assert.isTrue((yield* build)[0], "a new build forgets the spent state")
    })
  )
})

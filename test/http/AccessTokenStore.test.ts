/**
 * The memory store passes the conformance suite, and an app's cookie + database login runs on memory
 * layers only (no SQL client): login sets the cookie, the cookie authenticates, logout revokes it.
 */
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { AccessTokenStore, AuthStrategy, PasswordHasher, UserManager, UserRepository } from "effect-users"
import { AuthBackend, UsersApi } from "effect-users/http"
import { accessTokenStoreSuite } from "../suites/AccessTokenStoreSuite.js"
import { request } from "../utils/HttpTest.js"
import { freshEmail, makeFakeHasher, testConfig } from "../utils/TestUsers.js"

accessTokenStoreSuite(
  "AccessTokenStore.layerMemory",
  Layer.merge(AccessTokenStore.layerMemory, UserRepository.layerMemory)
)

const Users = UsersApi.make({
  backends: [AuthBackend.cookie("session", AuthStrategy.database({ lifetime: "1 hour" }), { secure: false })]
})
class Api extends Users.addTo(HttpApi.make("memory-app")) {}

const Server = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api)),
  Layer.provide(Users.layer(Api)),
  Layer.provideMerge(AccessTokenStore.layerMemory),
  Layer.provideMerge(
    UserManager.layer.pipe(
      Layer.provide([UserRepository.layerMemory, testConfig(), PasswordHasher.layer(makeFakeHasher().service)])
    )
  ),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

layer(Server, { excludeTestServices: true })("cookie + database strategy on memory layers", (it) => {
  it.effect("login stores a token digest, the cookie authenticates, logout deletes it", () =>
    Effect.gen(function* () {
      const email = freshEmail("memory")
      const password = "correct-horse-battery"
      yield* Effect.orDie(
        Effect.flatMap(UserManager.UserManager, (users) => users.create({ email, password: Redacted.make(password) }))
      )
      const login = yield* request("/auth/session/login", { form: { username: email, password } })
      assert.strictEqual(login.status, 204)
      const cookie = /^fastapiusersauth=([^;]*)/.exec(login.headers.get("set-cookie") ?? "")?.[1] ?? ""
      assert.isAbove(cookie.length, 40)
      const headers = { cookie: `fastapiusersauth=${cookie}` }
      const me = yield* request("/users/me", { headers })
      assert.strictEqual(me.status, 200)
      assert.strictEqual(me.body.email, email)
      const logout = yield* request("/auth/session/logout", { method: "POST", headers })
      assert.strictEqual(logout.status, 204)
      assert.strictEqual((yield* request("/users/me", { headers })).status, 401)
    })
  )

  it.effect("deleteAllOf revokes every session of the user at once", () =>
    Effect.gen(function* () {
      const email = freshEmail("memory")
      const password = "correct-horse-battery"
      const user = yield* Effect.orDie(
        Effect.flatMap(UserManager.UserManager, (users) => users.create({ email, password: Redacted.make(password) }))
      )
      const sessions = yield* Effect.forEach([1, 2], () =>
        Effect.map(request("/auth/session/login", { form: { username: email, password } }), (reply) => ({
          cookie: (reply.headers.get("set-cookie") ?? "").split(";")[0]!
        }))
      )
      for (const { cookie } of sessions)
        assert.strictEqual((yield* request("/users/me", { headers: { cookie } })).status, 200)
      const store = yield* AccessTokenStore.AccessTokenStore
      assert.strictEqual(yield* store.deleteAllOf(String(user.id)), 2)
      for (const { cookie } of sessions)
        assert.strictEqual((yield* request("/users/me", { headers: { cookie } })).status, 401)
    })
  )
})

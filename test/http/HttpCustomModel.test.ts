/**
 * An app with its own user model over HTTP: integer IDs and extra fields (`first_name`, `birth_year`,
 * `newsletter`) in the JSON bodies, and an app handler that reads the user typed by that model.
 */
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { AccessTokenStore, AuthStrategy, IdParser, PasswordHasher, UserManager } from "effect-users"
import { AuthBackend, UsersApi } from "effect-users/http"
import { CustomModel } from "../suites/UserRepositorySuite.js"
import { authSecret, request } from "../utils/HttpTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { customRepository } from "../utils/SqlTest.js"
import { freshEmail, makeFakeHasher, testConfig } from "../utils/TestUsers.js"

const Users = UsersApi.make({
  backends: [AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret: Redacted.make(authSecret) }))],
  model: CustomModel
})

class ProfileGroup extends HttpApiGroup.make("profile").add(
  HttpApiEndpoint.get("greeting", "/profile/greeting")
    .addSuccess(Schema.Struct({ message: Schema.String }))
    .middleware(Users.Authenticated)
) {}

class Api extends Users.addTo(HttpApi.make("knights")).add(ProfileGroup) {}

// `user.firstName` type-checks only because `Users.currentUser` is typed by `CustomModel`.
const ProfileLive = HttpApiBuilder.group(Api, "profile", (handlers) =>
  handlers.handle("greeting", () => Effect.map(Users.currentUser, (user) => ({ message: `Sir ${user.firstName}` })))
)

const Knights = UserManager.forModel(CustomModel)

const makeServer = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(ProfileLive), Layer.provide(Users.layer(Api)))),
    Layer.provide(AccessTokenStore.layerMemory),
    Layer.provideMerge(
      UserManager.layer.pipe(
        Layer.provide([
          customRepository(client),
          IdParser.layerInteger,
          testConfig(),
          PasswordHasher.layer(makeFakeHasher().service)
        ])
      )
    ),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.orDie
  )

const password = "correct-horse-battery"
const auth = (token: string) => ({ authorization: `Bearer ${token}` })

const customModelSuite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  layer(makeServer(client), { excludeTestServices: true })(name, (it) => {
    const login = (email: string) =>
      Effect.map(
        request("/auth/jwt/login", { form: { username: email, password } }),
        (reply) => reply.body.access_token as string
      )

    it.effect("register: the model's fields in snake_case, an integer ID, never the hash", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        const reply = yield* request("/auth/register", {
          json: { email, password, first_name: "Lancelot", birth_year: 1150, newsletter: true }
        })
        assert.strictEqual(reply.status, 201)
        assert.deepStrictEqual(Object.keys(reply.body).sort(), [
          "birth_year",
          "email",
          "first_name",
          "id",
          "is_active",
          "is_superuser",
          "is_verified",
          "newsletter"
        ])
        assert.isTrue(Number.isInteger(reply.body.id))
        assert.deepInclude(reply.body, { email, first_name: "Lancelot", birth_year: 1150, newsletter: true })
      })
    )

    it.effect("register without a required field of the model: 422 naming it", () =>
      Effect.gen(function* () {
        const reply = yield* request("/auth/register", {
          json: { email: freshEmail(), password, birth_year: null, newsletter: false }
        })
        assert.strictEqual(reply.status, 422)
        assert.deepInclude(
          reply.body.detail.map((issue: { loc: ReadonlyArray<unknown> }) => issue.loc),
          ["body", "first_name"]
        )
      })
    )

    it.effect("GET and PATCH /users/me carry the model's fields; app handlers read them typed", () =>
      Effect.gen(function* () {
        const email = freshEmail()
        yield* request("/auth/register", {
          json: { email, password, first_name: "Gawain", birth_year: 1140, newsletter: false }
        })
        const token = yield* login(email)
        const me = yield* request("/users/me", { headers: auth(token) })
        assert.deepInclude(me.body, { email, first_name: "Gawain", birth_year: 1140, newsletter: false })

        const patched = yield* request("/users/me", {
          method: "PATCH",
          headers: auth(token),
          json: { first_name: "Gawain the Courteous", birth_year: null }
        })
        assert.strictEqual(patched.status, 200)
        assert.deepInclude(patched.body, { first_name: "Gawain the Courteous", birth_year: null, newsletter: false })

        const greeting = yield* request("/profile/greeting", { headers: auth(token) })
        assert.deepStrictEqual(greeting.body, { message: "Sir Gawain the Courteous" })
      })
    )

    it.effect("/users/{id} parses integer IDs: found, 404 for another number, 404 for a non-number", () =>
      Effect.gen(function* () {
        const knights = yield* Knights
        const admin = yield* knights.create({
          email: freshEmail("arthur"),
          password: Redacted.make(password),
          isSuperuser: true,
          firstName: "Arthur",
          birthYear: null,
          newsletter: false
        })
        const token = yield* login(admin.email)
        const found = yield* request(`/users/${admin.id}`, { headers: auth(token) })
        assert.deepInclude(found.body, { id: admin.id, first_name: "Arthur" })
        for (const id of [admin.id + 100000, "not-a-number"]) {
          const missing = yield* request(`/users/${id}`, { headers: auth(token) })
          assert.deepStrictEqual([missing.status, missing.body], [404, { detail: "Not Found" }])
        }
      })
    )
  })

describe("HTTP with an app's own user model", () => {
  customModelSuite("SQLite", SqliteClient.layer({ filename: ":memory:" }))
})

describePg("HTTP with an app's own user model on PostgreSQL", () => {
  customModelSuite("PostgreSQL", freshDatabase().client)
})

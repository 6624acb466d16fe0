/**
 * An OAuth sign-up fills the app's own fields: a model with a required `displayName` (`display_name NOT NULL`,
 * with a CHECK of the app's) signs users up through a real OpenID Provider with `mapProfile`, and a profile the
 * model or its table refuses answers 400 `OAUTH_PROFILE_REJECTED`, never a 500. (Without `mapProfile` the program
 * does not compile: test/types/WrongPrograms.ts.)
 */
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Migrator, SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { AuthStrategy, OAuthProvider, PasswordHasher, User, UserManager, UserModel } from "effect-users"
import { AuthBackend, OAuth, UsersApi } from "effect-users/http"
import { Migrations, SqlAccessTokenStore, SqlOAuthStateStore, SqlUserRepository } from "effect-users/sql"
import { makeBrowser } from "../utils/Browser.js"
import { startProviderFor, type TestAccount } from "../utils/OidcProvider.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail, makeFakeHasher, testConfig } from "../utils/TestUsers.js"

const Named = UserModel.make({ id: User.UserId, fields: { displayName: Schema.String.pipe(Schema.maxLength(40)) } })
const Users = UsersApi.make({
  backends: [
    AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret: Redacted.make("profile-secret-profile-secret-profile") }))
  ],
  model: Named
})
const clientId = "effect-users-profile"
const clientSecret = "client-secret-client-secret-client-secret"

// The app's column: required, and never empty (PostgreSQL adds it NOT NULL to the empty table; SQLite wants a default).
const addDisplayName = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.onDialectOrElse({
    pg: () => sql`ALTER TABLE "user" ADD COLUMN display_name VARCHAR(100) NOT NULL CHECK (display_name <> '')`,
    orElse: () =>
      sql`ALTER TABLE "user" ADD COLUMN display_name VARCHAR(100) NOT NULL DEFAULT 'unnamed' CHECK (display_name <> '')`
  })
)
const migrate = Migrator.make({})({
  loader: Migrator.fromRecord({ ...Migrations.migrations(), "0100_user_display_name": addDisplayName })
})

class Server extends Context.Tag("test/OAuthProfileServer")<
  Server,
  { readonly base: string; readonly accounts: Map<string, TestAccount> }
>() {}

const makeServer = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const { port, base, accounts, op } = yield* startProviderFor(["oidc"], { clientId, clientSecret })
      const Oidc = OAuth.make(
        Users,
        OAuthProvider.oidc({ name: "oidc", issuer: op.issuer, clientId, clientSecret: Redacted.make(clientSecret) }),
        {
          backend: "jwt",
          stateSecret: Redacted.make("state-secret-state-secret-state-secret"),
          baseUrl: base,
          mapProfile: (claims) => ({ displayName: typeof claims.name === "string" ? claims.name : "" })
        }
      )
      const Api = Users.addTo(HttpApi.make("profile")).add(Oidc.group).add(Oidc.associateGroup)
      const users = Users.layer(Api)
      const repository = SqlUserRepository.layer({ model: Named }).pipe(Layer.provide(Layer.effectDiscard(migrate)))
      return HttpApiBuilder.serve().pipe(
        Layer.provide(HttpApiBuilder.api(Api)),
        Layer.provide(Oidc.layer(Api).pipe(Layer.provide(users))),
        Layer.provide(users),
        Layer.provideMerge(
          UserManager.layer.pipe(
            Layer.provide([repository, testConfig(), PasswordHasher.layer(makeFakeHasher().service)]),
            Layer.provideMerge(SqlOAuthStateStore.layer()),
            Layer.provideMerge(SqlAccessTokenStore.layer()),
            Layer.provideMerge(Layer.effectDiscard(migrate)),
            Layer.provideMerge(client)
          )
        ),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })),
        Layer.provideMerge(Layer.succeed(Server, { base, accounts })),
        Layer.orDie
      )
    })
  )

const suite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  layer(makeServer(client), { excludeTestServices: true, timeout: 60_000 })(`OAuth sign-up profile (${name})`, (it) => {
    const signUp = (claims: TestAccount) =>
      Effect.gen(function* () {
        const { accounts, base } = yield* Server
        const sub = `acct-${crypto.randomUUID()}`
        accounts.set(sub, claims)
        const browser = makeBrowser()
        const page = yield* browser.request(`${base}/auth/oidc/authorize`)
        const callback = yield* browser.signIn(JSON.parse(page.text).authorization_url, sub, `${base}/auth/oidc/`)
        const reply = yield* browser.request(callback)
        return { status: reply.status, body: JSON.parse(reply.text) }
      })
    const stored = (email: string) =>
      Effect.flatMap(UserManager.forModel(Named), (users) => Effect.option(users.getByEmail(email)))

    it.effect("mapProfile fills the model's required field from the provider's claims", () =>
      Effect.gen(function* () {
        const { base } = yield* Server
        const email = freshEmail("lancelot")
        const reply = yield* signUp({ email, email_verified: true, name: "Sir Lancelot" })
        assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
        const me = yield* Effect.promise(() =>
          fetch(`${base}/users/me`, { headers: { authorization: `Bearer ${reply.body.access_token}` } }).then(
            (response) => response.json() as Promise<Record<string, unknown>>
          )
        )
        assert.deepInclude(me, { email, display_name: "Sir Lancelot", is_verified: true })
      })
    )

    it.effect(
      "a profile the model's schema or table refuses answers 400 OAUTH_PROFILE_REJECTED and stores nothing",
      () =>
        Effect.gen(function* () {
          // The table's CHECK refuses an empty name (the provider shared none).
          const nameless = freshEmail("nameless")
          const empty = yield* signUp({ email: nameless, email_verified: true })
          assert.strictEqual(empty.status, 400, JSON.stringify(empty.body))
          assert.strictEqual(empty.body.detail.code, "OAUTH_PROFILE_REJECTED")
          assert.isString(empty.body.detail.reason)
          assert.isTrue(Option.isNone(yield* stored(nameless)))
          // The model's schema refuses a name over 40 characters, naming the field and not the value.
          const long = freshEmail("long")
          const tooLong = yield* signUp({ email: long, email_verified: true, name: "x".repeat(41) })
          assert.deepStrictEqual(tooLong, {
            status: 400,
            body: { detail: { code: "OAUTH_PROFILE_REJECTED", reason: "displayName is invalid" } }
          })
          assert.isTrue(Option.isNone(yield* stored(long)))
        })
    )
  })

suite("SQLite", SqliteClient.layer({ filename: ":memory:" }))

describePg("PostgreSQL", () => {
  suite("PostgreSQL", freshDatabase().client)
})

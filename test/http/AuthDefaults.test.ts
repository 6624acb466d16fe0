/**
 * The login backends' defaults and lifetimes, on the clock: the cookie's attributes with no options, the
 * JWT strategy's lifetime, the database strategy's lifetime just under and just over the limit.
 */
import { createHash } from "node:crypto"
import * as Cookies from "@effect/platform/Cookies"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Redacted, TestClock } from "effect"
import { AccessTokenStore, AuthStrategy, Sessions, UserManager, UserRepository } from "effect-users"
import { AuthBackend } from "effect-users/http"
import { SqlAccessTokenStore } from "effect-users/sql"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { defaultRepository } from "../utils/SqlTest.js"
import { freshEmail, harness, password } from "../utils/TestUsers.js"

const secret = Redacted.make("auth-secret-auth-secret-auth-secret-auth")

const setCookie = (transport: AuthBackend.Transport) =>
  Cookies.toSetCookieHeaders(transport.loginResponse("the-token").cookies)

describe("cookie transport", () => {
  it("with no options: HttpOnly, Secure, SameSite=Lax, Path=/, a session cookie named fastapiusersauth", () => {
    for (const transport of [
      AuthBackend.cookieTransport(),
      AuthBackend.cookie("cookie", AuthStrategy.database()).transport
    ]) {
      const [header, ...others] = setCookie(transport)
      assert.lengthOf(others, 0)
      const [pair, ...attributes] = header!.split("; ")
      assert.strictEqual(pair, "fastapiusersauth=the-token")
      assert.sameMembers(attributes, ["Path=/", "HttpOnly", "Secure", "SameSite=Lax"])
    }
  })

  it("explicit options win over the defaults", () => {
    const [header] = setCookie(
      AuthBackend.cookieTransport({ secure: false, httpOnly: false, sameSite: "strict", path: "/app" })
    )
    assert.sameMembers(header!.split("; ").slice(1), ["Path=/app", "SameSite=Strict"])
  })
})

/** The manager over the repository in context, as the strategies need it. */
// biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
const withManager = <A, E, R>(effect: (users: UserManager.UserManagerService<any>) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const { sessions, users } = yield* harness()
    yield* TestClock.setTime(Date.parse("2026-06-01T12:00:00Z"))
    return yield* effect(users).pipe(
      Effect.provideService(UserManager.UserManager, users),
      Effect.provideService(Sessions.Sessions, sessions)
    )
  })

/** Reads the token `offset` after it was written: some user just under the lifetime, none at and after it. */
const lifetimeCases = (
  strategy: AuthStrategy.AuthStrategy,
  // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
  users: UserManager.UserManagerService<any>,
  lifetime: Duration.DurationInput
) =>
  Effect.gen(function* () {
    const user = yield* users.create({ email: freshEmail(), password: password("correct horse battery") })
    const token = yield* strategy.write(user)
    const millis = Duration.toMillis(lifetime)
    assert.strictEqual(Option.getOrThrow(yield* strategy.read(token)).id, user.id)
    yield* TestClock.adjust(millis - 1_000)
    assert.strictEqual(Option.getOrThrow(yield* strategy.read(token)).id, user.id, "just under the lifetime")
    yield* TestClock.adjust(2_000)
    assert.isTrue(Option.isNone(yield* strategy.read(token)), "just over the lifetime")
  })

layer(Layer.merge(UserRepository.layerMemory, AccessTokenStore.layerMemory))("JWT strategy lifetime", (it) => {
  it.effect("default 1 hour: valid a second before, refused a second after", () =>
    withManager((users) => Effect.flatMap(AuthStrategy.jwt({ secret }), (jwt) => lifetimeCases(jwt, users, "1 hour")))
  )

  it.effect("a configured lifetime is the one written into exp", () =>
    withManager((users) =>
      Effect.flatMap(AuthStrategy.jwt({ secret, lifetime: "15 minutes" }), (jwt) =>
        lifetimeCases(jwt, users, "15 minutes")
      )
    )
  )
})

const databaseLifetimeSuite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  layer(Layer.mergeAll(defaultRepository(client), SqlAccessTokenStore.layer().pipe(Layer.provide(client)), client))(
    name,
    (it) => {
      it.effect("database strategy, default 1 hour: valid a second before, refused a second after", () =>
        withManager((users) =>
          Effect.flatMap(AuthStrategy.database(), (strategy) => lifetimeCases(strategy, users, "1 hour"))
        )
      )

      it.effect("database strategy, 2 hours: valid a second before, refused a second after", () =>
        withManager((users) =>
          Effect.flatMap(AuthStrategy.database({ lifetime: "2 hours" }), (strategy) =>
            lifetimeCases(strategy, users, "2 hours")
          )
        )
      )
    }
  )

databaseLifetimeSuite("SQLite", SqliteClient.layer({ filename: ":memory:" }))

const sqlite = SqliteClient.layer({ filename: ":memory:" })
layer(Layer.mergeAll(defaultRepository(sqlite), SqlAccessTokenStore.layer().pipe(Layer.provide(sqlite)), sqlite))(
  "database strategy over rows others wrote (SQLite)",
  (it) => {
    it.effect("created_at in SQLite's CURRENT_TIMESTAMP form is UTC; one with an offset is read with it", () =>
      withManager((users) =>
        Effect.gen(function* () {
          const strategy = yield* AuthStrategy.database()
          const sql = (yield* SqlClient.SqlClient).withoutTransforms()
          const user = yield* users.create({ email: freshEmail(), password: password("correct horse battery") })
          const stored = (createdAt: string) =>
            Effect.gen(function* () {
              const token = `token-${createdAt}`
              const digest = createHash("sha256").update(token).digest("base64url")
              yield* sql`INSERT INTO accesstoken (token, created_at, user_id) VALUES (${digest}, ${createdAt}, ${String(user.id)})`
              return token
            })
          const utc = yield* stored("2026-06-01 10:00:00")
          const offset = yield* stored("2026-06-01T12:00:00+02:00")
          const valid = (token: string) => Effect.map(strategy.read(token), Option.isSome)
          yield* TestClock.setTime(Date.parse("2026-06-01T10:59:59Z"))
          assert.deepStrictEqual([yield* valid(utc), yield* valid(offset)], [true, true])
          yield* TestClock.setTime(Date.parse("2026-06-01T11:00:01Z"))
          assert.deepStrictEqual([yield* valid(utc), yield* valid(offset)], [false, false])
        })
      )
    )
  }
)

describePg("PostgreSQL", () => {
  const db = freshDatabase()
  databaseLifetimeSuite("PostgreSQL", db.client)
})

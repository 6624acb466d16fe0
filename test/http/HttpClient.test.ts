/**
 * The typed client: `HttpApiClient.make(Api)` over the example app, against a real server on port 0. Every
 * call below is typed by the endpoint it reaches (login included: one login endpoint per backend), and the
 * `expectTypeOf` lines are checked by tsc.
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, expectTypeOf, layer } from "@effect/vitest"
import { Effect, Either, Layer, Redacted } from "effect"
import { makeServer, nextToken } from "../utils/HttpTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const server = makeServer(SqliteClient.layer({ filename: ":memory:" }))
const { Api } = server.app

/** A client of the served app; with a token, every request carries it as a bearer token. */
const client = (token?: string) =>
  Effect.gen(function* () {
    const address = (yield* HttpServer.HttpServer).address as HttpServer.TcpAddress
    return yield* HttpApiClient.make(Api, {
      baseUrl: `http://127.0.0.1:${address.port}`,
      transformClient: token === undefined ? undefined : HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
    })
  })

const password = "correct-horse-battery"

layer(Layer.merge(server.layer, FetchHttpClient.layer), { excludeTestServices: true })("typed client", (it) => {
  it.effect("register, bearer login, /users/me, request-verify-token and verify: typed results", () =>
    Effect.gen(function* () {
      const anonymous = yield* client()
      const email = freshEmail("client")
      const registered = yield* anonymous.register.register({ payload: { email, password: Redacted.make(password) } })
      expectTypeOf(registered.isVerified).toEqualTypeOf<boolean>()
      expectTypeOf(registered.id).toEqualTypeOf<string>()
      assert.strictEqual(registered.email, email)
      assert.isFalse(registered.isVerified)

      const login = yield* anonymous["auth.jwt"].login({
        payload: { username: email, password: Redacted.make(password) }
      })
      expectTypeOf(login).toEqualTypeOf<{ readonly access_token: string; readonly token_type: "bearer" }>()
      assert.strictEqual(login.token_type, "bearer")

      // The cookie backend's login answers no content: its type says so.
      const cookie = yield* anonymous["auth.cookie"].login({
        payload: { username: email, password: Redacted.make(password) }
      })
      expectTypeOf(cookie).toEqualTypeOf<void>()
      const signedIn = yield* client(login.access_token)
      const me = yield* signedIn.users.me()
      expectTypeOf(me.email).toEqualTypeOf<string>()
      assert.strictEqual(me.id, registered.id)

      const before = server.hooks.named("onAfterRequestVerify").length
      const accepted = yield* anonymous.verify.requestVerifyToken({ payload: { email } })
      expectTypeOf(accepted).toEqualTypeOf<null>()
      const token = yield* nextToken(server.hooks, "onAfterRequestVerify", before)
      const verified = yield* anonymous.verify.verify({ payload: { token } })
      assert.isTrue(verified.isVerified)
      assert.isTrue((yield* signedIn.users.me()).isVerified)
    })
  )

  it.effect("errors are typed by the route's error table", () =>
    Effect.gen(function* () {
      const anonymous = yield* client()
      const email = freshEmail("client")
      yield* anonymous.register.register({ payload: { email, password: Redacted.make(password) } })
      const again = yield* Effect.either(
        anonymous.register.register({ payload: { email, password: Redacted.make(password) } })
      )
      assert.isTrue(Either.isLeft(again))
      if (Either.isLeft(again) && "detail" in again.left) {
        assert.deepStrictEqual(again.left.detail, "REGISTER_USER_ALREADY_EXISTS")
      } else {
        assert.fail("expected the table's error body")
      }
      const wrong = yield* Effect.flip(
        anonymous["auth.jwt"].login({ payload: { username: email, password: Redacted.make("wrong-password") } })
      )
      assert.deepStrictEqual("detail" in wrong ? wrong.detail : wrong, "LOGIN_BAD_CREDENTIALS")
      const stranger = yield* Effect.flip((yield* client("not-a-token")).users.me())
      assert.deepStrictEqual("detail" in stranger ? stranger.detail : stranger, "Unauthorized")
    })
  )
})

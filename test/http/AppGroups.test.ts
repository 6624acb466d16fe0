/**
 * An app's own routes beside ours, as a new app writes them and tests them: a `notes` group guarded with
 * `RequestLimits.guard` (one call: JSON bodies only, 415 for a form or text body; the body limit covers it too),
 * beside an unguarded one, served on `MemoryStores.layer` (every store of the routes in memory) with an HTTP test.
 * A second app on `MemoryStores.layer` alone has second factors and the sign-in by e-mail code (its mails through
 * the memory outbox to the memory mailer): a two-step login and a code sign-in work.
 */
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import {
  AccessTokenStore,
  AuthStrategy,
  EmailSignIn,
  Mail,
  Mailer,
  MemoryStores,
  OAuthStateStore,
  Outbox,
  PasskeyStore,
  PasswordHasher,
  RefreshTokenStore,
  SecondFactor,
  SecondFactorStore,
  UserManager,
  UserRepository
} from "effect-users"
import { AuthBackend, EmailSignInApi, RequestLimits, UsersApi } from "effect-users/http"
import * as OTPAuth from "otpauth"
import { eventually } from "../utils/Eventually.js"
import { authSecret, mfaEncryptionKey, request } from "../utils/HttpTest.js"
import { codeIn } from "../utils/SmtpServer.js"
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
  it.effect(
    "provides every store of the routes (OAuth states, factors, passkeys, outbox, e-mail sign-ins), empty on every build",
    () =>
      Effect.gen(function* () {
        const build = Effect.gen(function* () {
          const states = yield* OAuthStateStore.OAuthStateStore
          const users = yield* UserRepository.UserRepository
          yield* AccessTokenStore.AccessTokenStore
          yield* RefreshTokenStore.RefreshTokenStore
          yield* SecondFactorStore.SecondFactorStore
          yield* PasskeyStore.PasskeyStore
          yield* Outbox.OutboxStore
          yield* EmailSignIn.EmailSignInStore
          return [yield* states.spend("state-1", Date.now() + 60_000), yield* users.getByEmail("a@camelot.bt")] as const
        }).pipe(Effect.provide(MemoryStores.layer))
        const [first, found] = yield* build
        assert.isTrue(first)
        assert.isTrue(Option.isNone(found))
        assert.isTrue((yield* build)[0], "a new build forgets the spent state")
      })
  )
})

// An app with second factors and the sign-in by e-mail code, every store from `MemoryStores.layer` alone.
const TwoStepUsers = UsersApi.make({
  backends: [AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret: Redacted.make(authSecret) }))]
})
class TwoStepApi extends TwoStepUsers.addTo(HttpApi.make("two-step-app")).add(
  EmailSignInApi.emailCodeGroup(TwoStepUsers)
) {}
const MailLive = Mail.layer({ publicUrl: "https://app.camelot.bt", verifyOnRegister: false }).pipe(
  Layer.provideMerge(
    Outbox.layer({ secret: Redacted.make("outbox-secret-outbox-secret-outbox"), pollInterval: "20 millis" })
  ),
  Layer.provideMerge(Mailer.layerMemory)
)
const TwoStepServer = HttpApiBuilder.serve().pipe(
  Layer.provide(
    HttpApiBuilder.api(TwoStepApi).pipe(
      Layer.provide(EmailSignInApi.layerEmailCode(TwoStepApi).pipe(Layer.provide(EmailSignIn.layer()))),
      Layer.provideMerge(TwoStepUsers.layer(TwoStepApi))
    )
  ),
  Layer.provideMerge(
    UserManager.layer.pipe(Layer.provide([testConfig(), PasswordHasher.layer(makeFakeHasher().service)]))
  ),
  Layer.provideMerge(SecondFactor.layer({ encryptionKey: Redacted.make(mfaEncryptionKey) })),
  Layer.provideMerge(MailLive),
  Layer.provide(MemoryStores.layer),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.orDie
)

layer(TwoStepServer, { excludeTestServices: true })("an app on MemoryStores.layer alone", (it) => {
  const password = "correct-horse-battery"
  const codeAt = (secret: string, steps = 0) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 })
  const registered = Effect.gen(function* () {
    const email = freshEmail("memory")
    assert.strictEqual((yield* request("/auth/register", { json: { email, password } })).status, 201)
    return email
  })
  /** The `count`-th mail to the address, once the outbox's worker has handed it to the memory mailer. */
  const mailTo = (email: string, count: number) =>
    eventually(
      Effect.flatMap(Mailer.MemoryMailer, (mailer) => mailer.sent).pipe(
        Effect.map((sent) => sent.filter((message) => message.to === email)),
        Effect.filterOrFail(
          (mine) => mine.length >= count,
          () => new Error(`fewer than ${count} mails to ${email}`)
        ),
        Effect.map((mine) => mine[count - 1]!)
      )
    )

  it.effect("a two-step login: TOTP enrolled, 401 LOGIN_MFA_REQUIRED, then /login/mfa with a code", () =>
    Effect.gen(function* () {
      const email = yield* registered
      const session = yield* request("/auth/jwt/login", { form: { username: email, password } })
      assert.strictEqual(session.status, 200, JSON.stringify(session.body))
      const headers = { authorization: `Bearer ${session.body.access_token}` }
      const started = yield* request("/users/me/mfa/totp", { headers, json: { current_password: password } })
      assert.strictEqual(started.status, 200, JSON.stringify(started.body))
      const secret = started.body.secret as string
      const confirmed = yield* request("/users/me/mfa/totp/confirm", { headers, json: { code: codeAt(secret, -1) } })
      assert.strictEqual(confirmed.status, 200, JSON.stringify(confirmed.body))
      assert.strictEqual((yield* mailTo(email, 1)).subject, "A sign-in method was added")
      const first = yield* request("/auth/jwt/login", { form: { username: email, password } })
      assert.strictEqual(first.status, 401)
      assert.strictEqual(first.body.detail.code, "LOGIN_MFA_REQUIRED")
      const second = yield* request("/auth/jwt/login/mfa", {
        json: { mfa_token: first.body.detail.mfa_token, code: codeAt(secret) }
      })
      assert.strictEqual(second.status, 200, JSON.stringify(second.body))
      const me = yield* request("/users/me", { headers: { authorization: `Bearer ${second.body.access_token}` } })
      assert.deepStrictEqual([me.status, me.body.email], [200, email])
    })
  )

  it.effect(
    "a sign-in by e-mail code, no passkeys configured: the code arrives in the memory mailer and signs in",
    () =>
      Effect.gen(function* () {
        const email = yield* registered
        assert.strictEqual((yield* request("/auth/email-code", { json: { email } })).status, 202)
        const mail = yield* mailTo(email, 1)
        const reply = yield* request("/auth/jwt/email-code/login", { json: { email, code: codeIn(mail.text) } })
        assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
        const me = yield* request("/users/me", { headers: { authorization: `Bearer ${reply.body.access_token}` } })
        assert.deepStrictEqual([me.status, me.body.email], [200, email])
      })
  )
})

/**
 * A real server on port 0 running `examples/app.ts` over a SQL client, with a fast fake hasher (or the one
 * given) and hooks that record the verification and reset tokens; requests go through `fetch`.
 */
import { createServer } from "node:http"
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type * as SqlClient from "@effect/sql/SqlClient"
import { ConfigProvider, Effect, Layer } from "effect"
import {
  type AuditLog,
  type Mail,
  type Outbox,
  PasswordHasher,
  type Throttle,
  type UserHooks,
  UserManager
} from "effect-users"
import { Migrations, SqlPasskeyStore, SqlUserRepository } from "effect-users/sql"
import { type AppOptions, layerAudit, layerSecondFactor, makeApp } from "../../examples/app.js"
import { makeFakeHasher, recordingHooks, testConfig } from "./TestUsers.js"

export const authSecret = "auth-secret-auth-secret-auth-secret-auth"
const oauthStateSecret = "oauth-state-secret-oauth-state-secret-oauth"
export const mfaEncryptionKey = "mfa-encryption-key-mfa-encryption-key-mfa"

/** Options of a test server: the app's, and its throttle (default: the app's default, in memory). */
export interface ServerOptions extends AppOptions {
  readonly throttle?: Layer.Layer<Throttle.Throttle>
  /** Serve with @effect/platform's request logger (`HttpMiddleware.logger`) on. */
  readonly requestLogger?: boolean
  /** The audit log's store (default: SQL, in the server's database). */
  readonly auditLog?: Layer.Layer<AuditLog.AuditLog, never, SqlClient.SqlClient>
  /** The app's mails (`Mail` over an outbox), under the manager and the API; default none (the app prints them). */
  readonly mail?: Layer.Layer<Mail.Mail | Outbox.Outbox, unknown, SqlClient.SqlClient>
}

/** The server layer; outputs the HttpServer (for its address), the manager and the SQL client. */
export const makeServer = (
  client: Layer.Layer<SqlClient.SqlClient, unknown>,
  { auditLog, mail, requestLogger, throttle, ...options }: ServerOptions = {},
  // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
  hookOverrides: Partial<UserHooks.UserHooksService<any>> = {},
  hasher: PasswordHasher.PasswordHasherService = makeFakeHasher().service
) => {
  const hooks = recordingHooks(hookOverrides)
  const app = makeApp({ secureCookie: true, ...options })
  const Users = UserManager.layer.pipe(
    Layer.provide([
      SqlUserRepository.layer(),
      SqlPasskeyStore.layer(),
      testConfig(),
      hooks.layer,
      PasswordHasher.layer(hasher)
    ]),
    Layer.provideMerge(layerSecondFactor),
    Layer.provideMerge(mail ?? Layer.empty),
    Layer.provideMerge(layerAudit(auditLog)),
    Layer.provideMerge(Migrations.layer()),
    Layer.provideMerge(client)
  )
  const layer = HttpApiBuilder.serve(requestLogger ? HttpMiddleware.logger : undefined).pipe(
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(app.ApiLive),
    Layer.provide(throttle ?? Layer.empty),
    Layer.provideMerge(Users),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(
      Layer.setConfigProvider(
        ConfigProvider.fromMap(
          new Map([
            ["USERS_AUTH_SECRET", authSecret],
            ["USERS_OAUTH_STATE_SECRET", oauthStateSecret],
            ["USERS_MFA_ENCRYPTION_KEY", mfaEncryptionKey]
          ])
        )
      )
    ),
    Layer.orDie
  )
  return { layer, hooks, app }
}

/** The last token a hook received (`onAfterRequestVerify` / `onAfterForgotPassword`). */
export const lastToken = (
  hooks: ReturnType<typeof recordingHooks>,
  hook: "onAfterRequestVerify" | "onAfterForgotPassword"
) => hooks.named(hook).at(-1)?.args[1] as string

/**
 * The token of the next call of a hook after `before` calls: these hooks run after the 202, in the
 * background, so the test waits for them (polling, 10 s at most).
 */
export const nextToken = (
  hooks: ReturnType<typeof recordingHooks>,
  hook: "onAfterRequestVerify" | "onAfterForgotPassword",
  before: number
): Effect.Effect<string> =>
  Effect.suspend(() => {
    const deadline = Date.now() + 10_000
    const loop: Effect.Effect<string> = Effect.suspend(() => {
      const calls = hooks.named(hook)
      if (calls.length > before) return Effect.succeed(calls[before]!.args[1] as string)
      if (Date.now() > deadline) return Effect.dieMessage(`${hook} was not called within 10 s`)
      return Effect.zipRight(Effect.sleep(10), loop)
    })
    return loop
  })

export interface Reply {
  readonly status: number
  readonly headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
  readonly body: any
}

/** `fetch` against the server in context. */
export const request = (
  path: string,
  init: {
    readonly method?: string
    readonly json?: unknown
    readonly form?: Record<string, string>
    readonly body?: string
    readonly headers?: Record<string, string>
  } = {}
): Effect.Effect<Reply, never, HttpServer.HttpServer> =>
  Effect.gen(function* () {
    const server = yield* HttpServer.HttpServer
    const address = server.address as HttpServer.TcpAddress
    const headers: Record<string, string> = { ...init.headers }
    let body: string | undefined = init.body
    if (init.json !== undefined) {
      headers["content-type"] = "application/json"
      body = JSON.stringify(init.json)
    } else if (init.form !== undefined) {
      headers["content-type"] = "application/x-www-form-urlencoded"
      body = new URLSearchParams(init.form).toString()
    }
    return yield* Effect.promise(async () => {
      const response = await fetch(`http://127.0.0.1:${address.port}${path}`, {
        method: init.method ?? (body === undefined ? "GET" : "POST"),
        headers,
        ...(body === undefined ? {} : { body })
      })
      const text = await response.text()
      let parsed: unknown = text
      try {
        parsed = text === "" ? undefined : JSON.parse(text)
      } catch {}
      return { status: response.status, headers: response.headers, body: parsed }
    })
  })

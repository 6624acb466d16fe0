/**
 * A real server on port 0 running `examples/app.ts`, like `HttpTest.makeServer`, with the parts the outage,
 * load-shedding and background-work tests swap: the hasher, the validator, the hooks, the background
 * work's bounds, and a logger that records every log entry.
 */
import { createServer } from "node:http"
import { HttpApiBuilder } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Cause, ConfigProvider, Effect, Layer, Logger, type LogLevel } from "effect"
import {
  type AccessTokenStore,
  PasswordHasher,
  PasswordValidator,
  Throttle,
  type UserHooks,
  UserManager
} from "effect-users"
import { BackgroundWork } from "effect-users/http"
import { Migrations, SqlAccessTokenStore, SqlUserRepository } from "effect-users/sql"
import { layerAudit, makeApp } from "../../examples/app.js"
import { authSecret } from "./HttpTest.js"
import { makeFakeHasher, recordingHooks, testConfig } from "./TestUsers.js"

/** A log entry as recorded: level, message and the rendered cause (what a log line would print). */
export interface LogEntry {
  readonly level: LogLevel.LogLevel["label"]
  readonly message: string
  readonly cause: string
  readonly annotations: Record<string, unknown>
}

export interface OpsServerOptions<RC = never> {
  readonly hasher?: PasswordHasher.PasswordHasherService | undefined
  readonly validator?: PasswordValidator.PasswordValidatorService | undefined
  // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
  readonly hooks?: Partial<UserHooks.UserHooksService<any>> | undefined
  readonly background?: BackgroundWork.BackgroundWorkOptions | undefined
  /** Where the cookie backend's database tokens go; default the SQL client's `accesstoken` table. */
  readonly tokenStore?: Layer.Layer<AccessTokenStore.AccessTokenStore, unknown, RC> | undefined
  /** Default none: these tests flood the routes to reach other bounds (queues, pools) than the throttle's. */
  readonly throttle?: Layer.Layer<Throttle.Throttle> | undefined
}

/** The server layer (outputs HttpServer, UserManager and SqlClient), its recording hooks and its logs. */
export const makeOpsServer = <RC = never>(
  client: Layer.Layer<SqlClient.SqlClient, unknown, RC>,
  options: OpsServerOptions<RC> = {}
) => {
  const hooks = recordingHooks(options.hooks)
  const logs: Array<LogEntry> = []
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, cause, logLevel, message }) => {
      logs.push({
        level: logLevel.label,
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        cause: Cause.isEmpty(cause) ? "" : Cause.pretty(cause, { renderErrorCause: true }),
        annotations: Object.fromEntries(annotations)
      })
    })
  )
  const app = makeApp({ secureCookie: true })
  const tokens: Layer.Layer<AccessTokenStore.AccessTokenStore, unknown, RC | SqlClient.SqlClient> =
    options.tokenStore ?? SqlAccessTokenStore.layer()
  const Users = UserManager.layer.pipe(
    Layer.provide([
      SqlUserRepository.layer(),
      testConfig(),
      hooks.layer,
      PasswordHasher.layer(options.hasher ?? makeFakeHasher().service),
      options.validator === undefined
        ? Layer.empty
        : Layer.succeed(PasswordValidator.PasswordValidator, options.validator)
    ]),
    Layer.provideMerge(layerAudit()),
    Layer.provideMerge(Migrations.layer()),
    Layer.provideMerge(client)
  )
  const layer = HttpApiBuilder.serve().pipe(
    Layer.provide(app.ApiLiveWith(tokens)),
    Layer.provide(options.throttle ?? Throttle.layerDisabled),
    Layer.provide(BackgroundWork.configure(options.background ?? {})),
    Layer.provideMerge(Users),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["USERS_AUTH_SECRET", authSecret]])))),
    Layer.provide(logger),
    Layer.orDie
  )
  /** Every recorded entry, as one text: for "nothing leaks" checks. */
  const logText = () => JSON.stringify(logs)
  return { layer, hooks, logs, logText, app }
}

/** Runs `effect` every 20 ms until `done` holds of its result, for at most `timeout` ms (then dies). */
export const pollUntil = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  timeout = 10_000
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const deadline = Date.now() + timeout
    const loop: Effect.Effect<A, E, R> = Effect.flatMap(effect, (a) =>
      done(a)
        ? Effect.succeed(a)
        : Date.now() > deadline
          ? Effect.dieMessage(`pollUntil: not done after ${timeout} ms`)
          : Effect.zipRight(Effect.sleep(20), loop)
    )
    return loop
  })

/**
 * The full effect-users API (`npm start`): register, bearer-JWT and cookie-database login, verify, reset,
 * users, Swagger UI at /docs, on http://127.0.0.1:8000 (PORT and HOST override). Without its secrets it runs
 * with development ones, on a loopback HOST only.
 *
 * Storage (`storage.ts`): an SQLite file (`effect-users.db`, or SQLITE_FILE), created and migrated on first
 * start; PostgreSQL when DATABASE_URL is set. Verification and reset tokens are printed to the console, as in
 * FastAPI Users' example: send them by e-mail in a real app.
 */
import { createServer } from "node:http"
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import {
  layerArgon2Workers,
  Migrations,
  SqlUserRepository,
  UserHooks,
  UserManager,
  UserManagerConfig
} from "effect-users"
import { makeApp } from "./app.js"
import { checkSecrets } from "./devSecrets.js"
import { configProvider, Database } from "./storage.js"

const host = process.env.HOST || "127.0.0.1"
const { missing, refusal } = checkSecrets(process.env, host)
if (refusal !== undefined) {
  console.error(refusal)
  process.exit(1)
}
if (missing.length > 0) {
  const line = "!".repeat(78)
  console.warn(
    `${line}\n!!! DEVELOPMENT SECRETS IN USE for ${missing.join(", ")}.\n` +
      "!!! Anyone can forge logins and tokens. Set these variables before exposing this server.\n" +
      `${line}`
  )
}

const Hooks = UserHooks.layer({
  onAfterRegister: (user) => Effect.log(`User ${user.id} has registered.`),
  onAfterForgotPassword: (user, token) =>
    Effect.log(`User ${user.id} has forgot their password. Reset token: ${token}`),
  onAfterRequestVerify: (user, token) =>
    Effect.log(`Verification requested for user ${user.id}. Verification token: ${token}`)
})

const Users = UserManager.layer.pipe(
  Layer.provide([
    SqlUserRepository.layer,
    UserManagerConfig.layerConfig(),
    Hooks,
    // Argon2id on niced worker threads: logins use the idle CPU, token checks keep their latency.
    layerArgon2Workers()
  ]),
  Layer.provideMerge(Migrations.layer()),
  Layer.provideMerge(Database)
)

const app = makeApp({
  secureCookie: process.env.COOKIE_SECURE !== "false",
  // USERS_REQUIRE_CURRENT_PASSWORD=false: FastAPI Users' PATCH /users/me (a token alone changes password/e-mail).
  requireCurrentPassword: process.env.USERS_REQUIRE_CURRENT_PASSWORD !== "false"
})

const Server = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(app.ApiLive),
  Layer.provide(Users),
  HttpServer.withLogAddress,
  Layer.provide(
    NodeHttpServer.layerConfig(createServer, {
      port: Config.port("PORT").pipe(Config.withDefault(8000)),
      host: Config.succeed(host)
    })
  ),
  Layer.provide(Layer.setConfigProvider(configProvider))
)

NodeRuntime.runMain(Layer.launch(Server))

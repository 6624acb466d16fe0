/**
 * The full effect-users API (`npm start`): register, bearer-JWT and cookie-database login, verify, reset,
 * users, Swagger UI at /docs, on http://127.0.0.1:8000 (PORT and HOST override). Without its secrets it runs
 * with development ones, on a loopback HOST only.
 *
 * Access tokens are HS256 JWTs signed with USERS_AUTH_SECRET; with JWT_PRIVATE_KEY (a P-256 or Ed25519 private
 * key, PKCS#8 PEM or JWK) they are ES256/EdDSA JWTs instead and /.well-known/jwks.json serves the public keys
 * (JWT_KEY_ID, and JWT_PREVIOUS_KEY / JWT_PREVIOUS_KEY_ID / JWT_PREVIOUS_KEY_UNTIL for a rotation).
 *
 * Storage (`storage.ts`): an SQLite file (`effect-users.db`, or SQLITE_FILE), created and migrated on first
 * start; PostgreSQL when DATABASE_URL is set. Verification and reset tokens are printed to the console, as in
 * FastAPI Users' example: send them by e-mail in a real app.
 *
 * Throttling (README, "Throttling"): in memory, or in Redis when REDIS_URL is set (every process on that server
 * shares the counts; keys start with USERS_THROTTLE_PREFIX). Behind proxies, USERS_TRUSTED_PROXIES lists their
 * addresses and CIDR ranges (comma-separated) or USERS_PROXY_HOPS counts them.
 */
import { createServer } from "node:http"
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Option } from "effect"
import {
  type ClientAddress,
  JwtKeySet,
  layerArgon2Workers,
  Migrations,
  SqlUserRepository,
  Throttle,
  UserHooks,
  UserManager,
  UserManagerConfig
} from "effect-users"
import { Redis, RedisThrottle } from "effect-users/redis"
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

const trustedProxies = (): ClientAddress.TrustedProxies | undefined => {
  const list = process.env.USERS_TRUSTED_PROXIES?.split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry)
  if (list !== undefined && list.length > 0) return { addresses: list }
  const hops = Number(process.env.USERS_PROXY_HOPS ?? "")
  return Number.isInteger(hops) && hops > 0 ? { hops } : undefined
}

const app = makeApp({
  secureCookie: process.env.COOKIE_SECURE !== "false",
  trustedProxies: trustedProxies(),
  ...(process.env.JWT_PRIVATE_KEY ? { keySet: JwtKeySet.layerConfig() } : {})
})

const ThrottleLive = Layer.unwrapEffect(
  Effect.map(Config.option(Config.nonEmptyString("REDIS_URL")), (url) =>
    Option.isNone(url)
      ? Throttle.layerMemory()
      : RedisThrottle.layer({ prefix: process.env.USERS_THROTTLE_PREFIX || undefined }).pipe(
          Layer.provide(Redis.layerConfig())
        )
  )
)

const Server = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(app.ApiLive),
  Layer.provide(ThrottleLive),
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

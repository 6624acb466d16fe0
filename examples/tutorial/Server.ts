/**
 * The notes service: PostgreSQL (DATABASE_URL) for users, sessions and notes, Redis (REDIS_URL) for the login
 * throttle, mail printed to the terminal. Run it with `npx tsx examples/tutorial/Server.ts`.
 */
import { createServer } from "node:http"
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Layer } from "effect"
import { PgStorage } from "effect-users/pg"
import { Redis, RedisThrottle } from "effect-users/redis"
import {
  SqlAccessTokenStore,
  SqlOAuthStateStore,
  SqlRefreshTokenStore,
  SqlSecondFactorStore,
  SqlUserRepository
} from "effect-users/sql"
import { ApiLive, ManagerLive } from "./Api.js"
import * as Mailer from "./Mailer.js"
import { MigrationsLive } from "./Migrations.js"
import { NoteUser } from "./Model.js"
import * as Notes from "./Notes.js"

// PostgreSQL with bounded queries; the migrations run before anything reads the tables.
const Database = PgStorage.layerConfig({ url: Config.redacted("DATABASE_URL") })

const Storage = Layer.mergeAll(
  SqlUserRepository.layer({ model: NoteUser }),
  SqlAccessTokenStore.layer(),
  SqlRefreshTokenStore.layer(),
  SqlOAuthStateStore.layer(),
  SqlSecondFactorStore.layer(),
  Notes.layerSql
).pipe(Layer.provide(MigrationsLive), Layer.provide(Database))

// Login back-off and rate limits shared by every instance on the same Redis.
const ThrottleLive = Layer.unwrapEffect(
  Config.map(Config.string("USERS_THROTTLE_PREFIX").pipe(Config.withDefault("notes:throttle:")), (prefix) =>
    RedisThrottle.layer({ prefix })
  )
).pipe(Layer.provide(Redis.layerConfig()))

const HttpLive = NodeHttpServer.layerConfig(
  () => createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 }),
  {
    port: Config.port("PORT").pipe(Config.withDefault(8000)),
    host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
  }
)

const Server = HttpApiBuilder.serve().pipe(
  Layer.provide(ApiLive),
  Layer.provide(ThrottleLive),
  Layer.provide(ManagerLive),
  Layer.provide(Mailer.layerConsole),
  Layer.provide(Storage),
  HttpServer.withLogAddress,
  Layer.provide(HttpLive)
)

NodeRuntime.runMain(Layer.launch(Server))

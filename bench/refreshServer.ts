/**
 * The server of `npm run bench:http`'s refresh figure: effect-users' routes with one bearer backend, `jwt`, whose
 * logins also answer a refresh token (`POST /auth/jwt/refresh`), the refresh families in `SqlRefreshTokenStore`,
 * on an SQLite file (SQLITE_FILE) with real argon2 on the hashing threads and `npm start`'s throttle
 * (USERS_RATE_LIMITS=off for the bench's single client), as in `examples/server.ts`. Run the same way (built
 * JavaScript, plain node); PORT sets the port. The example app has no refresh tokens: adding them would
 * change what its documented `/auth/jwt/login` answers.
 */
import { createServer } from "node:http"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Layer from "effect/Layer"
import { Argon2Workers, AuthStrategy, UserManager, UserManagerConfig } from "effect-users"
import { AuthBackend, UsersApi } from "effect-users/http"
import { Migrations, SqlAccessTokenStore, SqlRefreshTokenStore, SqlUserRepository } from "effect-users/sql"
import { authSecret } from "../examples/app.js"
import { ThrottleStore } from "../examples/sessionStore.js"
import { configProvider, Database } from "../examples/storage.js"

const Users = UsersApi.make({
  name: "bench-refresh",
  backends: [
    AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret: authSecret, lifetime: "10 minutes" }), { refresh: {} })
  ]
})
class Api extends Users.addTo(HttpApi.make("bench-refresh")) {}

const Server = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api)),
  Layer.provide(Users.layer(Api)),
  Layer.provide([SqlRefreshTokenStore.layer(), SqlAccessTokenStore.layer(), ThrottleStore]),
  Layer.provide(
    UserManager.layer.pipe(
      Layer.provide([SqlUserRepository.layer(), UserManagerConfig.layerConfig(), Argon2Workers.layer()])
    )
  ),
  Layer.provide(Migrations.layer()),
  Layer.provide(Database),
  HttpServer.withLogAddress,
  Layer.provide(NodeHttpServer.layer(createServer, { port: Number(process.env.PORT ?? 8000), host: "127.0.0.1" })),
  Layer.provide(Layer.setConfigProvider(configProvider))
)

NodeRuntime.runMain(Layer.launch(Server))

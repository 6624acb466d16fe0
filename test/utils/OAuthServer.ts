/**
 * The server of the OAuth route tests: an API with OAuth groups, served on a loopback port over a migrated SQL
 * client, with SQL users, OAuth states and access tokens and the fast fake hasher.
 */
import { createServer } from "node:http"
import { type HttpApi, HttpApiBuilder, type HttpApiGroup } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Layer } from "effect"
import { PasswordHasher, UserManager } from "effect-users"
import { Migrations, SqlAccessTokenStore, SqlOAuthStateStore, SqlUserRepository } from "effect-users/sql"
import { makeFakeHasher, testConfig } from "./TestUsers.js"

/** Serves `api` with the users' layer and the OAuth layers (which may need the users'), on `port`. */
export const serveOAuth = <
  Id extends string,
  Groups extends HttpApiGroup.HttpApiGroup.Any,
  E,
  R,
  UA,
  UE,
  UR,
  OA,
  OE,
  OR
>(options: {
  readonly api: HttpApi.HttpApi<Id, Groups, E, R>
  readonly users: Layer.Layer<UA, UE, UR>
  readonly oauth: Layer.Layer<OA, OE, OR>
  readonly client: Layer.Layer<SqlClient.SqlClient, unknown>
  readonly port: number
}) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.api(options.api)),
    Layer.provide(options.oauth.pipe(Layer.provide(options.users))),
    Layer.provide(options.users),
    Layer.provideMerge(
      UserManager.layer.pipe(
        Layer.provide([SqlUserRepository.layer(), testConfig(), PasswordHasher.layer(makeFakeHasher().service)]),
        Layer.provideMerge(SqlOAuthStateStore.layer()),
        Layer.provideMerge(SqlAccessTokenStore.layer()),
        Layer.provideMerge(Migrations.layer()),
        Layer.provideMerge(options.client)
      )
    ),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: options.port, host: "127.0.0.1" }))
  )

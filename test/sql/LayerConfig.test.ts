/**
 * The SQL adapters' `layerConfig`: the same options as `layer(options)`, read through `Config`. The tables exist
 * only under the names the configuration gives, so a store that ignored its configuration would fail.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Exit, Layer, Option } from "effect"
import { AccessTokenStore, OAuthStateStore, RefreshTokenStore, UserRepository } from "effect-users"
import {
  Migrations,
  SqlAccessTokenStore,
  SqlOAuthStateStore,
  SqlRefreshTokenStore,
  SqlUserRepository
} from "effect-users/sql"
import { newUser } from "../suites/UserRepositorySuite.js"

const tables = {
  userTable: "squire",
  oauthAccountTable: "squire_oauth_account",
  accessTokenTable: "squire_token",
  oauthStateTable: "squire_state",
  refreshTokenTable: "squire_refresh"
}

const settings = new Map([
  ["USER_TABLE", tables.userTable],
  ["OAUTH_ACCOUNT_TABLE", tables.oauthAccountTable],
  ["ACCESS_TOKEN_TABLE", tables.accessTokenTable],
  ["OAUTH_STATE_TABLE", tables.oauthStateTable],
  ["REFRESH_TOKEN_TABLE", tables.refreshTokenTable],
  ["OAUTH_TOKEN_SECRET", "squire-oauth-token-secret-0123456789abcdef"]
])

/** The stores from configuration, over one migrated SQLite database whose tables have the squire names. */
const stores = (provider: ConfigProvider.ConfigProvider) => {
  const client = SqliteClient.layer({ filename: ":memory:" })
  return Layer.mergeAll(
    SqlUserRepository.layerConfig({
      userTable: Config.string("USER_TABLE"),
      oauthAccountTable: Config.string("OAUTH_ACCOUNT_TABLE"),
      oauthTokenSecret: Config.redacted("OAUTH_TOKEN_SECRET")
    }),
    SqlAccessTokenStore.layerConfig({ table: Config.string("ACCESS_TOKEN_TABLE") }),
    SqlRefreshTokenStore.layerConfig({ table: Config.string("REFRESH_TOKEN_TABLE") }),
    SqlOAuthStateStore.layerConfig({ table: Config.string("OAUTH_STATE_TABLE") })
  ).pipe(
    Layer.provide(Migrations.layer(tables)),
    Layer.provide(client),
    Layer.provide(Layer.setConfigProvider(provider))
  )
}

describe("layerConfig of the SQL adapters", () => {
  it.effect("each store works on the tables its configuration names", () =>
    Effect.gen(function* () {
      const users = yield* UserRepository.UserRepository
      const tokens = yield* AccessTokenStore.AccessTokenStore
      const refresh = yield* RefreshTokenStore.RefreshTokenStore
      const states = yield* OAuthStateStore.OAuthStateStore

      const user = yield* users.create(newUser())
      assert.isTrue(Option.isSome(yield* users.get(user.id)))
      const linked = yield* users.addOAuthAccount(user, {
        oauthName: "google",
        accessToken: "squire-access-token",
        accountId: "squire-1",
        accountEmail: user.email
      })
      assert.strictEqual(linked.oauthAccounts[0]?.accessToken, "squire-access-token")

      const now = new Date()
      yield* tokens.write("digest-1", { userId: String(user.id), createdAt: now })
      assert.isTrue(Option.isSome(yield* tokens.read("digest-1")))

      const family = { id: crypto.randomUUID(), userId: String(user.id), backend: "jwt", epoch: 0 }
      yield* refresh.create({ ...family, createdAt: now, lastUsedAt: now }, "refresh-1")
      assert.isTrue(Option.isSome(yield* refresh.find("refresh-1")))

      assert.isTrue(yield* states.spend("state-1", Date.now() + 60_000))
      assert.isFalse(yield* states.spend("state-1", Date.now() + 60_000))
    }).pipe(Effect.provide(stores(ConfigProvider.fromMap(settings))))
  )

  it.effect("the provider's tokens are sealed with the configured secret", () =>
    Effect.gen(function* () {
      const users = yield* UserRepository.UserRepository
      const user = yield* users.create(newUser())
      yield* users.addOAuthAccount(user, {
        oauthName: "google",
        accessToken: "squire-access-token",
        accountId: "squire-2",
        accountEmail: user.email
      })
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ readonly access_token: string }>`SELECT access_token FROM squire_oauth_account`
      assert.isNotEmpty(rows)
      for (const row of rows) assert.notInclude(row.access_token, "squire-access-token")
    }).pipe(
      Effect.provide(
        Layer.provideMerge(
          SqlUserRepository.layerConfig({
            userTable: Config.string("USER_TABLE"),
            oauthAccountTable: Config.string("OAUTH_ACCOUNT_TABLE"),
            oauthTokenSecret: Config.redacted("OAUTH_TOKEN_SECRET")
          }).pipe(Layer.provide(Migrations.layer(tables))),
          SqliteClient.layer({ filename: ":memory:" })
        ).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(settings))))
      ),
      Effect.orDie
    )
  )

  it.effect("a missing setting fails the layer with a ConfigError naming it", () =>
    Effect.gen(function* () {
      const exit = yield* Layer.build(
        stores(ConfigProvider.fromMap(new Map([...settings].filter(([name]) => name !== "ACCESS_TOKEN_TABLE"))))
      ).pipe(Effect.scoped, Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "ACCESS_TOKEN_TABLE")
    })
  )

  it.effect("options left out of the configuration keep their defaults", () =>
    Effect.gen(function* () {
      const user = yield* (yield* UserRepository.UserRepository).create(newUser())
      const tokens = yield* AccessTokenStore.AccessTokenStore
      yield* tokens.write("digest-2", { userId: String(user.id), createdAt: new Date() })
      assert.isTrue(Option.isSome(yield* tokens.read("digest-2")))
    }).pipe(
      Effect.provide(
        Layer.merge(SqlAccessTokenStore.layerConfig({}), SqlUserRepository.layerConfig({})).pipe(
          Layer.provide(Migrations.layer()),
          Layer.provide(SqliteClient.layer({ filename: ":memory:" }))
        )
      ),
      Effect.orDie
    )
  )
})

/**
 * Where `npm start` keeps the cookie backend's sessions (and the JWT deny-list): in Redis when REDIS_URL is set
 * (keys under REDIS_KEY_PREFIX, default `effect-users:`), else in the database beside the users.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { type AccessTokenStore, SqlAccessTokenStore } from "effect-users"
import { sessionLifetime } from "./app.js"

/** The token store chosen by REDIS_URL: Redis, or the SQL client's `accesstoken` table. */
export const SessionStore = Layer.unwrapEffect(
  Effect.gen(function* (): Effect.fn.Return<
    Layer.Layer<AccessTokenStore.AccessTokenStore, unknown, SqlClient.SqlClient>,
    ConfigError.ConfigError
  > {
    const url = yield* Config.option(Config.redacted("REDIS_URL"))
    if (Option.isNone(url) || Redacted.value(url.value) === "") return SqlAccessTokenStore.layer
    const prefix = yield* Config.string("REDIS_KEY_PREFIX").pipe(Config.withDefault("effect-users:"))
    // Loaded only when used: a server without Redis does not carry ioredis.
    const { Redis, RedisAccessTokenStore } = yield* Effect.promise(() => import("effect-users/redis"))
    yield* Effect.log(`Sessions: Redis (REDIS_URL), keys under ${prefix}`)
    return RedisAccessTokenStore.layerWith({ prefix, lifetime: sessionLifetime }).pipe(
      Layer.provide(Redis.layer({ url: url.value }))
    )
  })
)

/**
 * An app that composes effect-users' routes into its own HttpApi, next to its own group whose endpoints
 * use effect-users' authentication. `examples/server.ts` serves it; the tests and the bench run it too.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Config, type ConfigError, Effect, Layer, Option, Schema } from "effect"
import {
  AuthBackend,
  AuthStrategy,
  type ClientAddress,
  CurrentUser,
  Jwks,
  JwtKeySet,
  OptionalUser,
  SqlAccessTokenStore,
  UsersApi
} from "effect-users"

/** Options read from the environment by the server; tests pass them directly. */
export interface AppOptions {
  readonly requiresVerification?: boolean
  /** `Secure` on the auth cookie; default true (browsers treat http://127.0.0.1 and localhost as secure). */
  readonly secureCookie?: boolean
  /** The largest request body accepted, in bytes; default 64 KiB. */
  readonly maxBodySize?: number
  /**
   * Asymmetric access tokens: the bearer backend signs with this key set (not `USERS_AUTH_SECRET`) and the
   * API serves its public keys at `/.well-known/jwks.json`. Default: HS256 with `USERS_AUTH_SECRET`.
   */
  readonly keySet?: Layer.Layer<JwtKeySet, ConfigError.ConfigError>
  /** The proxies allowed to name the client in `X-Forwarded-For`; default none. */
  readonly trustedProxies?: ClientAddress.TrustedProxies | undefined
}

/** The authentication secret: `USERS_AUTH_SECRET`, at least 32 bytes. */
export const authSecret = Config.redacted("USERS_AUTH_SECRET")

// HS256 with the secret, or the key set's codec when one is in context (`AppOptions.keySet` provides it).
const jwtStrategy = Effect.flatMap(Effect.serviceOption(JwtKeySet), (keys) =>
  AuthStrategy.jwt({
    secret: authSecret,
    lifetime: "1 hour",
    codec: Option.getOrUndefined(Option.map(keys, (keySet) => keySet.codec))
  })
)

/** Builds the app's API: effect-users' groups plus the app's own `greetings` group. */
export const makeApp = (options: AppOptions = {}) => {
  // Two login backends: a bearer JWT (stateless) and a cookie holding a database token (revoked on logout).
  const Users = UsersApi.make({
    name: "app",
    backends: [
      AuthBackend.bearer("jwt", jwtStrategy),
      AuthBackend.cookie("cookie", AuthStrategy.database({ lifetime: "1 hour" }), {
        maxAge: "1 hour",
        secure: options.secureCookie ?? true
      })
    ],
    requiresVerification: options.requiresVerification ?? false,
    maxBodySize: options.maxBodySize,
    trustedProxies: options.trustedProxies
  })

  // The app's own authentication requirements, with FastAPI Users' `current_user(...)` options.
  class Verified extends Users.Authentication<Verified>()("app/Verified", { active: true, verified: true }) {}
  class MaybeUser extends Users.OptionalAuthentication<MaybeUser>()("app/MaybeUser", { active: true }) {}

  class GreetingsApi extends HttpApiGroup.make("greetings")
    .add(
      HttpApiEndpoint.get("hello", "/hello")
        .addSuccess(Schema.Struct({ message: Schema.String }))
        .middleware(Users.Authenticated)
    )
    .add(
      HttpApiEndpoint.get("secret", "/secret")
        .addSuccess(Schema.Struct({ message: Schema.String }))
        .middleware(Verified)
    )
    .add(
      HttpApiEndpoint.get("welcome", "/welcome")
        .addSuccess(Schema.Struct({ message: Schema.String }))
        .middleware(MaybeUser)
    )
    .add(HttpApiEndpoint.get("ping", "/ping").addSuccess(Schema.Struct({ pong: Schema.Boolean })))
    .prefix("/greetings") {}

  class Api extends Users.addTo(HttpApi.make("app"))
    .add(GreetingsApi)
    .annotate(OpenApi.Title, "effect-users example")
    .annotate(OpenApi.Version, "0.1.0") {}

  const GreetingsLive = HttpApiBuilder.group(Api, "greetings", (handlers) =>
    handlers
      .handle("hello", () => Effect.map(CurrentUser, (user) => ({ message: `Hello, ${user.email}` })))
      .handle("secret", () => Effect.map(CurrentUser, (user) => ({ message: `${user.email} is verified` })))
      .handle("welcome", () =>
        Effect.map(OptionalUser, (user) => ({
          message: Option.match(user, { onNone: () => "Welcome, stranger", onSome: (u) => `Welcome back, ${u.email}` })
        }))
      )
      .handle("ping", () => Effect.succeed({ pong: true }))
  )

  /** The same API with the JWKS route, served when the app has a key set. */
  class ApiWithJwks extends Api.add(Jwks.Group) {}

  const implement = <A, E, R>(api: Layer.Layer<A, E, R>) =>
    api.pipe(
      Layer.provide(GreetingsLive),
      Layer.provide([Users.layerAuthentication(Verified), Users.layerAuthentication(MaybeUser)]),
      Layer.provideMerge(Users.layer(Api)),
      Layer.provide(SqlAccessTokenStore.layer)
    )

  /** The API's implementation; needs a `UserManager` and a `SqlClient` (the database strategy's tokens). */
  const ApiLive =
    options.keySet === undefined
      ? implement(HttpApiBuilder.api(Api))
      : implement(HttpApiBuilder.api(ApiWithJwks).pipe(Layer.provide(Jwks.layer(ApiWithJwks)))).pipe(
          Layer.provide(options.keySet)
        )

  return { Api, ApiWithJwks, Users, ApiLive }
}

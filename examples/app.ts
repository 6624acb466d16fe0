/**
 * An app that composes effect-users' routes into its own HttpApi, next to its own group whose endpoints
 * use effect-users' authentication. `examples/server.ts` serves it; the tests and the bench run it too.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Config, Effect, Layer, Option, Schema } from "effect"
import { AuthBackend, AuthStrategy, CurrentUser, OptionalUser, SqlAccessTokenStore, UsersApi } from "effect-users"

/** Options read from the environment by the server; tests pass them directly. */
export interface AppOptions {
  readonly requiresVerification?: boolean
  /** `Secure` on the auth cookie; default true (browsers treat http://127.0.0.1 and localhost as secure). */
  readonly secureCookie?: boolean
  /** The largest request body accepted, in bytes; default 64 KiB. */
  readonly maxBodySize?: number
  /** `PATCH /users/me` needs `current_password` to change password or e-mail; default true (false: FastAPI Users'). */
  readonly requireCurrentPassword?: boolean
}

/** The authentication secret: `USERS_AUTH_SECRET`, at least 32 bytes. */
export const authSecret = Config.redacted("USERS_AUTH_SECRET")

/** Builds the app's API: effect-users' groups plus the app's own `greetings` group. */
export const makeApp = (options: AppOptions = {}) => {
  // Two login backends: a bearer JWT and a cookie holding a database token; both end on logout, logout-all,
  // a password reset or change, across instances (the JWT's deny-list and epoch live in the database).
  const Users = UsersApi.make({
    name: "app",
    backends: [
      AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret: authSecret, lifetime: "1 hour" })),
      AuthBackend.cookie("cookie", AuthStrategy.database({ lifetime: "1 hour" }), {
        maxAge: "1 hour",
        secure: options.secureCookie ?? true
      })
    ],
    requiresVerification: options.requiresVerification ?? false,
    requireCurrentPassword: options.requireCurrentPassword ?? true,
    maxBodySize: options.maxBodySize
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

  /** The API's implementation; needs a `UserManager` and a `SqlClient` (the database strategy's tokens). */
  const ApiLive = HttpApiBuilder.api(Api).pipe(
    Layer.provide(GreetingsLive),
    Layer.provide([Users.layerAuthentication(Verified), Users.layerAuthentication(MaybeUser)]),
    Layer.provideMerge(Users.layer(Api)),
    Layer.provide(SqlAccessTokenStore.layer)
  )

  return { Api, Users, ApiLive }
}

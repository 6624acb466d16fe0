/**
 * Programs that must not compile. `tsc --noEmit` checks this file (tsconfig includes `test`): each
 * `@ts-expect-error` fails the type check if the line below it ever compiles. Nothing here runs.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import {
  type AccessTokenStore,
  AuthStrategy,
  type JwtKeySet,
  OAuthProvider,
  type RefreshTokenStore,
  type Sessions,
  Throttle,
  type UserHooks,
  UserManager,
  type UserManagerConfig,
  UserModel,
  UserRepository
} from "effect-users"
import { AuthBackend, Jwks, OAuth, UserSchemas, UsersApi } from "effect-users/http"
import { Redis, RedisAccessTokenStore, RedisThrottle } from "effect-users/redis"
import { SqlUserRepository } from "effect-users/sql"

const secret = Redacted.make("type-tests-secret-type-tests-secret-type")
const Users = UsersApi.make({ backends: [AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret }))] })

class Notes extends HttpApiGroup.make("notes")
  .add(
    HttpApiEndpoint.get("list", "/notes")
      .addSuccess(Schema.Array(Schema.Struct({ title: Schema.String })))
      .middleware(Users.Authenticated)
  )
  .add(HttpApiEndpoint.post("create", "/notes").setPayload(Schema.Struct({ title: Schema.String }))) {}

class Api extends Users.addTo(HttpApi.make("notes-app")).add(Notes) {}

// A correct program, so the wrong ones below fail for the reason their comments give.
export const NotesLive = HttpApiBuilder.group(Api, "notes", (handlers) =>
  handlers
    .handle("list", () => Effect.succeed([{ title: "first" }]))
    .handle("create", ({ payload }) => Effect.as(Effect.log(payload.title), undefined))
)

// A handler for an endpoint the group does not have (a misspelt name).
export const WrongName = HttpApiBuilder.group(Api, "notes", (handlers) =>
  // @ts-expect-error: "lsit" is not an endpoint of "notes"
  handlers.handle("lsit", () => Effect.succeed([]))
)

// A handler that answers the wrong shape (a number where the endpoint declares a list of notes).
export const WrongShape = HttpApiBuilder.group(Api, "notes", (handlers) =>
  // @ts-expect-error: the success schema is an array of `{ title: string }`
  handlers.handle("list", () => Effect.succeed(42))
)

// Our routes are checked the same way: "me" answers a user, not a string.
export const WrongUsersHandler = HttpApiBuilder.group(Api, "users", (handlers) =>
  // @ts-expect-error: `/users/me` answers a user
  handlers.handle("me", () => Effect.succeed("me"))
)

// Reading a payload field the endpoint does not declare.
export const WrongPayload = HttpApiBuilder.group(Api, "notes", (handlers) =>
  // @ts-expect-error: the payload has `title`, not `body`
  handlers.handle("create", ({ payload }) => Effect.as(Effect.log(payload.body), undefined))
)

const UsersLive = Users.layer(Api)

// The whole app: our groups and the app's own; it needs only the manager and its sessions (`UserManager.layer`).
export const Complete: Layer.Layer<
  HttpApi.Api,
  unknown,
  UserManager.UserManager | Sessions.Sessions | AccessTokenStore.AccessTokenStore
> = HttpApiBuilder.api(Api).pipe(Layer.provide(NotesLive), Layer.provide(UsersLive))

// An app that implements our groups but forgets its own `notes` group: `HttpApiBuilder.api(Api)` still
// requires `ApiGroup<"notes-app", "notes">`, so the layer does not fit the one the server is given.
// @ts-expect-error: ApiGroup<"notes-app", "notes"> is not provided
export const MissingGroup: Layer.Layer<HttpApi.Api, unknown, UserManager.UserManager> = HttpApiBuilder.api(Api).pipe(
  Layer.provide(UsersLive)
)

// An app that forgets our layer: our groups (and the `Authenticated` middleware) stay required.
// @ts-expect-error: ApiGroup<"notes-app", "users"> and the rest are not provided
export const MissingUsers: Layer.Layer<HttpApi.Api, unknown, UserManager.UserManager> = HttpApiBuilder.api(Api).pipe(
  Layer.provide(NotesLive)
)

// The JWKS route needs a key set: with `Jwks.layer` and a `JwtKeySet` it is complete; without the key set,
// or with the group declared but not implemented, the app's layer does not fit.
class JwksApi extends Api.add(Jwks.Group) {}
declare const keySet: Layer.Layer<JwtKeySet.JwtKeySet>
export const WithJwks: Layer.Layer<
  HttpApi.Api,
  unknown,
  UserManager.UserManager | Sessions.Sessions | AccessTokenStore.AccessTokenStore
> = HttpApiBuilder.api(JwksApi).pipe(
  Layer.provide([NotesLive, Jwks.layer(JwksApi)]),
  Layer.provide(UsersLive),
  Layer.provide(keySet)
)
// @ts-expect-error: JwtKeySet is not provided
export const JwksWithoutKeys: Layer.Layer<
  HttpApi.Api,
  unknown,
  UserManager.UserManager | Sessions.Sessions | AccessTokenStore.AccessTokenStore
> = HttpApiBuilder.api(JwksApi).pipe(Layer.provide([NotesLive, Jwks.layer(JwksApi)]), Layer.provide(UsersLive))
// @ts-expect-error: ApiGroup<"notes-app", "jwks"> is not provided
export const JwksNotImplemented: Layer.Layer<
  HttpApi.Api,
  unknown,
  UserManager.UserManager | Sessions.Sessions | AccessTokenStore.AccessTokenStore
> = HttpApiBuilder.api(JwksApi).pipe(Layer.provide(NotesLive), Layer.provide(UsersLive), Layer.provide(keySet))
// @ts-expect-error: `Jwks.layer` implements only an API that declares the `jwks` group
Jwks.layer(Api)

// OAuth options are checked: a misspelt option, and a backend the app does not have.
declare const provider: OAuthProvider.OAuthProvider<"github">
// @ts-expect-error: `stateSecrets` is not an option (it is `stateSecret`)
OAuth.make(Users, provider, { backend: "jwt", stateSecrets: secret })
// @ts-expect-error: the app has no backend named "cookie"
OAuth.make(Users, provider, { backend: "cookie", stateSecret: secret })
// @ts-expect-error: a generic OpenID Provider needs a name (it is the route and the `oauth_name`)
OAuthProvider.oidc({ issuer: "https://id.example", clientId: "id", clientSecret: secret })
// @ts-expect-error: the client secret is `Redacted` (or a `Config` of one), never a plain string
OAuthProvider.google({ clientId: "id", clientSecret: "plain" })
// The preset's name types the groups: `oauth.google`.
export const googleGroup: "oauth.google" = OAuth.make(
  Users,
  OAuthProvider.google({ clientId: "id", clientSecret: secret }),
  { backend: "jwt", stateSecret: secret }
).group.identifier

// `UserSchemas.make(model)` is typed by the model: its create payload carries the model's fields in
// snake_case on the wire and camelCase once decoded, and nothing else.
const Knight = UserModel.make({ id: Schema.Int, fields: { firstName: Schema.String } })
const KnightSchemas = UserSchemas.make(Knight)
export const created: typeof KnightSchemas.UserCreate.Type = {
  email: "lancelot@camelot.bt",
  password: Redacted.make("correct-horse"),
  firstName: "Lancelot"
}
export const wire: typeof KnightSchemas.UserCreate.Encoded = {
  email: "lancelot@camelot.bt",
  password: "correct-horse",
  first_name: "Lancelot"
}
export const missingField: typeof KnightSchemas.UserCreate.Type = {
  email: "lancelot@camelot.bt",
  // @ts-expect-error: the model requires `firstName` (and `password` is a Redacted, not a string)
  password: "correct-horse"
}
export const read: typeof KnightSchemas.UserRead.Type = {
  // @ts-expect-error: the model's IDs are integers
  id: "7",
  email: "lancelot@camelot.bt",
  isActive: true,
  isSuperuser: false,
  isVerified: false,
  firstName: "Lancelot"
}
export const wrongWire: typeof KnightSchemas.UserRead.Encoded = {
  id: 7,
  email: "lancelot@camelot.bt",
  is_active: true,
  is_superuser: false,
  is_verified: false,
  // @ts-expect-error: on the wire the field is `first_name`
  firstName: "Lancelot"
}

// Redis (effect-users/redis): the URL may hold a password, so it is Redacted, never a plain string.
export const PlainRedisUrl = Redis.layer({
  // @ts-expect-error: `url` is a `Redacted<string>`
  url: "redis://:secret@127.0.0.1:6379"
})

// The Redis token store needs the Redis client: a program that never provides it does not type-check.
// @ts-expect-error: RedisAccessTokenStore.layer requires `Redis`
export const StoreWithoutClient: Layer.Layer<AccessTokenStore.AccessTokenStore> = RedisAccessTokenStore.layer()

// Refresh tokens: a backend with `refresh` adds its route to the API and needs a `RefreshTokenStore`.
const WithRefresh = UsersApi.make({
  name: "with-refresh",
  backends: [AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret, lifetime: "5 minutes" }), { refresh: {} })]
})
class RefreshApi extends WithRefresh.addTo(HttpApi.make("refresh-app")) {}
export const RefreshLive: Layer.Layer<
  HttpApi.Api,
  unknown,
  UserManager.UserManager | Sessions.Sessions | AccessTokenStore.AccessTokenStore | RefreshTokenStore.RefreshTokenStore
> = HttpApiBuilder.api(RefreshApi).pipe(Layer.provide(WithRefresh.layer(RefreshApi)))

// @ts-expect-error: the refresh backend's layer needs a RefreshTokenStore
export const RefreshWithoutStore: Layer.Layer<
  HttpApi.Api,
  unknown,
  UserManager.UserManager | Sessions.Sessions | AccessTokenStore.AccessTokenStore
> = HttpApiBuilder.api(RefreshApi).pipe(Layer.provide(WithRefresh.layer(RefreshApi)))

// The refresh group is typed like ours: its payload has `refresh_token` and it answers the pair.
export const RefreshGroup = HttpApiBuilder.group(RefreshApi, "refresh.jwt", (handlers) =>
  handlers.handle("refresh", ({ payload }) =>
    Effect.succeed({ access_token: "a", token_type: "bearer" as const, refresh_token: payload.refresh_token })
  )
)

export const RefreshWithoutPair = HttpApiBuilder.group(RefreshApi, "refresh.jwt", (handlers) =>
  // @ts-expect-error: the refresh route answers the pair, refresh_token included
  handlers.handle("refresh", () => Effect.succeed({ access_token: "a", token_type: "bearer" as const }))
)

// A backend without `refresh` has no refresh group to implement.
// @ts-expect-error: "refresh.jwt" is not a group of an API whose backend has no refresh tokens
export const NoRefreshGroup = HttpApiBuilder.group(Api, "refresh.jwt", (handlers) => handlers)

// Cookie backends take no refresh settings.
// @ts-expect-error: `refresh` is a bearer option
export const CookieRefresh = AuthBackend.cookie("cookie", AuthStrategy.database(), { refresh: {} })

// Throttle limits are per known route: a misspelt route is not a silent no-op.
// @ts-expect-error: "loginn" is not a throttled route
export const WrongRoute = Throttle.layerMemory({ clients: { loginn: { limit: 5, window: "1 minute" } } })

// Per-address limits exist only for the routes that send mail.
// @ts-expect-error: register sends no mail, so it has no per-address limit
export const WrongAddressRoute = Throttle.layerMemory({ addresses: { register: { limit: 1, window: "1 hour" } } })

// A trusted proxy setting is a list of addresses or a hop count, not a bare string.
export const WrongProxies = UsersApi.make({
  backends: [AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret }))],
  // @ts-expect-error: trustedProxies is `{ addresses }` or `{ hops }`
  trustedProxies: "10.0.0.0/8"
})

// The store a throttle layer needs is in its type: the Redis one cannot be used without a Redis client.
// @ts-expect-error: RedisThrottle.layer requires the Redis service
export const NeedsRedis: Layer.Layer<Throttle.Throttle> = RedisThrottle.layer()

// The manager and the repositories are generic in the user type: a model's users are typed end to end, and
// what is not a model, or not its users, does not compile. (The tags stay one per service, so which model a
// repository layer stores is not in the layer's type: the app names its model once, in `forModel`.)
type Knight = UserModel.UserOf<typeof Knight>
const Knights = UserManager.forModel(Knight)

// @ts-expect-error: `{ id }` is not a user model (no fields, no `User` schema)
UserManager.forModel({ id: Schema.Int })
// @ts-expect-error: a repository's model is a user model too
SqlUserRepository.layer({ model: { id: Schema.Int } })
// @ts-expect-error: `userTables` is not an option (it is `userTable`)
SqlUserRepository.layer({ userTables: "knight" })

export const WrongKnightId = Effect.flatMap(Knights, (users) =>
  // @ts-expect-error: Knights' IDs are integers
  users.get("7")
)
export const MissingKnightField = Effect.flatMap(Knights, (users) =>
  // @ts-expect-error: a Knight is created with a `firstName`
  users.create({ email: "lancelot@camelot.bt", password: secret })
)

// `make` builds the manager of the user type it is given: a Knights' manager is not the default model's.
// @ts-expect-error: UserManagerService<Knight> is not a UserManagerService<User>
export const WrongManager: Effect.Effect<
  UserManager.UserManagerService,
  never,
  UserRepository.UserRepository | UserManagerConfig.UserManagerConfig
> = UserManager.make<Knight>()

// The memory repository and the SQL one are typed by the users they store.
const knightsInMemory = UserRepository.makeMemory<Knight>()
// @ts-expect-error: the store of Knights looks them up by integer IDs
knightsInMemory.get("7")
export const WrongPatch = Effect.map(
  SqlUserRepository.make({ model: Knight }),
  (repository) => (knight: Knight) =>
    // @ts-expect-error: a Knight has a `firstName`, not a `lastName`
    repository.update(knight, { lastName: "du Lac" })
)

// Hooks typed for a model see its users' fields, and no others.
export const WrongHookField = UserManager.layerHooks<Knight>(() => ({
  // @ts-expect-error: Knights have a `firstName`, not a `lastName`
  onAfterRegister: (user) => Effect.log(user.lastName)
}))

// Hooks that use an app's service carry it as a requirement: the layer is not complete without it.
class Mailer extends Context.Tag("types/Mailer")<Mailer, { readonly send: (to: string) => Effect.Effect<void> }>() {}
const MailingHooks = UserManager.layerHooks((users) =>
  Effect.map(Mailer, (mailer) => ({
    onAfterRegister: (user) => Effect.zipRight(users.requestVerify(user), mailer.send(user.email))
  }))
)
// @ts-expect-error: the hooks need a Mailer, which nothing provides
export const WrongMissingMailer: Layer.Layer<UserHooks.UserHooks> = MailingHooks

// An OAuth sign-up fills the model's own fields from the provider's profile: a model with a required field of
// its own (`displayName`, NOT NULL in its table) needs `mapProfile`, typed by that field.
const Named = UserModel.make({ id: Schema.Int, fields: { displayName: Schema.String } })
const NamedUsers = UsersApi.make({
  backends: [AuthBackend.bearer("jwt", AuthStrategy.jwt({ secret }))],
  model: Named
})
const namedProvider = OAuthProvider.oidc({
  name: "oidc",
  issuer: "https://issuer.example",
  clientId: "id",
  clientSecret: Redacted.make("client-secret")
})
const oauthOptions = { backend: "jwt", stateSecret: secret, baseUrl: "https://app.example" } as const
export const NamedWithProfile = OAuth.make(NamedUsers, namedProvider, {
  ...oauthOptions,
  mapProfile: (claims) => ({ displayName: typeof claims.name === "string" ? claims.name : "Anonymous" })
})
// @ts-expect-error: `displayName` is required, and nothing else fills it on an OAuth sign-up
export const NamedWithoutProfile = OAuth.make(NamedUsers, namedProvider, oauthOptions)
export const NamedWrongProfile = OAuth.make(NamedUsers, namedProvider, {
  ...oauthOptions,
  // @ts-expect-error: `displayName` is a string
  mapProfile: () => ({ displayName: 42 })
})
// The default model has no field of its own: `mapProfile` stays optional.
export const DefaultWithoutProfile = OAuth.make(Users, namedProvider, oauthOptions)

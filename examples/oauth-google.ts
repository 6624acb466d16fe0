import { HttpApi, HttpApiBuilder } from "@effect/platform"
import { Config, Layer } from "effect"
import {
  AccessTokenStore,
  AuthStrategy,
  OAuthProvider,
  UserManager,
  UserManagerConfig,
  UserRepository
} from "effect-users"
import { AuthBackend, OAuth, UsersApi } from "effect-users/http"
import { SqlOAuthStateStore } from "effect-users/sql"

const Users = UsersApi.make({
  backends: [AuthBackend.cookie("cookie", AuthStrategy.jwt({ secret: UserManagerConfig.secret("USERS_AUTH_SECRET") }))]
})

const Google = OAuth.make(
  Users,
  OAuthProvider.google({
    clientId: Config.string("GOOGLE_CLIENT_ID"),
    clientSecret: Config.redacted("GOOGLE_CLIENT_SECRET")
  }),
  {
    backend: "cookie", // the login backend the callback logs in with
    stateSecret: UserManagerConfig.secret("USERS_OAUTH_STATE_SECRET"), // 32+ bytes: encrypts the state cookie
    baseUrl: "https://app.example.com", // callbacks: {baseUrl}/auth/google/callback, .../associate/callback
    associateByEmail: true, // see the linking rules below
    postLoginRedirects: ["https://app.example.com/welcome"]
  }
)
class Api extends Users.addTo(HttpApi.make("app")).add(Google.group).add(Google.associateGroup) {}

// The user routes; they also provide the login and the authenticator that Google's routes use.
const UsersLive = Users.layer(Api)

// The whole API, to serve with HttpApiBuilder.serve(); it needs the app's SqlClient (for the OAuth states).
export const ApiLive = HttpApiBuilder.api(Api).pipe(
  // Spent OAuth states, shared by every instance (OAuthStateStore.layerMemory for one instance or tests).
  Layer.provide(Google.layer(Api).pipe(Layer.provide(UsersLive), Layer.provide(SqlOAuthStateStore.layer()))),
  Layer.provide(UsersLive),
  Layer.provide(UserManager.layer.pipe(Layer.provide([UserRepository.layerMemory, UserManagerConfig.layerConfig()]))),
  Layer.provide(AccessTokenStore.layerMemory)
)

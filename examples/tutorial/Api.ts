/**
 * The HTTP API: effect-users' routes for the `NoteUser` model with two login backends, the app's `notes` group,
 * and sign-in through an OpenID Provider. `ApiLive` implements it over whatever storage the app provides.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Config, Effect, Layer, Schema } from "effect"
import { AuthStrategy, OAuthProvider, SecondFactor, UserManager, UserManagerConfig } from "effect-users"
import { AuthBackend, OAuth, RequestLimits, UsersApi } from "effect-users/http"
import { HooksLive } from "./Hooks.js"
import { NoteUser } from "./Model.js"
import { Note, Notes } from "./Notes.js"

export const Users = UsersApi.make({
  name: "notes",
  model: NoteUser,
  backends: [
    // Mobile and command-line clients: a JWT for 15 minutes, and a refresh token for a new one.
    AuthBackend.bearer(
      "jwt",
      AuthStrategy.jwt({ secret: Config.redacted("USERS_AUTH_SECRET"), lifetime: "15 minutes" }),
      {
        refresh: { lifetime: "30 days" }
      }
    ),
    // The web front end: an opaque token in an HttpOnly cookie, stored in the database.
    AuthBackend.cookie("cookie", AuthStrategy.database({ lifetime: "7 days" }), { maxAge: "7 days" })
  ]
})

export class NotesApi extends HttpApiGroup.make("notes")
  .add(HttpApiEndpoint.get("list", "/notes").addSuccess(Schema.Array(Note)))
  .add(
    HttpApiEndpoint.post("create", "/notes")
      .setPayload(Schema.Struct({ text: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2000)) }))
      .addSuccess(Note, { status: 201 })
      // JSON only: a cross-site HTML form cannot post here with the user's cookie.
      .middleware(RequestLimits.JsonOnly)
  )
  .middleware(Users.Authenticated) {}

// Sign-in with an OpenID Provider: in development the local one of `examples/dev-oidc-provider.ts`.
export const Oidc = OAuth.make(
  Users,
  OAuthProvider.oidc({
    name: "oidc",
    issuer: Config.string("OIDC_ISSUER"),
    clientId: Config.string("OIDC_CLIENT_ID"),
    clientSecret: Config.redacted("OIDC_CLIENT_SECRET")
  }),
  {
    backend: "cookie",
    stateSecret: Config.redacted("USERS_OAUTH_STATE_SECRET"),
    baseUrl: Config.string("PUBLIC_URL"),
    // A sign-up through the provider fills the model's own field from its claims.
    mapProfile: (claims) => ({
      displayName: typeof claims.name === "string" && claims.name !== "" ? claims.name : "New user"
    })
  }
)

export class Api extends Users.addTo(HttpApi.make("notes")).add(NotesApi).add(Oidc.group).add(Oidc.associateGroup) {}

export const NotesLive = HttpApiBuilder.group(Api, "notes", (handlers) =>
  Effect.gen(function* () {
    const notes = yield* Notes
    return handlers
      .handle("list", () => Effect.flatMap(Users.currentUser, (user) => notes.list(user.id)))
      .handle("create", ({ payload }) =>
        Effect.flatMap(Users.currentUser, (user) => notes.create(user.id, payload.text))
      )
  })
)

// A second factor (TOTP and recovery codes) any user may turn on; the key seals their TOTP secrets.
const SecondFactorLive = SecondFactor.layer({
  encryptionKey: Config.redacted("USERS_MFA_ENCRYPTION_KEY"),
  issuer: "Notes"
})

const UsersLive = Users.layer(Api)

// The API: needs a UserManager, the session stores (access tokens, refresh tokens, OAuth states) and Notes.
export const ApiLive = HttpApiBuilder.api(Api).pipe(
  Layer.provide(NotesLive),
  Layer.provide(Oidc.layer(Api).pipe(Layer.provide(UsersLive))),
  Layer.provide(UsersLive)
)

// The manager: needs a UserRepository, a SecondFactorStore and the app's Mailer (for the hooks). provideMerge keeps
// SecondFactor in its output: the login routes read it too.
export const ManagerLive = UserManager.layer.pipe(
  Layer.provide(HooksLive),
  Layer.provide(UserManagerConfig.layerConfig()),
  Layer.provideMerge(SecondFactorLive)
)

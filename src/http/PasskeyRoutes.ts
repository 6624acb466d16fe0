/**
 * The passkey routes of a `UsersApi`: registration and management under `/users/me/passkeys` (with a step-up),
 * and the usernameless sign-in `/auth/{backend}/passkey/options` + `/passkey/login` on each login backend, which
 * opens the session through `Login` like any other method (`passkey`).
 *
 * Adding or removing a passkey ends the user's other sessions; the session that made the change stays.
 *
 * @since 0.3.0
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApiError from "@effect/platform/HttpApiError"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AuthEvents from "../AuthEvents.js"
import * as Login from "../Login.js"
import type { Credential } from "../PasskeyStore.js"
import { PasskeyStore } from "../PasskeyStore.js"
import { bindingOf, layerFactor, PasskeyNotFound, Passkeys } from "../Passkeys.js"
import { Sessions } from "../Sessions.js"
import * as Throttle from "../Throttle.js"
import type { User } from "../User.js"
import { UserManager } from "../UserManager.js"
import { UserRepository } from "../UserRepository.js"
import type * as AuthBackend from "./AuthBackend.js"
import { noStore } from "./AuthBackend.js"
import { Authenticator, loginResponse, type RunningBackend } from "./Authenticator.js"
import { CurrentUser } from "./CurrentUser.js"
import { csrfRejectedResponse, tooManyRequestsResponse } from "./HttpErrors.js"
import {
  declareGroup,
  declareLoginGroup,
  type LoginBody,
  LoginErrors,
  type MfaOptionsBody,
  MfaOptionsErrors,
  OptionsErrors,
  PasskeyRead,
  RegisterErrors,
  RemoveErrors,
  RenameErrors,
  SignInOptionsRead,
  type StepUpBody,
  StepUpOptionsErrors
} from "./PasskeyGroups.js"
import * as Reauthentication from "./Reauthentication.js"
import * as SignIn from "./SignIn.js"
import * as StepUp from "./StepUp.js"
import * as UserSchemas from "./UserSchemas.js"

/**
 * Where the passkey routes are mounted.
 *
 * @since 0.3.0
 */
export interface Options {
  /** The backends that get a passkey sign-in (by name); default every backend of the `UsersApi`. */
  readonly backends?: ReadonlyArray<string> | undefined
  /** Prefix of the sign-in routes; default "/auth". */
  readonly authPrefix?: `/${string}` | undefined
  /** Prefix of the management routes; default "/users". */
  readonly usersPrefix?: `/${string}` | undefined
}

type LoginGroup = ReturnType<typeof declareLoginGroup<string, typeof UserSchemas.BearerResponse>>
type ErasedGroup = ReturnType<typeof declareGroup<HttpApiMiddleware.HttpApiMiddleware.AnyId, unknown>>
type ErasedApi = HttpApi.HttpApi<string, ErasedGroup | LoginGroup, HttpApiError.HttpApiDecodeError>

const encodeRead = Schema.encodeSync(PasskeyRead)
const encodeList = Schema.encodeSync(Schema.Array(PasskeyRead))
const encodeOptions = Schema.encodeSync(SignInOptionsRead)
const ok = { status: 200, headers: noStore } as const
const readOf = (credential: Credential) => ({
  id: credential.id,
  name: credential.name,
  created_at: credential.createdAt,
  last_used_at: credential.lastUsedAt,
  device_type: credential.deviceType,
  backed_up: credential.backedUp
})
const successOf = (backend: AuthBackend.Any) =>
  backend.transport._tag !== "Bearer"
    ? HttpApiSchema.NoContent
    : backend.refresh === undefined
      ? UserSchemas.BearerResponse
      : UserSchemas.BearerRefreshResponse

/**
 * The passkey groups of a `UsersApi` (`users` is `UsersApi.make`'s value): `group` (`passkeys`) and `loginGroups`
 * (`passkey.{backend}`, one per backend), plus `layer` implementing them. The layer needs `Passkeys`, a
 * `PasskeyStore` and the `UsersApi`'s layer.
 *
 * @since 0.3.0
 */
export const make = <I extends HttpApiMiddleware.HttpApiMiddleware.AnyId, S>(
  users: {
    readonly Authenticated: Context.Tag<I, S>
    readonly backends: ReadonlyArray<AuthBackend.Any>
    /** How recent a sign-in a user without a password of their own needs (`UsersApi.make`'s). */
    readonly reauthenticationWindow?: Duration.Duration | undefined
  },
  options: Options = {}
) => {
  const authPrefix = options.authPrefix ?? "/auth"
  const group = declareGroup(users.Authenticated, options.usersPrefix ?? "/users")
  const mounted = users.backends.filter(
    (backend) => options.backends === undefined || options.backends.includes(backend.name)
  )
  const loginGroups = mounted.map((backend) => declareLoginGroup(backend.name, successOf(backend), authPrefix))

  const build = Effect.gen(function* () {
    const passkeys = yield* Passkeys
    const store = yield* PasskeyStore
    const repository = yield* UserRepository
    const manager = yield* UserManager
    const authenticator = yield* Authenticator
    const login = yield* Login.Login
    const sessions = yield* Sessions
    const throttle = yield* Throttle.orDefault
    const clientOf = Effect.zipWith(
      HttpServerRequest.HttpServerRequest,
      AuthEvents.CurrentRequest,
      (request, info) => ({
        userAgent: info.userAgent ?? request.headers["user-agent"],
        address: info.address ?? "unknown"
      })
    )
    const throttled = (error: Throttle.Throttled) =>
      Effect.succeed(tooManyRequestsResponse(Duration.toMillis(error.retryAfter)))

    const window = users.reauthenticationWindow ?? Reauthentication.defaultWindow
    /**
     * The step-up before a passkey is added or removed, the shared one (`StepUp`): the current password and, for a
     * user with a second factor, a proof of it (unless the session was made with both within the window); a user
     * without a password of their own gives a recent sign-in instead of the password.
     */
    const stepUp = (user: User, body: typeof StepUpBody.Type) =>
      Effect.flatMap(clientOf, ({ address }) =>
        StepUp.requireOrRecentSignIn(
          user,
          { currentPassword: body.current_password, proof: SignIn.proofOf(body) },
          { window, client: address }
        )
      ).pipe(
        Effect.provideService(Throttle.Throttle, throttle),
        Effect.provideService(UserManager, manager),
        Effect.provideService(UserRepository, repository),
        Effect.provideService(Authenticator, authenticator)
      )

    /** Ends every other session of the user: the epoch moves, and the session of this request is carried over. */
    const endOtherSessions = (user: User) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        yield* sessions.endAll(user)
        const current = authenticator.sessionOf(request)
        const found = yield* sessions.lookup(String(user.id))
        if (Option.isSome(current) && Option.isSome(found)) {
          const { backend, token } = current.value
          yield* backend.strategy.keep?.(token, user, found.value.sessionEpoch) ?? Effect.void
        }
      })

    const signIn = (running: RunningBackend, body: typeof LoginBody.Type) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        // Login CSRF: another site's page would sign the browser into the attacker's account.
        if (running.transport.crossSite(request)) return csrfRejectedResponse
        const client = yield* clientOf
        const failure = { backend: running.name, method: "passkey", client } as const
        yield* throttle
          .route("login", client.address)
          .pipe(Effect.tapError(() => login.failed({ ...failure, reason: "throttled" })))
        // The credential names the account: its failures count there, as a wrong password's would.
        const credential = yield* store.find(body.response.id)
        const owner = Option.isNone(credential)
          ? Option.none()
          : Option.map(yield* sessions.lookup(credential.value.userId), (found) => found.user)
        const verify = passkeys.signIn(body.challenge_token, body.response).pipe(
          Effect.tapError(() =>
            login.failed({
              ...failure,
              reason: "badCredentials",
              ...(Option.isSome(owner) ? { userId: String(owner.value.id), username: owner.value.email } : {})
            })
          )
        )
        const asserted = Option.isSome(owner)
          ? yield* Effect.flatMap(
              throttle
                .account(owner.value.email, client.address, "login")
                .pipe(Effect.tapError(() => login.failed({ ...failure, reason: "throttled" }))),
              (attempt) => Throttle.checked(attempt, verify)
            )
          : yield* verify
        const found = yield* sessions.lookup(asserted.credential.userId)
        if (Option.isNone(found)) return yield* LoginErrors.fail("PasskeyInvalid")
        // A passkey asserted with user verification is both factors at once: no second step.
        const outcome = yield* login
          .start({
            user: found.value.user,
            backend: running.name,
            method: "passkey",
            complete: true,
            client,
            respond: loginResponse(running)
          })
          .pipe(Effect.mapError((error) => LoginErrors.body(error)))
        return SignIn.respond(running)(outcome)
      }).pipe(
        Effect.catchTag("Throttled", throttled),
        Effect.mapError((error) => ("detail" in error ? error : LoginErrors.body(error)))
      )

    /** Request options for the second step of a pending login on this backend, bound to it. */
    const mfaOptions = (running: RunningBackend, body: typeof MfaOptionsBody.Type) =>
      Effect.gen(function* () {
        // Each call stores a challenge: counted on the client's login limit, as the login is.
        yield* throttle.route("login", (yield* clientOf).address)
        const pending = yield* login.pending(running.name, body.mfa_token)
        const userId = String(pending.user.id)
        if (!(yield* passkeys.hasPasskey(userId))) return yield* new PasskeyNotFound()
        const options = yield* passkeys.assertionOptions(userId, bindingOf({ challenge: pending.digest }))
        return HttpServerResponse.unsafeJson(options, ok)
      }).pipe(
        Effect.catchTag("Throttled", throttled),
        Effect.mapError((error) => MfaOptionsErrors.body(error))
      )

    /** Request options for a step-up of the logged-in user by one of their passkeys. */
    const stepUpOptions = Effect.gen(function* () {
      const user = yield* CurrentUser
      yield* throttle.route("login", (yield* clientOf).address)
      if (!(yield* passkeys.hasPasskey(String(user.id)))) return yield* new PasskeyNotFound()
      return HttpServerResponse.unsafeJson(yield* passkeys.assertionOptions(String(user.id), bindingOf({})), ok)
    }).pipe(
      Effect.catchTag("Throttled", throttled),
      Effect.mapError((error) => StepUpOptionsErrors.body(error))
    )

    return {
      passkeys,
      stepUp,
      endOtherSessions,
      signIn,
      authenticator,
      throttled,
      throttle,
      clientOf,
      mfaOptions,
      stepUpOptions
    }
  })

  /** Implements the groups against the app's API (which must contain them). */
  const layer = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
    api: HttpApi.HttpApi<ApiId, G | typeof group | (typeof loginGroups)[number], E, R>
  ): Layer.Layer<
    HttpApiGroup.ApiGroup<ApiId, "passkeys" | `passkey.${string}`>,
    ConfigError.ConfigError,
    Passkeys | PasskeyStore | UserRepository | UserManager | Authenticator | Login.Login | Sessions | I
  > => {
    // The one cast of the API, as in `UsersApi.layer`: these groups come from `PasskeyGroups`, and the handlers are
    // checked against their erased instantiation.
    const erased: HttpApi.HttpApi.Any = api
    // The groups `PasskeyGroups` declared for the app's backends; the handlers are checked against them, erased.
    const typed = erased as ErasedApi
    const implemented = Layer.unwrapEffect(
      Effect.map(
        build,
        ({
          authenticator,
          clientOf,
          endOtherSessions,
          mfaOptions,
          passkeys,
          signIn,
          stepUp,
          stepUpOptions,
          throttle,
          throttled
        }) => {
          const manage = HttpApiBuilder.group(typed, "passkeys", (handlers) =>
            handlers
              .handle("registrationOptions", ({ payload }) =>
                Effect.gen(function* () {
                  const user = yield* CurrentUser
                  yield* stepUp(user, payload)
                  return HttpServerResponse.unsafeJson(yield* passkeys.registrationOptions(user), ok)
                }).pipe(
                  Effect.catchTag("Throttled", throttled),
                  Effect.mapError((error) => OptionsErrors.body(error))
                )
              )
              .handle("register", ({ payload }) =>
                Effect.gen(function* () {
                  const user = yield* CurrentUser
                  const credential = yield* passkeys.register(user, payload.response, payload.name)
                  yield* endOtherSessions(user)
                  return HttpServerResponse.unsafeJson(encodeRead(readOf(credential)), {
                    status: 201,
                    headers: noStore
                  })
                }).pipe(Effect.mapError((error) => RegisterErrors.body(error)))
              )
              .handle("list", () =>
                Effect.gen(function* () {
                  const listed = yield* passkeys.list(yield* CurrentUser)
                  return HttpServerResponse.unsafeJson(encodeList(listed.map(readOf)), ok)
                })
              )
              .handle("rename", ({ path, payload }) =>
                Effect.gen(function* () {
                  const renamed = yield* passkeys.rename(yield* CurrentUser, path.id, payload.name)
                  return HttpServerResponse.unsafeJson(encodeRead(readOf(renamed)), ok)
                }).pipe(Effect.mapError((error) => RenameErrors.body(error)))
              )
              .handle("remove", ({ path, payload }) =>
                Effect.gen(function* () {
                  const user = yield* CurrentUser
                  yield* stepUp(user, payload)
                  yield* passkeys.remove(user, path.id)
                  yield* endOtherSessions(user)
                  return HttpServerResponse.empty({ status: 204, headers: noStore })
                }).pipe(
                  Effect.catchTag("Throttled", throttled),
                  Effect.mapError((error) => RemoveErrors.body(error))
                )
              )
              .handle("stepUpOptions", () => stepUpOptions)
          )
          const signIns = mounted.map((backend) =>
            HttpApiBuilder.group(typed, `passkey.${backend.name}`, (handlers) =>
              handlers
                .handle("options", () =>
                  Effect.gen(function* () {
                    // Each ceremony stores a challenge: counted on the client's login limit, as the login is.
                    yield* throttle.route("login", (yield* clientOf).address)
                    const { challengeToken, options } = yield* passkeys.signInOptions
                    return HttpServerResponse.unsafeJson(
                      encodeOptions({ options, challenge_token: challengeToken }),
                      ok
                    )
                  }).pipe(Effect.catchTag("Throttled", throttled))
                )
                .handle("login", ({ payload }) => signIn(authenticator.backend(backend.name), payload))
                .handle("mfaOptions", ({ payload }) => mfaOptions(authenticator.backend(backend.name), payload))
            )
          )
          // A passkey is a second factor too (with second factors on): asked after a password, counted for step-up.
          return Layer.mergeAll(manage, ...signIns, layerFactor)
        }
      )
    )
    // The groups are typed as `make` declares them; the middleware tags are the app's users API's, provided with it.
    return implemented as Layer.Layer<
      HttpApiGroup.ApiGroup<ApiId, "passkeys" | `passkey.${string}`>,
      ConfigError.ConfigError,
      Passkeys | PasskeyStore | UserRepository | UserManager | Authenticator | Login.Login | Sessions | I
    >
  }

  return { group, loginGroups, layer }
}

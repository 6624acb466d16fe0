/**
 * The routes of the sign-ins by e-mail (`EmailSignIn`), each a group an app adds when it wants it:
 *
 * - `magicLink`: `POST /auth/magic-link` `{email}` answers 202 always (as `forgot-password`: the work runs after the
 *   answer, an address past its limit gets nothing, only the client's limit answers 429), and
 *   `POST /auth/{backend}/magic-link/login` `{token}` answers the backend's login (400 `MAGIC_LINK_BAD_TOKEN`).
 * - `emailCode`: `POST /auth/email-code` `{email}` (202 always) and `POST /auth/{backend}/email-code/login`
 *   `{email, code}` (400 `EMAIL_CODE_BAD_CODE`); each code try counts as a login attempt on the account's back-off.
 *
 * A cookie backend refuses a cross-site sign-in (403 `CSRF_REJECTED`), as its password login does.
 *
 * @since 0.3.0
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AuthEvents from "../AuthEvents.js"
import { EmailSignIn } from "../EmailSignIn.js"
import * as Login from "../Login.js"
import type { Method } from "../Sessions.js"
import * as Throttle from "../Throttle.js"
import type * as AuthBackend from "./AuthBackend.js"
import * as Authenticator from "./Authenticator.js"
import { layer as layerBackgroundWork } from "./BackgroundWork.js"
import { CsrfRejected, csrfRejectedResponse, errorTable, TooManyRequests, ValidationError } from "./HttpErrors.js"
import * as RequestLimits from "./RequestLimits.js"
import * as SignIn from "./SignIn.js"
import * as UserSchemas from "./UserSchemas.js"
import { isThrottled, mailLaterWith, throttledResponse } from "./users/Handlers.js"

/**
 * `POST /auth/{backend}/magic-link/login`.
 *
 * @since 0.3.0
 */
export const MagicLinkErrors = errorTable({
  MagicLinkBadToken: {
    status: 400,
    code: "MAGIC_LINK_BAD_TOKEN",
    description: "Unknown, used, expired or replaced link, or its user's e-mail has changed"
  }
})

/**
 * `POST /auth/{backend}/email-code/login`.
 *
 * @since 0.3.0
 */
export const EmailCodeErrors = errorTable({
  EmailCodeBadCode: {
    status: 400,
    code: "EMAIL_CODE_BAD_CODE",
    description: "Wrong, used, expired or replaced code, or one spent by too many wrong tries"
  }
})

/**
 * The body of `POST /auth/{backend}/email-code/login`.
 *
 * @since 0.3.0
 */
export const EmailCodeBody = Schema.Struct({
  email: UserSchemas.EmailBody.fields.email,
  code: Schema.Redacted(Schema.String.pipe(Schema.maxLength(32)))
})

const Accepted = Schema.Null.annotations(HttpApiSchema.annotations({ status: 202 }))
const LoginSuccess = Schema.Union(UserSchemas.BearerResponse, UserSchemas.BearerRefreshResponse)

const backendPath = (backends: ReadonlyArray<AuthBackend.Any>) =>
  Schema.Struct({
    backend: Schema.Literal(...(backends.map((backend) => backend.name) as [string, ...Array<string>]))
  })

const mailRequest = <const Name extends string>(name: Name, path: `/${string}`, summary: string) =>
  HttpApiEndpoint.post(name, path)
    .setPayload(UserSchemas.EmailBody)
    .middleware(RequestLimits.JsonOnly)
    .addSuccess(Accepted)
    .addError(ValidationError)
    .addError(TooManyRequests)
    .annotate(OpenApi.Summary, summary)

/**
 * Where the groups are mounted, and the login backends (`UsersApi.make`'s value has them).
 *
 * @since 0.3.0
 */
export interface GroupOptions {
  readonly backends: ReadonlyArray<AuthBackend.Any>
  /** Prefix of the routes; default "/auth". */
  readonly authPrefix?: `/${string}` | undefined
}

/**
 * The `magicLink` group.
 *
 * @since 0.3.0
 */
export const magicLinkGroup = (options: GroupOptions) =>
  HttpApiGroup.make("magicLink")
    .add(mailRequest("request", "/magic-link", "Mail a sign-in link (always 202)"))
    .add(
      HttpApiEndpoint.post("login", "/:backend/magic-link/login")
        .setPath(backendPath(options.backends))
        .setPayload(UserSchemas.TokenBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(LoginSuccess)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(MagicLinkErrors.schema)
        .addError(SignIn.MfaRequired)
        .addError(CsrfRejected)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, "Sign in with a link's token (the backend's login answer)")
    )
    .prefix(options.authPrefix ?? "/auth")
    .annotate(OpenApi.Title, "auth")

/**
 * The `emailCode` group.
 *
 * @since 0.3.0
 */
export const emailCodeGroup = (options: GroupOptions) =>
  HttpApiGroup.make("emailCode")
    .add(mailRequest("request", "/email-code", "Mail a 6-digit sign-in code (always 202)"))
    .add(
      HttpApiEndpoint.post("login", "/:backend/email-code/login")
        .setPath(backendPath(options.backends))
        .setPayload(EmailCodeBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(LoginSuccess)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(EmailCodeErrors.schema)
        .addError(SignIn.MfaRequired)
        .addError(CsrfRejected)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, "Sign in with a mailed code (the backend's login answer)")
    )
    .prefix(options.authPrefix ?? "/auth")
    .annotate(OpenApi.Title, "auth")

type MagicLinkGroup = ReturnType<typeof magicLinkGroup>
type EmailCodeGroup = ReturnType<typeof emailCodeGroup>

// What the request knows about the client (`UsersApi`'s request-info middleware has read it for every route).
const clientOf = Effect.zipWith(HttpServerRequest.HttpServerRequest, AuthEvents.CurrentRequest, (request, info) => ({
  userAgent: info.userAgent ?? request.headers["user-agent"],
  address: info.address ?? Option.getOrElse(request.remoteAddress, () => "unknown")
}))

const mailLater = mailLaterWith(clientOf)

/** Opens the session of a proven user on a backend, as the password login does; refusals answer `refused`. */
const signIn = <E, R, B>(
  backend: string,
  method: Method,
  proven: (client: {
    readonly address: string
    readonly userAgent?: string | undefined
  }) => Effect.Effect<Login.Attempt["user"], E, R>,
  refused: B
) =>
  Effect.gen(function* () {
    const login = yield* Login.Login
    const running = (yield* Authenticator.Authenticator).backend(backend)
    if (running.transport.crossSite(yield* HttpServerRequest.HttpServerRequest)) return csrfRejectedResponse
    const client = yield* clientOf
    const user = yield* proven(client).pipe(
      Effect.tapError((error) =>
        login.failed({ backend, method, reason: isThrottled(error) ? "throttled" : "badCredentials", client })
      )
    )
    const outcome = yield* login
      .start({ user, backend, method, client, respond: Authenticator.loginResponse(running) })
      .pipe(Effect.mapError(() => refused))
    // A user with a second factor takes the second step: 401 LOGIN_MFA_REQUIRED with an mfa_token.
    return SignIn.respond(running)(outcome)
  })

const limited =
  (route: Throttle.Route) =>
  <A, E, R>(handler: Effect.Effect<A, E, R>) =>
    Effect.flatMap(Effect.zip(Throttle.Throttle, clientOf), ([throttle, client]) =>
      Effect.matchEffect(throttle.route(route, client.address), {
        onFailure: throttledResponse,
        onSuccess: () => handler
      })
    )

/** The throttle and background work of these routes: the app's throttle, else one in memory. */
const layerSupport = Layer.merge(layerBackgroundWork, Layer.effect(Throttle.Throttle, Throttle.orDefault))

/**
 * Implements the `magicLink` group against the app's API (which must contain `magicLinkGroup`'s group); needs
 * `EmailSignIn`, and the `Login` and `Authenticator` that `UsersApi`'s layer provides.
 *
 * @since 0.3.0
 */
export const layerMagicLink = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<ApiId, G, E, R>
): Layer.Layer<
  HttpApiGroup.ApiGroup<ApiId, "magicLink">,
  never,
  EmailSignIn | Login.Login | Authenticator.Authenticator | RequestLimits.JsonOnly
> => {
  const erased: HttpApi.HttpApi.Any = api
  // The one cast: the API holds `magicLinkGroup`'s group, whatever its backends.
  return HttpApiBuilder.group(erased as HttpApi.HttpApi<ApiId, MagicLinkGroup>, "magicLink", (handlers) =>
    Effect.map(EmailSignIn, (emailSignIn) =>
      handlers
        .handle("request", ({ payload }) =>
          mailLater("magicLink", payload.email, emailSignIn.requestLink(payload.email))
        )
        .handle("login", ({ path, payload }) =>
          signIn(
            path.backend,
            "magic-link",
            () => emailSignIn.spendLink(payload.token).pipe(Effect.mapError((error) => MagicLinkErrors.body(error))),
            MagicLinkErrors.body({ _tag: "MagicLinkBadToken" })
          ).pipe(limited("magicLinkLogin"))
        )
    )
  ).pipe(Layer.provide(layerSupport))
}

/**
 * Implements the `emailCode` group against the app's API (which must contain `emailCodeGroup`'s group); needs
 * `EmailSignIn`, and the `Login` and `Authenticator` that `UsersApi`'s layer provides.
 *
 * @since 0.3.0
 */
export const layerEmailCode = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<ApiId, G, E, R>
): Layer.Layer<
  HttpApiGroup.ApiGroup<ApiId, "emailCode">,
  never,
  EmailSignIn | Login.Login | Authenticator.Authenticator | RequestLimits.JsonOnly
> => {
  const erased: HttpApi.HttpApi.Any = api
  // The one cast: the API holds `emailCodeGroup`'s group, whatever its backends.
  return HttpApiBuilder.group(erased as HttpApi.HttpApi<ApiId, EmailCodeGroup>, "emailCode", (handlers) =>
    Effect.map(EmailSignIn, (emailSignIn) =>
      handlers
        .handle("request", ({ payload }) =>
          mailLater("emailCode", payload.email, emailSignIn.requestCode(payload.email))
        )
        .handle("login", ({ path, payload }) =>
          signIn(
            path.backend,
            "email-code",
            (client) =>
              Effect.flatMap(Throttle.Throttle, (throttle) =>
                // A code try is a login attempt on the account: refused while it waits, a wrong code counted.
                Effect.flatMap(throttle.login(payload.email, client.address), (attempt) =>
                  Throttle.checked(attempt, emailSignIn.spendCode(payload.email, payload.code)).pipe(
                    Effect.mapError((error) => EmailCodeErrors.body(error))
                  )
                )
              ),
            EmailCodeErrors.body({ _tag: "EmailCodeBadCode" })
          ).pipe(Effect.catchIf(isThrottled, throttledResponse))
        )
    )
  ).pipe(Layer.provide(layerSupport))
}

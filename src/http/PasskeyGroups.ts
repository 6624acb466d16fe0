/**
 * The declarations of the passkey routes: the registration and management group under `/users/me/passkeys`, and
 * one sign-in group per login backend (`/auth/{backend}/passkey/options` and `/passkey/login`), with their bodies
 * and error tables. `Passkeys.make` implements them.
 *
 * @since 0.3.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import { AuthenticationResponse, maxNameLength, RegistrationResponse } from "../Passkeys.js"
import { CsrfRejected, ErrorCode, errorTable, TooManyRequests, ValidationError } from "./HttpErrors.js"
import * as RequestLimits from "./RequestLimits.js"
import * as UserSchemas from "./UserSchemas.js"

const Options = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  identifier: "PublicKeyCredentialOptionsJSON",
  description: "WebAuthn's PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON"
})

/**
 * The step-up a sensitive passkey change needs (`StepUp.requireOrRecentSignIn`): `current_password` (a user without
 * a password of their own needs a recent sign-in instead) and, for a user with a second factor, one proof of it
 * (`code`, `recovery_code`, or `webauthn`), unless the session was made with both factors within the window.
 *
 * @since 0.3.0
 */
export const StepUpBody = UserSchemas.StepUpBody

/**
 * `POST /auth/{backend}/login/mfa/webauthn/options`.
 *
 * @since 0.3.0
 */
export const MfaOptionsBody = Schema.Struct({ mfa_token: UserSchemas.MfaToken })

/**
 * `POST /users/me/passkeys`.
 *
 * @since 0.3.0
 */
export const RegisterBody = Schema.Struct({
  response: RegistrationResponse,
  name: Schema.optional(Schema.String.pipe(Schema.maxLength(maxNameLength)))
})

/**
 * `PATCH /users/me/passkeys/{id}`.
 *
 * @since 0.3.0
 */
export const RenameBody = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(maxNameLength))
})

/**
 * A passkey as its user sees it (never its public key or counter).
 *
 * @since 0.3.0
 */
export const PasskeyRead = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  created_at: Schema.Date,
  last_used_at: Schema.NullOr(Schema.Date),
  device_type: Schema.String,
  backed_up: Schema.Boolean
}).annotations({ identifier: "PasskeyRead" })

/**
 * `POST /auth/{backend}/passkey/options`'s answer.
 *
 * @since 0.3.0
 */
export const SignInOptionsRead = Schema.Struct({ options: Options, challenge_token: Schema.String }).annotations({
  identifier: "PasskeySignInOptions"
})

/**
 * `POST /auth/{backend}/passkey/login`.
 *
 * @since 0.3.0
 */
export const LoginBody = Schema.Struct({ challenge_token: UserSchemas.Token, response: AuthenticationResponse })

const IdPath = Schema.Struct({ id: Schema.String.pipe(Schema.maxLength(1400)) })

const invalid = {
  status: 400,
  code: ErrorCode.PASSKEY_INVALID,
  description:
    "Verification failed: origin, RP ID, challenge (unknown, spent, expired), signature, user verification, counter or credential"
} as const
const notFound = {
  status: 404,
  code: ErrorCode.PASSKEY_NOT_FOUND,
  description: "No passkey of yours has this ID"
} as const
const stepUp = {
  CurrentPasswordRequired: {
    status: 400,
    code: ErrorCode.CURRENT_PASSWORD_REQUIRED,
    description: "Needs current_password (the user has a password of their own)"
  },
  MfaCodeRequired: {
    status: 400,
    code: ErrorCode.MFA_CODE_REQUIRED,
    description: "You have a second factor: send a current `code`, a `recovery_code` or a passkey's `webauthn` too"
  },
  MfaBadCode: {
    status: 400,
    code: ErrorCode.MFA_BAD_CODE,
    description: "The code is wrong, replayed or used, or the passkey's assertion failed"
  },
  InvalidCredentials: {
    status: 400,
    code: ErrorCode.CURRENT_PASSWORD_INVALID,
    description: "current_password is not the user's password"
  },
  ReauthenticationRequired: {
    status: 403,
    code: ErrorCode.REAUTHENTICATION_REQUIRED,
    description: "A user without a password of their own needs a session opened by a recent sign-in"
  }
} as const

/**
 * `POST /users/me/passkeys/options`.
 *
 * @since 0.3.0
 */
export const OptionsErrors = errorTable(stepUp)

/**
 * `POST /auth/{backend}/login/mfa/webauthn/options`.
 *
 * @since 0.3.0
 */
export const MfaOptionsErrors = errorTable({
  MfaTokenInvalid: {
    status: 400,
    code: ErrorCode.LOGIN_MFA_TOKEN_INVALID,
    description: "The mfa_token is unknown, expired, spent, dead after too many wrong proofs, or of another backend"
  },
  PasskeyNotFound: { status: 404, code: ErrorCode.PASSKEY_NOT_FOUND, description: "The user has no passkey" }
})

/**
 * `POST /users/me/mfa/webauthn/options`.
 *
 * @since 0.3.0
 */
export const StepUpOptionsErrors = errorTable({
  PasskeyNotFound: { status: 404, code: ErrorCode.PASSKEY_NOT_FOUND, description: "You have no passkey" }
})

/**
 * `POST /users/me/passkeys`.
 *
 * @since 0.3.0
 */
export const RegisterErrors = errorTable({ PasskeyInvalid: invalid })

/**
 * `PATCH /users/me/passkeys/{id}`.
 *
 * @since 0.3.0
 */
export const RenameErrors = errorTable({ PasskeyNotFound: notFound })

/**
 * `DELETE /users/me/passkeys/{id}`.
 *
 * @since 0.3.0
 */
export const RemoveErrors = errorTable({
  ...stepUp,
  PasskeyNotFound: notFound,
  PasskeyLastLoginMethod: {
    status: 400,
    code: ErrorCode.PASSKEY_LAST_LOGIN_METHOD,
    description: "It is your last way to sign in: set a password (forgot-password) or add another passkey first"
  }
})

/**
 * `POST /auth/{backend}/passkey/login`: a failed verification, and the refusals of a password login.
 *
 * @since 0.3.0
 */
export const LoginErrors = errorTable({
  PasskeyInvalid: invalid,
  InvalidCredentials: invalid,
  UserInactive: { status: 400, code: ErrorCode.LOGIN_BAD_CREDENTIALS, description: "The user is inactive" },
  UserNotVerified: { status: 400, code: ErrorCode.LOGIN_USER_NOT_VERIFIED, description: "The user is not verified" }
})

/**
 * The registration and management group of a logged-in user's passkeys.
 *
 * @since 0.3.0
 */
export const declareGroup = <I extends HttpApiMiddleware.HttpApiMiddleware.AnyId, S>(
  authenticated: Context.Tag<I, S>,
  usersPrefix: `/${string}`
) =>
  HttpApiGroup.make("passkeys")
    .add(
      HttpApiEndpoint.post("registrationOptions", "/me/passkeys/options")
        .setPayload(StepUpBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(Options)
        .addError(OptionsErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .middleware(authenticated)
        .annotate(OpenApi.Summary, "Creation options for a new passkey (step-up)")
    )
    .add(
      HttpApiEndpoint.post("register", "/me/passkeys")
        .setPayload(RegisterBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(PasskeyRead, { status: 201 })
        .addError(RegisterErrors.schema)
        .addError(ValidationError)
        .middleware(authenticated)
        .annotate(OpenApi.Summary, "Add a passkey (ends your other sessions)")
    )
    .add(
      HttpApiEndpoint.get("list", "/me/passkeys")
        .addSuccess(Schema.Array(PasskeyRead))
        .middleware(authenticated)
        .annotate(OpenApi.Summary, "My passkeys")
    )
    .add(
      HttpApiEndpoint.patch("rename", "/me/passkeys/:id")
        .setPath(IdPath)
        .setPayload(RenameBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(PasskeyRead)
        .addError(RenameErrors.schema)
        .addError(ValidationError)
        .middleware(authenticated)
        .annotate(OpenApi.Summary, "Rename one of my passkeys")
    )
    .add(
      HttpApiEndpoint.del("remove", "/me/passkeys/:id")
        .setPath(IdPath)
        .setPayload(StepUpBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(RemoveErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .middleware(authenticated)
        .annotate(OpenApi.Summary, "Remove one of my passkeys (step-up; ends your other sessions)")
    )
    .add(
      HttpApiEndpoint.post("stepUpOptions", "/me/mfa/webauthn/options")
        .setPayload(Schema.Struct({}))
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(Options)
        .addError(StepUpOptionsErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .middleware(authenticated)
        .annotate(OpenApi.Summary, "Request options for a passkey as the second factor of a step-up")
        .annotate(
          OpenApi.Description,
          "Answer them with one of your passkeys and send the AuthenticationResponseJSON as `webauthn` in the " +
            "step-up body of a sensitive change. The challenge works once, for 5 minutes, for your step-ups only."
        )
    )
    .prefix(usersPrefix)
    .annotate(OpenApi.Title, "passkeys")

/**
 * The passkey sign-in group of one backend: `/passkey/login` answers as the backend's login does (bearer: 200 with
 * the token; cookie: 204 with the cookie, 403 `CSRF_REJECTED` to a cross-site request).
 *
 * @since 0.3.0
 */
export const declareLoginGroup = <const N extends string, Success extends Schema.Schema.AnyNoContext>(
  name: N,
  success: Success,
  authPrefix: `/${string}`
) =>
  HttpApiGroup.make(`passkey.${name}`)
    .add(
      HttpApiEndpoint.post("options", "/passkey/options")
        .setPayload(Schema.Struct({}))
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(SignInOptionsRead)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, `Passkey sign-in options (${name})`)
    )
    .add(
      HttpApiEndpoint.post("login", "/passkey/login")
        .setPayload(LoginBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(success)
        .addError(LoginErrors.schema)
        .addError(CsrfRejected)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, `Sign in with a passkey (${name})`)
    )
    .add(
      HttpApiEndpoint.post("mfaOptions", "/login/mfa/webauthn/options")
        .setPayload(MfaOptionsBody)
        .middleware(RequestLimits.JsonOnly)
        .addSuccess(Options)
        .addError(MfaOptionsErrors.schema)
        .addError(ValidationError)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, `Passkey request options for the second step of a login (${name})`)
        .annotate(
          OpenApi.Description,
          "For the mfa_token of a LOGIN_MFA_REQUIRED answer whose methods include webauthn: request options for " +
            "that user's passkeys. Send the AuthenticationResponseJSON as `webauthn` with the mfa_token to " +
            "/login/mfa. The challenge works once, for 5 minutes, for this login only."
        )
    )
    .prefix(`${authPrefix}/${name}`)
    .annotate(OpenApi.Title, `auth:${name}`)

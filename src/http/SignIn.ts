/**
 * The HTTP answer of a sign-in: the one place where a `Login.Outcome` becomes a response, used by every route that
 * signs a user in (the password login, its second step, the OAuth callback, and later passkeys and e-mail links).
 * `LoggedIn` answers the backend's login response (a bearer body, or a cookie); `SecondFactorRequired` answers 401
 * `{"detail": {"code": "LOGIN_MFA_REQUIRED", "mfa_token", "methods"}}` with no session and no cookie.
 *
 * @since 0.3.0
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Login from "../Login.js"
import type * as SecondFactor from "../SecondFactor.js"
import { noStore } from "./AuthBackend.js"
import { loginResponse, type RunningBackend } from "./Authenticator.js"
import { ErrorCode } from "./HttpErrors.js"

/**
 * 401: the first factor was right and the user has a second one: finish at `POST /auth/{backend}/login/mfa` with
 * the `mfa_token` and a proof of one of `methods`.
 *
 * @since 0.3.0
 */
export const MfaRequired = Schema.Struct({
  detail: Schema.Struct({
    code: Schema.Literal(ErrorCode.LOGIN_MFA_REQUIRED),
    mfa_token: Schema.String,
    methods: Schema.Array(Schema.String)
  })
}).annotations({
  ...HttpApiSchema.annotations({ status: 401 }),
  identifier: `Error.${ErrorCode.LOGIN_MFA_REQUIRED}`,
  description:
    "The user has a second factor: no session yet. Send the mfa_token with a code, recovery_code or webauthn to " +
    "POST /auth/{backend}/login/mfa within 5 minutes.",
  examples: [
    { detail: { code: ErrorCode.LOGIN_MFA_REQUIRED, mfa_token: "kX3...opaque", methods: ["totp", "recovery_code"] } }
  ]
})

/**
 * The 401 `LOGIN_MFA_REQUIRED` answer.
 *
 * @since 0.3.0
 */
export const mfaRequiredResponse = (mfaToken: string, methods: ReadonlyArray<string>) =>
  HttpServerResponse.unsafeJson(
    { detail: { code: ErrorCode.LOGIN_MFA_REQUIRED, mfa_token: mfaToken, methods } },
    { status: 401, headers: noStore }
  )

/**
 * What a sign-in route answers for an outcome on this backend: the response `Login` built with the route's own
 * `respond` when it had one, else the backend's login response; the 401 `LOGIN_MFA_REQUIRED` for a second step.
 *
 * @since 0.3.0
 */
export const respond =
  (backend: RunningBackend) =>
  (outcome: Login.Outcome): HttpServerResponse.HttpServerResponse => {
    switch (outcome._tag) {
      case "LoggedIn":
        return Option.getOrElse(outcome.response, () => loginResponse(backend)(outcome.tokens))
      case "SecondFactorRequired":
        return mfaRequiredResponse(outcome.mfaToken, outcome.methods)
    }
  }

/**
 * The proof a body carries (`code`: TOTP, `recovery_code`: a recovery code, `webauthn`: a passkey's assertion), if
 * it carries one. A factor with a field of its own adds it here.
 *
 * @since 0.3.0
 */
export const proofOf = (body: {
  readonly code?: unknown
  readonly recovery_code?: unknown
  readonly recoveryCode?: unknown
  readonly webauthn?: unknown
}): Option.Option<SecondFactor.Proof> =>
  body.code !== undefined
    ? Option.some({ method: "totp", value: body.code })
    : body.recovery_code !== undefined || body.recoveryCode !== undefined
      ? Option.some({ method: "recovery_code", value: body.recovery_code ?? body.recoveryCode })
      : body.webauthn !== undefined
        ? Option.some({ method: "webauthn", value: body.webauthn })
        : Option.none()

/**
 * The error table of each of FastAPI Users' routes (`UsersGroups` declares them on the endpoints, the handlers
 * answer through them): the code and status of every typed failure, written once.
 *
 * @since 0.2.0
 */
import { ErrorCode, errorTable } from "./HttpErrors.js"

const notFound = { status: 404, code: "Not Found", description: "No user with this ID" } as const
const badCredentials = ErrorCode.LOGIN_BAD_CREDENTIALS
const badResetToken = {
  status: 400,
  code: ErrorCode.RESET_PASSWORD_BAD_TOKEN,
  description: "Bad, expired or used token, or inactive user"
} as const

/**
 * `POST /auth/register`.
 *
 * @since 0.1.0
 */
export const RegisterErrors = errorTable({
  UserAlreadyExists: { status: 400, code: ErrorCode.REGISTER_USER_ALREADY_EXISTS },
  InvalidPassword: { status: 400, code: ErrorCode.REGISTER_INVALID_PASSWORD, reason: true }
})

/**
 * `POST /auth/{backend}/login`; `UserInactive` and `UserNotVerified` are the handler's own verdicts.
 *
 * @since 0.1.0
 */
export const LoginErrors = errorTable({
  InvalidCredentials: { status: 400, code: badCredentials, description: "Bad credentials or the user is inactive" },
  UserInactive: { status: 400, code: badCredentials },
  UserNotVerified: { status: 400, code: ErrorCode.LOGIN_USER_NOT_VERIFIED, description: "The user is not verified" }
})

/**
 * `POST /auth/{backend}/refresh`: both 401, with a code of their own.
 *
 * @since 0.1.0
 */
export const RefreshErrors = errorTable({
  RefreshTokenInvalid: {
    status: 401,
    code: ErrorCode.REFRESH_TOKEN_INVALID,
    description: "Unknown, expired, revoked or malformed refresh token, or its user's sessions have ended"
  },
  RefreshTokenReused: {
    status: 401,
    code: ErrorCode.REFRESH_TOKEN_REUSED,
    description: "The refresh token was spent already: its whole session has been ended"
  }
})

/**
 * `POST /auth/verify`.
 *
 * @since 0.1.0
 */
export const VerifyErrors = errorTable({
  InvalidVerifyToken: { status: 400, code: ErrorCode.VERIFY_USER_BAD_TOKEN },
  UserAlreadyVerified: { status: 400, code: ErrorCode.VERIFY_USER_ALREADY_VERIFIED }
})

/**
 * `POST /auth/reset-password`.
 *
 * @since 0.1.0
 */
export const ResetPasswordErrors = errorTable({
  InvalidResetPasswordToken: badResetToken,
  UserNotExists: badResetToken,
  UserInactive: badResetToken,
  InvalidPassword: { status: 400, code: ErrorCode.RESET_PASSWORD_INVALID_PASSWORD, reason: true }
})

const updateErrors = {
  UserAlreadyExists: { status: 400, code: ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS },
  InvalidPassword: { status: 400, code: ErrorCode.UPDATE_USER_INVALID_PASSWORD, reason: true }
} as const

const currentPasswordErrors = {
  CurrentPasswordRequired: {
    status: 400,
    code: ErrorCode.CURRENT_PASSWORD_REQUIRED,
    description: "Changing password or email needs current_password"
  },
  InvalidCredentials: {
    status: 400,
    code: ErrorCode.CURRENT_PASSWORD_INVALID,
    description: "current_password is not the user's password"
  }
} as const

const secondFactorErrors = {
  MfaCodeRequired: {
    status: 400,
    code: ErrorCode.MFA_CODE_REQUIRED,
    description: "You have a second factor: send a current `code`, a `recovery_code` or a passkey's `webauthn` too"
  },
  MfaBadCode: {
    status: 400,
    code: ErrorCode.MFA_BAD_CODE,
    description: "The code is wrong, replayed or used, or the passkey's assertion failed"
  }
} as const

/**
 * A step-up's refusals (`StepUp.require`): the current password missing or wrong, and, for a user with a second
 * factor, the code missing or wrong.
 *
 * @since 0.3.0
 */
export const StepUpErrors = errorTable({ ...currentPasswordErrors, ...secondFactorErrors })

/**
 * `PATCH /users/me` (a user deleted meanwhile is the middleware's 401). Changing `password` or `email` needs
 * `current_password` unless `requireCurrentPassword: false`, and a current code from a user with a second factor.
 *
 * @since 0.1.0
 */
export const PatchMeErrors = errorTable({ ...updateErrors, ...currentPasswordErrors, ...secondFactorErrors })

/**
 * `GET /users/{id}`.
 *
 * @since 0.1.0
 */
export const UserErrors = errorTable({ InvalidID: notFound, UserNotExists: notFound })

/**
 * `PATCH /users/{id}`; on the superuser's own ID, changing `password` or `email` needs `current_password` as on
 * `PATCH /users/me`.
 *
 * @since 0.1.0
 */
export const PatchUserErrors = errorTable({
  ...updateErrors,
  ...UserErrors.table,
  ...currentPasswordErrors,
  ...secondFactorErrors
})

/**
 * `POST /users/{id}/deactivate`.
 *
 * @since 0.2.0
 */
export const DeactivateErrors = errorTable({
  ...UserErrors.table,
  DeactivationUntilPast: {
    status: 400,
    code: ErrorCode.DEACTIVATE_USER_UNTIL_PAST,
    description: "`until` is not in the future: the deactivation would lift at once"
  }
})

/**
 * `DELETE /users/me/sessions/{id}`: no session of the caller has this ID (someone else's included).
 *
 * @since 0.1.0
 */
export const RevokeSessionErrors = errorTable({
  SessionNotFound: { status: 404, code: ErrorCode.SESSION_NOT_FOUND, description: "No session of yours has this ID" }
})

/**
 * `DELETE /users/{id}`.
 *
 * @since 0.1.0
 */
export const DeleteUserErrors = errorTable({
  ...UserErrors.table,
  UserDeleteAborted: {
    status: 409,
    code: ErrorCode.DELETE_USER_ABORTED,
    description: "An onBeforeDelete hook refused the deletion"
  }
})

// Re-authentication: the session was not opened by a recent sign-in.
const reauthenticationRequired = {
  status: 403,
  code: ErrorCode.REAUTHENTICATION_REQUIRED,
  description: "Needs a session opened by a password or provider login within the last minutes: log in again"
} as const

/**
 * `DELETE /users/me/oauth-accounts/{oauth_name}/{account_id}`.
 *
 * @since 0.2.0
 */
export const UnlinkOAuthAccountErrors = errorTable({
  OAuthAccountNotFound: {
    status: 404,
    code: ErrorCode.OAUTH_ACCOUNT_NOT_FOUND,
    description: "No linked account of yours has this provider and ID"
  },
  OAuthLastLoginMethod: {
    status: 400,
    code: ErrorCode.OAUTH_LAST_LOGIN_METHOD,
    description: "It is your last way to sign in: set a password (forgot-password) or link another account first"
  },
  ReauthenticationRequired: reauthenticationRequired
})

/**
 * `POST /auth/{backend}/login/mfa`: the login's own refusals (the user deactivated meanwhile), and the second step's.
 *
 * @since 0.3.0
 */
export const LoginMfaErrors = errorTable({
  ...LoginErrors.table,
  MfaBadCode: {
    status: 400,
    code: ErrorCode.LOGIN_MFA_BAD_CODE,
    description:
      "The code or recovery code is wrong, replayed or already used, or the passkey's assertion failed (signature, " +
      "another user's passkey, a challenge not of this login, spent or expired)"
  },
  MfaTokenInvalid: {
    status: 400,
    code: ErrorCode.LOGIN_MFA_TOKEN_INVALID,
    description: "The mfa_token is unknown, expired, spent, dead after too many wrong codes, or of another backend"
  }
})

const notEnabled = {
  status: 400,
  code: ErrorCode.MFA_NOT_ENABLED,
  description: "You have no TOTP to turn off or renew codes for"
} as const

/**
 * `POST /users/me/mfa/totp`: the step-up (a current code once a factor exists; a recent sign-in from a user without a
 * password of their own).
 *
 * @since 0.3.0
 */
export const EnrolTotpErrors = errorTable({ ...StepUpErrors.table, ReauthenticationRequired: reauthenticationRequired })

/**
 * `POST /users/me/mfa/totp/confirm`.
 *
 * @since 0.3.0
 */
export const ConfirmTotpErrors = errorTable({
  MfaBadCode: secondFactorErrors.MfaBadCode,
  MfaNotPending: {
    status: 400,
    code: ErrorCode.MFA_NOT_PENDING,
    description: "No TOTP enrolment is pending: start one with POST /users/me/mfa/totp"
  }
})

/**
 * `POST /users/me/mfa/recovery-codes` and `DELETE /users/me/mfa/totp`: the step-up, and a TOTP to act on.
 *
 * @since 0.3.0
 */
export const ChangeTotpErrors = errorTable({
  ...StepUpErrors.table,
  ReauthenticationRequired: reauthenticationRequired,
  MfaNotEnabled: notEnabled
})

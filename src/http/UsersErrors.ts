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

/**
 * `PATCH /users/me` (a user deleted meanwhile is the middleware's 401). Changing `password` or `email` needs
 * `current_password` unless `requireCurrentPassword: false`.
 *
 * @since 0.1.0
 */
export const PatchMeErrors = errorTable({ ...updateErrors, ...currentPasswordErrors })

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
export const PatchUserErrors = errorTable({ ...updateErrors, ...UserErrors.table, ...currentPasswordErrors })

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

/**
 * The error table of each OAuth route (`OAuthGroups` declares them on the endpoints, `OAuth`'s handlers answer
 * through them).
 *
 * @since 0.2.0
 */
import { ErrorCode, errorTable } from "./HttpErrors.js"

/**
 * The errors of the authorize route.
 *
 * @since 0.1.0
 */
export const AuthorizeErrors = errorTable({
  InvalidRedirect: {
    status: 400,
    code: ErrorCode.OAUTH_INVALID_REDIRECT,
    description: "redirect_to is not one of the app's post-login redirects"
  },
  OAuthProviderError: {
    status: 400,
    code: "OAUTH_CALLBACK_ERROR",
    description: "The provider could not be reached or described"
  }
})

/**
 * The errors of the association's authorize route: the login's, and a session too old to link an account.
 *
 * @since 0.2.0
 */
export const AssociateAuthorizeErrors = errorTable({
  ...AuthorizeErrors.table,
  ReauthenticationRequired: {
    status: 403,
    code: ErrorCode.REAUTHENTICATION_REQUIRED,
    description: "Linking an account needs a password or provider login within the last minutes: log in again"
  }
})

/**
 * The errors of the login callback.
 *
 * @since 0.1.0
 */
export const CallbackErrors = errorTable({
  InvalidState: {
    status: 400,
    code: ErrorCode.OAUTH_INVALID_STATE,
    description: "The state is missing, forged, expired, already used, or not this browser's"
  },
  NoEmail: {
    status: 400,
    code: ErrorCode.OAUTH_NOT_AVAILABLE_EMAIL,
    description: "The provider did not share an e-mail, or shared one that is not a valid address"
  },
  OAuthEmailNotVerified: {
    status: 400,
    code: ErrorCode.OAUTH_NOT_AVAILABLE_EMAIL,
    description: "The provider did not verify the e-mail, or this app does not trust its verification"
  },
  OAuthProfileRejected: {
    status: 400,
    code: ErrorCode.OAUTH_PROFILE_REJECTED,
    reason: true,
    description: "The user model refused the fields made from the provider's profile; `reason` names the field"
  },
  UserAlreadyExists: {
    status: 400,
    code: ErrorCode.OAUTH_USER_ALREADY_EXISTS,
    description: "Another user has this e-mail (link it through the associate routes)"
  },
  UserInactive: { status: 400, code: ErrorCode.LOGIN_BAD_CREDENTIALS, description: "The user is inactive" },
  InvalidCredentials: { status: 400, code: ErrorCode.LOGIN_BAD_CREDENTIALS },
  UserNotVerified: {
    status: 400,
    code: ErrorCode.LOGIN_USER_NOT_VERIFIED,
    description: "The user is not verified"
  },
  OAuthProviderError: {
    status: 400,
    code: "OAUTH_CALLBACK_ERROR",
    description: "The provider refused the code, or its id_token or profile failed the checks"
  }
})

/**
 * The errors of the association callback.
 *
 * @since 0.1.0
 */
export const AssociateCallbackErrors = errorTable({
  InvalidState: CallbackErrors.table.InvalidState,
  UserNotExists: CallbackErrors.table.InvalidState,
  OAuthAccountAlreadyLinked: {
    status: 400,
    code: ErrorCode.OAUTH_ACCOUNT_ALREADY_LINKED,
    description: "This provider account is linked to another user"
  },
  OAuthProviderError: CallbackErrors.table.OAuthProviderError
})

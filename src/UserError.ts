/**
 * The typed failures of the user manager, one class per FastAPI Users exception.
 *
 * None of them carries a password, a hash or a token: they are safe to log and to send to a client.
 */
import * as Schema from "effect/Schema"

/**
 * A value could not be parsed into a user ID.
 *
 * @since 0.1.0
 */
export class InvalidID extends Schema.TaggedError<InvalidID>()("InvalidID", {}) {}

/**
 * A user with this e-mail (compared case-insensitively) already exists.
 *
 * @since 0.1.0
 */
export class UserAlreadyExists extends Schema.TaggedError<UserAlreadyExists>()("UserAlreadyExists", {}) {}

/**
 * No user matches the ID, e-mail or OAuth account that was looked up.
 *
 * @since 0.1.0
 */
export class UserNotExists extends Schema.TaggedError<UserNotExists>()("UserNotExists", {}) {}

/**
 * The operation needs an active user.
 *
 * @since 0.1.0
 */
export class UserInactive extends Schema.TaggedError<UserInactive>()("UserInactive", {}) {}

/**
 * The login needs a verified user (`requiresVerification`) and this one is not.
 *
 * @since 0.2.0
 */
export class UserNotVerified extends Schema.TaggedError<UserNotVerified>()("UserNotVerified", {}) {}

/**
 * This provider account (`oauthName`, `accountId`) is already linked to another user.
 *
 * @since 0.1.0
 */
export class OAuthAccountAlreadyLinked extends Schema.TaggedError<OAuthAccountAlreadyLinked>()(
  "OAuthAccountAlreadyLinked",
  {}
) {}

/**
 * An OAuth sign-up whose e-mail the provider did not verify, or whose verification this app does not trust for
 * that provider: no local account may own the address on its word, nor be linked to it by e-mail.
 *
 * @since 0.2.0
 */
export class OAuthEmailNotVerified extends Schema.TaggedError<OAuthEmailNotVerified>()("OAuthEmailNotVerified", {}) {}

/**
 * The user has no OAuth account with this provider name and account ID.
 *
 * @since 0.2.0
 */
export class OAuthAccountNotFound extends Schema.TaggedError<OAuthAccountNotFound>()("OAuthAccountNotFound", {}) {}

/**
 * Unlinking this OAuth account would leave the user no way to sign in: no password of their own, no other link.
 *
 * @since 0.2.0
 */
export class OAuthLastLoginMethod extends Schema.TaggedError<OAuthLastLoginMethod>()("OAuthLastLoginMethod", {}) {}

/**
 * The user model refused the fields an OAuth sign-up made from the provider's profile (`mapProfile`): a field the
 * model's schema rejects, or a constraint of its table. `reason` names the field, never a value.
 *
 * @since 0.2.0
 */
export class OAuthProfileRejected extends Schema.TaggedError<OAuthProfileRejected>()("OAuthProfileRejected", {
  reason: Schema.String
}) {}

/**
 * A sensitive change (linking or unlinking an OAuth account) needs a recent sign-in: the session was not opened
 * by a password or provider login within the re-authentication window.
 *
 * @since 0.2.0
 */
export class ReauthenticationRequired extends Schema.TaggedError<ReauthenticationRequired>()(
  "ReauthenticationRequired",
  {}
) {}

/**
 * The user's e-mail is already verified.
 *
 * @since 0.1.0
 */
export class UserAlreadyVerified extends Schema.TaggedError<UserAlreadyVerified>()("UserAlreadyVerified", {}) {}

/**
 * A verification token was malformed, expired, signed for another audience or does not match its user.
 *
 * @since 0.1.0
 */
export class InvalidVerifyToken extends Schema.TaggedError<InvalidVerifyToken>()("InvalidVerifyToken", {}) {}

/**
 * A reset-password token was malformed, expired, already used, or the password changed since it was issued.
 *
 * @since 0.1.0
 */
export class InvalidResetPasswordToken extends Schema.TaggedError<InvalidResetPasswordToken>()(
  "InvalidResetPasswordToken",
  {}
) {}

/**
 * The password was rejected by the `PasswordValidator`; `reason` is meant for the user.
 *
 * @since 0.1.0
 */
export class InvalidPassword extends Schema.TaggedError<InvalidPassword>()("InvalidPassword", {
  reason: Schema.String
}) {}

/**
 * The e-mail/password pair does not match a user. Deliberately says no more than that.
 *
 * @since 0.1.0
 */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", {}) {}

/**
 * A `UserHooks.onBeforeDelete` hook failed, so the user was not deleted.
 *
 * @since 0.1.0
 */
export class UserDeleteAborted extends Schema.TaggedError<UserDeleteAborted>()("UserDeleteAborted", {
  cause: Schema.Defect
}) {}

/**
 * A deactivation's `until` is not in the future: it would lift at once.
 *
 * @since 0.2.0
 */
export class DeactivationUntilPast extends Schema.TaggedError<DeactivationUntilPast>()("DeactivationUntilPast", {}) {}

/**
 * A sign-in link that is unknown, used, expired, replaced by a newer one, or sent to an address its user no longer has.
 *
 * @since 0.3.0
 */
export class MagicLinkBadToken extends Schema.TaggedError<MagicLinkBadToken>()("MagicLinkBadToken", {}) {}

/**
 * A sign-in code that is wrong, used, expired, replaced by a newer one or spent by too many wrong tries.
 *
 * @since 0.3.0
 */
export class EmailCodeBadCode extends Schema.TaggedError<EmailCodeBadCode>()("EmailCodeBadCode", {}) {}

/**
 * Every typed failure of the user manager.
 *
 * @since 0.1.0
 */
export type UserError =
  | InvalidID
  | UserAlreadyExists
  | UserNotExists
  | UserInactive
  | UserNotVerified
  | UserAlreadyVerified
  | InvalidVerifyToken
  | InvalidResetPasswordToken
  | InvalidPassword
  | InvalidCredentials
  | UserDeleteAborted
  | OAuthAccountAlreadyLinked
  | OAuthEmailNotVerified
  | OAuthAccountNotFound
  | OAuthLastLoginMethod
  | OAuthProfileRejected
  | ReauthenticationRequired
  | DeactivationUntilPast
  | MagicLinkBadToken
  | EmailCodeBadCode

/**
 * A dependency cannot serve the request right now (storage down, a full hash queue, ...): the HTTP edge
 * answers 503 with `Retry-After`. Raised as a defect, so the manager's signatures stay free of it; `reason`
 * is for operators' logs and never holds input.
 *
 * @since 0.1.0
 */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  reason: Schema.String,
  /** Seconds after which a retry may succeed. */
  retryAfter: Schema.optional(Schema.Number)
}) {}

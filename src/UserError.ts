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

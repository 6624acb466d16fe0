import { Effect, Redacted } from "effect"
import { PasswordValidator, UserError } from "effect-users"

const needsDigit = (password: Redacted.Redacted<string>) =>
  /\d/.test(Redacted.value(password))
    ? Effect.void
    : Effect.fail(new UserError.InvalidPassword({ reason: "Add a digit" }))

// The default rules (8 to 128 characters, not containing the e-mail), then ours.
export const Validator = PasswordValidator.layer(PasswordValidator.defaultRule, needsDigit)

// A stricter minimum replaces `defaultRule` by its parts: keep the other two.
export const Strict = PasswordValidator.layer(
  PasswordValidator.minLength(12),
  PasswordValidator.maxLength(128),
  PasswordValidator.notContainingEmail,
  needsDigit
)

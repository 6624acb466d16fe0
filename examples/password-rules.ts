import { Effect, Redacted } from "effect"
import { PasswordValidator, UserError } from "effect-users"

// NIST SP 800-63B-4 asks to refuse context-specific words, such as the service's name (never composition rules).
const notNamingUs = (password: Redacted.Redacted<string>) =>
  Redacted.value(password).normalize("NFKC").toLowerCase().includes("roundtable")
    ? Effect.fail(new UserError.InvalidPassword({ reason: "Password should not contain the site's name" }))
    : Effect.void

// The default rules (8 to 128 characters, not common, not containing the e-mail or its words), then ours.
export const Validator = PasswordValidator.layer(PasswordValidator.defaultRule, notNamingUs)

// Another minimum replaces `defaultRule` by its parts: keep the others.
export const Strict = PasswordValidator.layer(
  PasswordValidator.minLength(12),
  PasswordValidator.maxLength(128),
  PasswordValidator.notContainingEmail,
  PasswordValidator.notContainingEmailWords,
  PasswordValidator.notCommon,
  notNamingUs
)

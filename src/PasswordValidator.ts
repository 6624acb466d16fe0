/**
 * The password policy. The default accepts 8 to 128 characters that do not contain the user's e-mail;
 * `PasswordValidator.layer` replaces it with any list of rules.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { InvalidPassword } from "./UserError.js"

/** What a rule may know of the user: the user being created or updated. */
export interface PasswordOwner {
  readonly email: string
}

/** One password rule: fails with `InvalidPassword` and a reason meant for the user. */
export type PasswordRule = (
  password: Redacted.Redacted<string>,
  user: PasswordOwner
) => Effect.Effect<void, InvalidPassword>

/** Validates a password for a user. */
export interface PasswordValidatorService {
  readonly validate: PasswordRule
}

const reject = (reason: string) => Effect.fail(new InvalidPassword({ reason }))

// Counted in code points, so that "é" or an emoji is one character as users see it. A string of n UTF-16
// units holds between n/2 and n code points, so only a length between the bound and twice it is counted,
// and the count stops at the bound: a hostile 10 MB password costs no more than a 128-character one.
const exceeds = (text: string, bound: number): boolean => {
  if (text.length <= bound) return false
  if (text.length > 2 * bound) return true
  let count = 0
  for (const _ of text) if (++count > bound) return true
  return false
}

/** At least `min` characters. */
export const minLength =
  (min: number): PasswordRule =>
  (password) =>
    exceeds(Redacted.value(password), min - 1) ? Effect.void : reject(`Password should be at least ${min} characters`)

/** At most `max` characters (bounds the cost of hashing hostile input); checked without reading a long password. */
export const maxLength =
  (max: number): PasswordRule =>
  (password) =>
    exceeds(Redacted.value(password), max) ? reject(`Password should be at most ${max} characters`) : Effect.void

/** Must not contain the user's e-mail address, compared case-insensitively. */
export const notContainingEmail: PasswordRule = (password, user) =>
  user.email.length > 0 && Redacted.value(password).toLowerCase().includes(user.email.toLowerCase())
    ? reject("Password should not contain e-mail")
    : Effect.void

/** Runs rules in order and fails with the first rejection. */
export const all =
  (...rules: ReadonlyArray<PasswordRule>): PasswordRule =>
  (password, user) =>
    Effect.forEach(rules, (rule) => rule(password, user), { discard: true })

/** The default policy: 8 to 128 characters, not containing the e-mail. */
export const defaultRule: PasswordRule = all(minLength(8), maxLength(128), notContainingEmail)

/** The password policy in use; `defaultRule` unless a layer provides another. */
export class PasswordValidator extends Context.Reference<PasswordValidator>()("effect-users/PasswordValidator", {
  defaultValue: (): PasswordValidatorService => ({ validate: defaultRule })
}) {
  static readonly minLength = minLength
  static readonly maxLength = maxLength
  static readonly notContainingEmail = notContainingEmail
  /** 8 to 128 characters, not containing the e-mail. */
  static readonly defaultRule = defaultRule

  /** Replaces the policy with these rules, checked in order. */
  static readonly layer = (...rules: ReadonlyArray<PasswordRule>): Layer.Layer<PasswordValidator> =>
    Layer.succeed(PasswordValidator, { validate: all(...rules) })
}

/**
 * The password policy. The default accepts 8 to 128 characters that do not contain the user's e-mail;
 * `PasswordValidator.layer` replaces it with any list of rules.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type { BaseUser, ExtraFields, User } from "./User.js"
import { InvalidPassword } from "./UserError.js"

/**
 * What a rule knows of the user whose password it checks, with the app's own fields: on a create, the input
 * without the password (the flags only when given); on an update or reset, the user as it will be stored,
 * patch applied (so the new e-mail), without its ID and hash.
 *
 * @since 0.1.0
 */
export type PasswordOwner<U extends BaseUser = User> = {
  readonly email: string
  readonly isActive?: boolean | undefined
  readonly isSuperuser?: boolean | undefined
  readonly isVerified?: boolean | undefined
} & ExtraFields<U>

/**
 * One password rule: fails with `InvalidPassword` and a reason meant for the user. A rule for an app's model
 * is a `PasswordRule<PasswordOwner<AppUser>>` and sees its fields; the built-in rules need only the e-mail.
 *
 * @since 0.1.0
 */
export type PasswordRule<O extends PasswordOwner = PasswordOwner> = (
  password: Redacted.Redacted<string>,
  user: O
) => Effect.Effect<void, InvalidPassword>

/**
 * Validates a password for a user.
 *
 * @since 0.1.0
 */
export interface PasswordValidatorService<O extends PasswordOwner = PasswordOwner> {
  readonly validate: PasswordRule<O>
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

/**
 * At least `min` characters.
 *
 * @since 0.1.0
 */
export const minLength =
  (min: number): PasswordRule =>
  (password) =>
    exceeds(Redacted.value(password), min - 1) ? Effect.void : reject(`Password should be at least ${min} characters`)

/**
 * At most `max` characters (bounds the cost of hashing hostile input); checked without reading a long password.
 *
 * @since 0.1.0
 */
export const maxLength =
  (max: number): PasswordRule =>
  (password) =>
    exceeds(Redacted.value(password), max) ? reject(`Password should be at most ${max} characters`) : Effect.void

/**
 * Must not contain the user's e-mail address, compared case-insensitively.
 *
 * @since 0.1.0
 */
export const notContainingEmail: PasswordRule = (password, user) =>
  user.email.length > 0 && Redacted.value(password).toLowerCase().includes(user.email.toLowerCase())
    ? reject("Password should not contain e-mail")
    : Effect.void

/**
 * Runs rules in order and fails with the first rejection.
 *
 * @since 0.2.0
 */
export const all =
  <O extends PasswordOwner = PasswordOwner>(...rules: ReadonlyArray<PasswordRule<O>>): PasswordRule<O> =>
  (password, user) =>
    Effect.forEach(rules, (rule) => rule(password, user), { discard: true })

/**
 * The default policy: 8 to 128 characters, not containing the e-mail.
 *
 * @since 0.1.0
 */
export const defaultRule: PasswordRule = all(minLength(8), maxLength(128), notContainingEmail)

/**
 * The password policy in use; `defaultRule` unless a layer provides another. Typed for the default model; it
 * holds the rules of whichever model the app has, and the manager of that model reads it typed by its users.
 *
 * @since 0.1.0
 */
export class PasswordValidator extends Context.Reference<PasswordValidator>()("effect-users/PasswordValidator", {
  defaultValue: (): PasswordValidatorService => ({ validate: defaultRule })
}) {}

/**
 * Replaces the policy with these rules, checked in order; rules for an app's model may mix with the built-in ones.
 *
 * @since 0.1.0
 */
export const layer = <O extends PasswordOwner = PasswordOwner>(
  ...rules: ReadonlyArray<PasswordRule<O>>
): Layer.Layer<PasswordValidator> =>
  Layer.succeed(PasswordValidator, { validate: all(...rules) } as PasswordValidatorService)

/**
 * The password policy, after NIST SP 800-63B-4 (section 3.1.1.2): length limits, no composition rules, and a
 * check against common passwords and the words of the user's e-mail. The default accepts 8 to 128 characters
 * that are not one of 100,000 common passwords and contain neither the e-mail nor its words; `nist` asks 15
 * characters of an account whose only factor is the password. `PasswordValidator.layer` replaces the policy
 * with any list of rules.
 *
 * Rules compare passwords NFKC-normalised and lower-cased; the hasher receives the password exactly as typed,
 * as FastAPI Users' does, so that the hashes of either verify in the other.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as CommonPasswords from "./internal/commonPasswords.js"
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
  /**
   * Whether the account has a second factor, so that the password is one of two (`minLength`'s
   * `withSecondFactor`). No factor of this version sets it; second factors will.
   *
   * @since 0.2.0
   */
  readonly secondFactor?: boolean | undefined
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
 * At least `min` characters; with `withSecondFactor`, that many instead once the user has a second factor
 * (`PasswordOwner.secondFactor`).
 *
 * @since 0.1.0
 */
export const minLength =
  (min: number, options?: { readonly withSecondFactor?: number | undefined }): PasswordRule =>
  (password, user) => {
    const bound = user.secondFactor === true ? (options?.withSecondFactor ?? min) : min
    return exceeds(Redacted.value(password), bound - 1)
      ? Effect.void
      : reject(`Password should be at least ${bound} characters`)
  }

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

// The form rules compare: compatibility-normalised (NFKC, so that "ｐａｓｓｗｏｒｄ" is "password") and lower-cased.
const fold = (text: string): string => text.normalize("NFKC").toLowerCase()

// Shorter words are parts of too many unrelated ones: a local part "ann" would refuse "planning" and "annual".
const minWordLength = 4

/**
 * The words of an e-mail address that a password may not contain, folded: the local part (without a `+tag`)
 * and its words, and the domain's labels but the last (the top-level domain) and their words; each of at
 * least 4 characters, so that "a@x.io" refuses nothing more and the "co" of "example.co.uk" is no word.
 *
 * @since 0.2.0
 */
export const emailWords = (email: string): ReadonlyArray<string> => {
  const at = email.lastIndexOf("@")
  if (at === -1) return []
  const local = fold(email.slice(0, at)).split("+")[0]!
  const labels = fold(email.slice(at + 1))
    .split(".")
    .slice(0, -1)
  const words = [local, ...labels].flatMap((part) => [part, ...part.split(/[^\p{L}\p{N}]+/u)])
  return [...new Set(words)].filter((word) => [...word].length >= minWordLength)
}

/**
 * Must contain none of the e-mail's words (`emailWords`): its name and its domain's name, compared folded.
 *
 * @since 0.2.0
 */
export const notContainingEmailWords: PasswordRule = (password, user) => {
  const words = emailWords(user.email)
  if (words.length === 0) return Effect.void
  const folded = fold(Redacted.value(password))
  return words.some((word) => folded.includes(word))
    ? reject("Password should not contain parts of your e-mail address")
    : Effect.void
}

/**
 * Must not be one of the 100,000 most common passwords of 8 characters or more (Mark Burnett's ten million
 * passwords, through SecLists: `data/common-passwords.txt`), compared folded, so "PassWord" is "password".
 * The list is read once, on the first check.
 *
 * @since 0.2.0
 */
export const notCommon: PasswordRule = (password) =>
  Effect.suspend(() =>
    CommonPasswords.isCommon(fold(Redacted.value(password))) ? reject("Password is too common") : Effect.void
  )

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
 * The default policy: 8 to 128 characters, not containing the e-mail or its words, not a common password.
 * FastAPI Users' front ends, which ask for 8 characters, keep working with it.
 *
 * @since 0.1.0
 */
export const defaultRule: PasswordRule = all(
  minLength(8),
  maxLength(128),
  notContainingEmail,
  notContainingEmailWords,
  notCommon
)

/**
 * NIST SP 800-63B-4's password: at least 15 characters when it is the only factor, 8 once the account has a
 * second factor; at most 128; not containing the e-mail or its words; not a common password.
 *
 * @since 0.2.0
 */
export const nist: PasswordRule = all(
  minLength(15, { withSecondFactor: 8 }),
  maxLength(128),
  notContainingEmail,
  notContainingEmailWords,
  notCommon
)

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

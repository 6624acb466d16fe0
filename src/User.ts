/**
 * The user domain: the fields every user has, the inputs that create and update one, and OAuth accounts.
 *
 * Types are generic in the user type `U` so that an app's own model (another ID type, extra fields) is
 * typed end to end; `User` is the default model (UUID string IDs, no extra fields).
 */
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * The fields FastAPI Users gives every user, with the app's choice of ID type.
 *
 * @since 0.1.0
 */
export interface BaseUser<Id = unknown> {
  readonly id: Id
  readonly email: string
  readonly hashedPassword: string
  readonly isActive: boolean
  readonly isSuperuser: boolean
  readonly isVerified: boolean
}

/**
 * The names of the fields every user has.
 *
 * @since 0.1.0
 */
export type BaseField = keyof BaseUser

/**
 * The fields an app adds to its user model.
 *
 * @since 0.1.0
 */
export type ExtraFields<U extends BaseUser> = Omit<U, BaseField>

/**
 * The ID type of a user model.
 *
 * @since 0.1.0
 */
export type IdOf<U extends BaseUser> = U["id"]

/**
 * An e-mail as it is stored and looked up: trimmed, in Unicode NFC (one spelling for "é", composed or not).
 *
 * @since 0.1.0
 */
export const normalizeEmail = (email: string): string => email.trim().normalize("NFC")

// JavaScript has no case folding, so it is built from full case mappings: toUpperCase applies the one-to-many
// mappings folding needs (ß → SS, ﬁ → FI), the last toLowerCase brings every variant to one form (σ/ς/Σ,
// K/Kelvin sign), and the first one takes ẞ (no upper case) to ß. This joins a few more pairs than
// CaseFolding.txt (dotless ı with i); joining only ever refuses a lookalike, never splits an account.
const fold = (text: string): string => text.toLowerCase().toUpperCase().toLowerCase().normalize("NFC")

/**
 * A domain as DNS knows it: the WHATWG URL host parser's IDNA (UTS #46, non-transitional) ASCII form, lower
 * case. Unlike folding it keeps `straße.de` and `strasse.de` apart (two names, two owners); undefined for what is
 * not a host name (an address literal such as `[192.0.2.1]`, numbers the parser would read as IPv4, too long).
 */
const domainKey = (domain: string): string | undefined => {
  // What the URL parser would cut off, drop or read as another part of a URL is not part of a DNS name.
  if (domain === "" || /[/?#@:\\[\]%\s\p{C}]/u.test(domain)) return undefined
  try {
    // `camelot.bt.` (fully qualified) is the name `camelot.bt`.
    const host = new URL(`http://${domain}`).hostname.replace(/\.$/, "")
    // DNS names are 253 characters at most; an IDNA form longer than that names nothing.
    return /^[\d.]+$/.test(host) || host.length > 253 ? undefined : host
  } catch {
    return undefined
  }
}

/** The local part and the domain of a normalised address (split at its last `@`). */
const split = (email: string): readonly [local: string, domain: string | undefined] => {
  const at = email.lastIndexOf("@")
  return at < 0 ? [email, undefined] : [email.slice(0, at), email.slice(at + 1)]
}

/**
 * The canonical key of an e-mail: two addresses are one account exactly when their keys are equal. The local
 * part is the normalised text under full Unicode case folding, so `Émile@`/`émile@` and `ß`/`SS` are one address
 * (a lookalike is refused, never registered beside the original); the domain is its DNS name, so `straße.de` and
 * `strasse.de`, which belong to different owners, are not one.
 *
 * @since 0.1.0
 */
export const emailKey = (email: string): string => {
  const [local, domain] = split(normalizeEmail(email))
  if (domain === undefined) return fold(local)
  // What is not a DNS name is compared but for letter case: folding could join two names (ß, ss) of two owners.
  return `${fold(local)}@${domainKey(domain) ?? domain.toLowerCase()}`
}

/**
 * Whether two addresses name the same mailbox strictly enough to hand an account from one to the other (linking
 * an OAuth account by e-mail): the same domain by DNS name and the same local part but for letter case, without
 * the foldings of `emailKey` that join distinct mailboxes (`straße@` and `strasse@` may belong to two people).
 *
 * @since 0.1.0
 */
export const sameMailbox = (a: string, b: string): boolean => {
  const [localA, domainA] = split(normalizeEmail(a))
  const [localB, domainB] = split(normalizeEmail(b))
  if (domainA === undefined || domainB === undefined) return false
  const dnsA = domainKey(domainA)
  return (
    dnsA !== undefined &&
    dnsA === domainKey(domainB) &&
    localA.toLowerCase().normalize("NFC") === localB.toLowerCase().normalize("NFC")
  )
}

// Control (NUL included), format (zero-width, bidi), line and paragraph separator characters: invisible or
// unprintable, they would make one address look like another. Lone surrogates, private-use and unassigned code
// points (noncharacters included) and U+FFFD, what a decoder leaves of bytes that are not UTF-8, are not what the
// user typed: storage would keep another address (a lone surrogate is U+FFFD once encoded).
const invisible = /[\p{C}\p{Zl}\p{Zp}\uFFFD]/u

/**
 * An e-mail address as users type it: trimmed and NFC-normalised when decoded, refused when it holds
 * control, format, separator, surrogate, private-use or unassigned characters, or U+FFFD. Stored as typed
 * otherwise, compared by `emailKey`.
 *
 * @since 0.1.0
 */
export const Email = Schema.transform(
  // What OpenAPI shows: JSON Schema describes the encoded side, which the refinements below do not reach.
  Schema.String.annotations({
    jsonSchema: {
      type: "string",
      title: "E-mail address",
      maxLength: 320,
      description:
        "Trimmed and NFC-normalised; no control, format (zero-width, bidi), separator, surrogate, private-use or unassigned characters"
    }
  }),
  Schema.String,
  {
    strict: true,
    decode: normalizeEmail,
    encode: (email) => email
  }
).pipe(
  Schema.filter((email) => !invisible.test(email), {
    message: () => "value must not contain control, format, separator, private-use or unassigned characters"
  }),
  Schema.maxLength(320),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "value is not a valid email address" }),
  Schema.annotations({ identifier: "Email", title: "E-mail address" })
)

/**
 * A UUID user ID, as a lowercase string.
 *
 * @since 0.1.0
 */
export const UserId = Schema.UUID.annotations({ identifier: "UserId" })

/**
 * The default user model.
 *
 * @since 0.1.0
 */
export const User = Schema.Struct({
  id: UserId,
  email: Schema.String,
  hashedPassword: Schema.String,
  isActive: Schema.Boolean,
  isSuperuser: Schema.Boolean,
  isVerified: Schema.Boolean
}).annotations({ identifier: "User" })

/**
 * A user of the default model.
 *
 * @since 0.1.0
 */
export interface User extends Schema.Schema.Type<typeof User> {}

/**
 * An OAuth account linked to a user. `expiresAt` is in seconds since the epoch; `createdAt` is when it was linked
 * (`null` for a row another program wrote without one).
 *
 * @since 0.1.0
 */
export const OAuthAccount = Schema.Struct({
  id: Schema.String,
  oauthName: Schema.String,
  accessToken: Schema.String,
  expiresAt: Schema.NullOr(Schema.Int),
  refreshToken: Schema.NullOr(Schema.String),
  accountId: Schema.String,
  accountEmail: Schema.String,
  createdAt: Schema.NullOr(Schema.DateFromSelf)
}).annotations({ identifier: "OAuthAccount" })

/**
 * An OAuth account linked to a user.
 *
 * @since 0.1.0
 */
export interface OAuthAccount extends Schema.Schema.Type<typeof OAuthAccount> {}

/**
 * What a user and their app see of a linked OAuth account: never the provider's tokens.
 *
 * @since 0.2.0
 */
export interface OAuthLink {
  readonly oauthName: string
  readonly accountId: string
  readonly accountEmail: string
  readonly createdAt: Date | null
}

/**
 * The link of a stored OAuth account, without its tokens.
 *
 * @since 0.2.0
 */
export const linkOf = (account: OAuthAccount): OAuthLink => ({
  oauthName: account.oauthName,
  accountId: account.accountId,
  accountEmail: account.accountEmail,
  createdAt: account.createdAt
})

/**
 * What an OAuth provider tells us about an account: an `OAuthAccount` before it is stored.
 *
 * @since 0.1.0
 */
export interface OAuthAccountCreate {
  readonly oauthName: string
  readonly accessToken: string
  readonly accountId: string
  readonly accountEmail: string
  readonly expiresAt?: number | null | undefined
  readonly refreshToken?: string | null | undefined
}

/**
 * A user together with its OAuth accounts, as the OAuth operations return it.
 *
 * @since 0.1.0
 */
export type UserWithOAuth<U extends BaseUser = User> = U & { readonly oauthAccounts: ReadonlyArray<OAuthAccount> }

/**
 * The input that registers a user. A "safe" create (public routes) ignores the three flags; an
 * "unsafe" one (admins, scripts) applies them.
 *
 * @since 0.1.0
 */
export type UserCreate<U extends BaseUser = User> = {
  readonly email: string
  readonly password: Redacted.Redacted<string>
  readonly isActive?: boolean | undefined
  readonly isSuperuser?: boolean | undefined
  readonly isVerified?: boolean | undefined
} & ExtraFields<U>

/**
 * A patch to a user: only the fields present are applied. `password: null` leaves the password unchanged.
 *
 * @since 0.1.0
 */
export type UserUpdate<U extends BaseUser = User> = {
  readonly email?: string | undefined
  readonly password?: Redacted.Redacted<string> | null | undefined
  readonly isActive?: boolean | undefined
  readonly isSuperuser?: boolean | undefined
  readonly isVerified?: boolean | undefined
} & Partial<ExtraFields<U>>

/**
 * The row a repository stores for a new user: every field but the ID, which it may assign.
 *
 * @since 0.1.0
 */
export type UserInsert<U extends BaseUser = User> = Omit<U, "id"> & { readonly id?: IdOf<U> | undefined }

/**
 * The stored fields that change in an update (never the ID).
 *
 * @since 0.1.0
 */
export type UserPatch<U extends BaseUser = User> = Partial<Omit<U, "id">>

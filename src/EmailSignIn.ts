/**
 * Sign-in by e-mail: a link (`{publicUrl}/magic-link?token=...`) or a 6-digit code, mailed through `Mail`. Both are
 * first factors: the user they prove goes through `Login.start` like a password's (a second factor still applies).
 *
 * A link works once (of concurrent uses exactly one wins), for 15 minutes, and only while the user's e-mail is the
 * address it was sent to. A code works once, for 10 minutes, and dies after 5 wrong tries. A new request for an
 * address replaces its previous link (or code). A successful sign-in marks the address verified. With `signUp`, an
 * unknown address's link signs it up (a verified user with a random password it never learns).
 *
 * Requests for unknown or inactive addresses send nothing but do the same work (a token, a digest, a sealed mail)
 * without the writes; the HTTP routes answer 202 before any of it. The store keeps SHA-256 digests, never a token or
 * a code.
 *
 * @since 0.3.0
 */
import { createHash, randomBytes, randomInt } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { Mail } from "./Mail.js"
import { emailKey, normalizeEmail, type User } from "./User.js"
import { EmailCodeBadCode, MagicLinkBadToken, UserAlreadyExists } from "./UserError.js"
import { UserManager } from "./UserManager.js"

/**
 * A pending sign-in as the store keeps it.
 *
 * @since 0.3.0
 */
export interface Pending {
  readonly kind: "link" | "code"
  /** The address it was sent to, as sent. */
  readonly email: string
  /** `User.emailKey` of the address: one pending link and one pending code per key. */
  readonly key: string
  readonly digest: string
  /** The user it signs in; `null` for a sign-up link. */
  readonly userId: string | null
  /** Ms since 1970. */
  readonly expiresAt: number
}

/**
 * What a spent link or right code gives back.
 *
 * @since 0.3.0
 */
export interface Spent {
  readonly email: string
  readonly userId: string | null
}

/**
 * Where pending sign-ins live. Of concurrent `spendLink`s of one digest, or `tryCode`s with the right code, exactly
 * one gets `Some`.
 *
 * @since 0.3.0
 */
export interface EmailSignInStoreService {
  /** Stores a pending sign-in, replacing the address's previous one of the same kind. */
  readonly put: (pending: Pending) => Effect.Effect<void>
  /** Deletes and returns the unexpired link with this digest. */
  readonly spendLink: (digest: string, now: number) => Effect.Effect<Option.Option<Spent>>
  /**
   * Checks a code for the address's key: the right digest (unexpired, fewer than `maxAttempts` wrong tries) deletes
   * and returns it; a wrong one counts a try, and the try that reaches `maxAttempts` deletes the code.
   */
  readonly tryCode: (
    key: string,
    digest: string,
    now: number,
    maxAttempts: number
  ) => Effect.Effect<Option.Option<Spent>>
}

/**
 * Where pending sign-ins live.
 *
 * @since 0.3.0
 */
export class EmailSignInStore extends Context.Tag("effect-users/EmailSignInStore")<
  EmailSignInStore,
  EmailSignInStoreService
>() {}

/**
 * Pending sign-ins in memory.
 *
 * @since 0.3.0
 */
export const makeStoreMemory = (): EmailSignInStoreService => {
  const rows = new Map<string, Pending & { attempts: number }>()
  const slot = (kind: string, key: string) => `${kind}:${key}`
  return {
    put: (pending) => Effect.sync(() => void rows.set(slot(pending.kind, pending.key), { ...pending, attempts: 0 })),
    spendLink: (digest, now) =>
      Effect.sync(() => {
        for (const [at, row] of rows) {
          if (row.kind === "link" && row.digest === digest) {
            rows.delete(at)
            return row.expiresAt > now ? Option.some({ email: row.email, userId: row.userId }) : Option.none()
          }
        }
        return Option.none()
      }),
    tryCode: (key, digest, now, maxAttempts) =>
      Effect.sync(() => {
        const at = slot("code", key)
        const row = rows.get(at)
        if (row === undefined || row.expiresAt <= now) return Option.none()
        if (row.digest === digest && row.attempts < maxAttempts) {
          rows.delete(at)
          return Option.some({ email: row.email, userId: row.userId })
        }
        row.attempts += 1
        if (row.attempts >= maxAttempts) rows.delete(at)
        return Option.none()
      })
  }
}

/**
 * `EmailSignInStore` in memory.
 *
 * @since 0.3.0
 */
export const layerStoreMemory: Layer.Layer<EmailSignInStore> = Layer.sync(EmailSignInStore, makeStoreMemory)

/**
 * The two sign-ins by e-mail.
 *
 * @since 0.3.0
 */
export interface EmailSignInService {
  /** Mails a sign-in link to the address's active user (or, with `signUp`, to an unknown address). */
  readonly requestLink: (email: string) => Effect.Effect<void>
  /** The user a link signs in (verified now); `MagicLinkBadToken` otherwise. */
  readonly spendLink: (token: string) => Effect.Effect<User, MagicLinkBadToken>
  /** Mails a sign-in code to the address's active user. */
  readonly requestCode: (email: string) => Effect.Effect<void>
  /** The user a code signs in (verified now); `EmailCodeBadCode` otherwise. */
  readonly spendCode: (email: string, code: Redacted.Redacted<string>) => Effect.Effect<User, EmailCodeBadCode>
}

/**
 * The two sign-ins by e-mail.
 *
 * @since 0.3.0
 */
export class EmailSignIn extends Context.Tag("effect-users/EmailSignIn")<EmailSignIn, EmailSignInService>() {}

/**
 * Options of the sign-ins by e-mail.
 *
 * @since 0.3.0
 */
export interface Options {
  /** An unknown address's link signs it up; default false (it gets no mail). */
  readonly signUp?: boolean | undefined
  /** Default 15 minutes. */
  readonly linkLifetime?: Duration.DurationInput | undefined
  /** Default 10 minutes. */
  readonly codeLifetime?: Duration.DurationInput | undefined
  /** Wrong tries that spend a code; default 5. */
  readonly maxCodeAttempts?: number | undefined
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")
const codeDigest = (key: string, code: string) => sha256(`code:${key}:${code}`)
const isCode = (code: string) => /^[0-9]{6}$/.test(code)

/**
 * Builds the sign-ins over the `EmailSignInStore`, `Mail` and `UserManager` in context.
 *
 * @since 0.3.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<EmailSignInService, never, EmailSignInStore | Mail | UserManager> =>
  Effect.gen(function* () {
    const store = yield* EmailSignInStore
    const mail = yield* Mail
    const users = yield* UserManager
    const linkLifetime = Duration.toMillis(Duration.decode(options.linkLifetime ?? "15 minutes"))
    const codeLifetime = Duration.toMillis(Duration.decode(options.codeLifetime ?? "10 minutes"))
    const maxAttempts = options.maxCodeAttempts ?? 5
    const minutes = (millis: number) => Math.max(1, Math.round(millis / 60_000))

    const activeUser = (email: string) =>
      users.getByEmail(email).pipe(Effect.option, Effect.map(Option.filter((user) => user.isActive)))

    const requestLink = Effect.fn("EmailSignIn.requestLink")(function* (address: string) {
      const email = normalizeEmail(address)
      const token = randomBytes(32).toString("base64url")
      const digest = sha256(token)
      const user = yield* activeUser(email)
      const known = Option.isSome(user)
      const userId = known ? String(user.value.id) : null
      // An inactive user's address gets nothing, even with sign-up on: it names an account.
      if (!known && !(options.signUp === true && Option.isNone(yield* Effect.option(users.getByEmail(email))))) {
        return yield* mail.decoy
      }
      const to = known ? user.value.email : email
      const expiresAt = (yield* Clock.currentTimeMillis) + linkLifetime
      // The pending link and its mail commit together.
      yield* mail.transaction(
        Effect.zipRight(
          store.put({ kind: "link", email: to, key: emailKey(to), digest, userId, expiresAt }),
          mail.magicLink(to, token, minutes(linkLifetime), userId ?? undefined)
        )
      )
    })

    const signUp = (email: string) =>
      users
        .create(
          { email, password: Redacted.make(randomBytes(32).toString("base64url")), isVerified: true },
          // Recorded as it came: the `Registered` event says `magic-link`, not `password`.
          { method: "magic-link" }
        )
        .pipe(
          // A concurrent sign-up of the address, or a registration since the link was sent: that user.
          Effect.catchIf(
            (error) => error instanceof UserAlreadyExists,
            () => users.getByEmail(email)
          ),
          Effect.orElseFail(() => new MagicLinkBadToken())
        )

    // The user a spent link or code names, if their e-mail is still the address it was sent to.
    const owner = <E>(spent: Spent, fail: () => E) =>
      Effect.gen(function* () {
        if (spent.userId === null) return yield* Effect.fail(fail())
        const id = yield* Effect.orElseFail(users.parseId(spent.userId), fail)
        const user = yield* Effect.orElseFail(users.get(id), fail)
        if (user.email !== spent.email) return yield* Effect.fail(fail())
        return user
      })

    const spendLink = Effect.fn("EmailSignIn.spendLink")(function* (token: string) {
      const bad = () => new MagicLinkBadToken()
      const spent = yield* store.spendLink(sha256(token), yield* Clock.currentTimeMillis)
      if (Option.isNone(spent)) return yield* bad()
      const user =
        spent.value.userId === null && options.signUp === true
          ? yield* signUp(spent.value.email)
          : yield* owner(spent.value, bad)
      return yield* Effect.orElseFail(users.markVerified(user), bad)
    })

    const requestCode = Effect.fn("EmailSignIn.requestCode")(function* (address: string) {
      const email = normalizeEmail(address)
      const code = String(randomInt(0, 1_000_000)).padStart(6, "0")
      const user = yield* activeUser(email)
      if (Option.isNone(user)) {
        codeDigest(emailKey(email), code)
        return yield* mail.decoy
      }
      const to = user.value.email
      const key = emailKey(to)
      const expiresAt = (yield* Clock.currentTimeMillis) + codeLifetime
      const userId = String(user.value.id)
      yield* mail.transaction(
        Effect.zipRight(
          store.put({ kind: "code", email: to, key, digest: codeDigest(key, code), userId, expiresAt }),
          mail.emailCode(to, code, minutes(codeLifetime), userId)
        )
      )
    })

    const spendCode = Effect.fn("EmailSignIn.spendCode")(function* (address: string, code: Redacted.Redacted<string>) {
      const bad = () => new EmailCodeBadCode()
      const key = emailKey(normalizeEmail(address))
      const given = Redacted.value(code).trim()
      // A malformed code is a wrong try too: it spends one of the code's tries.
      const digest = isCode(given) ? codeDigest(key, given) : "-"
      const spent = yield* store.tryCode(key, digest, yield* Clock.currentTimeMillis, maxAttempts)
      if (Option.isNone(spent)) return yield* bad()
      const user = yield* owner(spent.value, bad)
      return yield* Effect.orElseFail(users.markVerified(user), bad)
    })

    return EmailSignIn.of({ requestLink, spendLink, requestCode, spendCode })
  })

/**
 * The sign-ins by e-mail, over the `EmailSignInStore`, `Mail` and `UserManager` in context.
 *
 * @since 0.3.0
 */
export const layer = (options: Options = {}): Layer.Layer<EmailSignIn, never, EmailSignInStore | Mail | UserManager> =>
  Layer.effect(EmailSignIn, make(options))

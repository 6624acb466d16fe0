/**
 * Mails out of the box: `Mail.layer({ publicUrl })` makes the manager's mails and writes them to the `Outbox`, in the
 * transaction of the change that causes them: verification (`{publicUrl}/verify?token=...`, on registration by
 * default and on each verification request), reset (`{publicUrl}/reset-password?token=...`), and notices of a
 * password change, an e-mail change (to the old address) and a sign-in method added or removed (an OAuth account, a
 * passkey, a second factor). `EmailSignIn` sends its links (`{publicUrl}/magic-link?token=...`) and codes through it.
 *
 * Each mail comes from a template, a function of typed data returning subject, text and HTML; `templates` overrides
 * any of them. The manager's hooks (`UserHooks`) still run beside it with the same tokens.
 *
 * @since 0.3.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { optional } from "./internal/config.js"
import type { Message } from "./Mailer.js"
import { Outbox } from "./Outbox.js"
import type { BaseUser } from "./User.js"

/**
 * What a template returns.
 *
 * @since 0.3.0
 */
export interface Rendered {
  readonly subject: string
  readonly text: string
  readonly html: string
}

/**
 * The templates, each a function of the data its mail needs. `link` is a complete URL holding a token; `minutes` how
 * long it (or `code`) stays valid.
 *
 * @since 0.3.0
 */
export interface Templates {
  /** The verification mail: `link` is `{publicUrl}/verify?token=...`. */
  readonly verify: (data: { readonly email: string; readonly link: string }) => Rendered
  /** The reset mail: `link` is `{publicUrl}/reset-password?token=...`. */
  readonly reset: (data: { readonly email: string; readonly link: string }) => Rendered
  /** The notice that the password changed. */
  readonly passwordChanged: (data: { readonly email: string }) => Rendered
  /** The notice, sent to the old address, that the e-mail changed. */
  readonly emailChanged: (data: { readonly oldEmail: string; readonly newEmail: string }) => Rendered
  /**
   * The notice that a sign-in method was added or removed. `method`: what was added or removed, as a person reads it: `a github account`, `the passkey "Laptop"`
   * (`Passkeys.passkeyMethodText`), `two-step sign-in with an authenticator app` (`SecondFactor.totpMethodText`),
   * `two-step sign-in (every second factor, reset by an administrator)` (`SecondFactor.resetMethodText`).
   */
  readonly signInMethod: (data: {
    readonly email: string
    readonly method: string
    readonly added: boolean
  }) => Rendered
  /** The sign-in link: `link` is `{publicUrl}/magic-link?token=...`, valid `minutes`. */
  readonly magicLink: (data: { readonly email: string; readonly link: string; readonly minutes: number }) => Rendered
  /** The sign-in code, valid `minutes`. */
  readonly emailCode: (data: { readonly email: string; readonly code: string; readonly minutes: number }) => Rendered
}

/**
 * Escapes text for HTML (templates of the app's own want it for every value they insert).
 *
 * @since 0.3.0
 */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)

const page = (paragraphs: ReadonlyArray<string>, link?: string) =>
  `<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">${paragraphs
    .map((paragraph) => `<p>${escapeHtml(paragraph)}</p>`)
    .join("")}${link === undefined ? "" : `<p><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>`}</body></html>`

const withLink = (subject: string, lines: ReadonlyArray<string>, link: string, after: ReadonlyArray<string>) => ({
  subject,
  text: [...lines, "", link, "", ...after].join("\n"),
  html: page([...lines], link).replace(
    "</body>",
    `${after.map((line) => `<p>${escapeHtml(line)}</p>`).join("")}</body>`
  )
})

const notice = (subject: string, lines: ReadonlyArray<string>) => ({
  subject,
  text: lines.join("\n\n"),
  html: page(lines)
})

const notYou = "If this was not you, reset your password now and contact us."

/**
 * The default templates: plain, short, readable in any mail client.
 *
 * @since 0.3.0
 */
export const defaultTemplates: Templates = {
  verify: ({ link }) =>
    withLink("Confirm your e-mail address", ["Open this link to confirm your e-mail address:"], link, [
      "If you did not create an account, ignore this mail."
    ]),
  reset: ({ link }) =>
    withLink("Reset your password", ["Open this link to choose a new password:"], link, [
      "If you did not ask for it, ignore this mail: your password stays as it is."
    ]),
  passwordChanged: () =>
    notice("Your password was changed", ["The password of your account was just changed.", notYou]),
  emailChanged: ({ newEmail }) =>
    notice("Your e-mail address was changed", [
      `The e-mail address of your account was changed to ${newEmail}. This address no longer signs in.`,
      notYou
    ]),
  signInMethod: ({ added, method }) =>
    notice(added ? "A sign-in method was added" : "A sign-in method was removed", [
      added
        ? `You can now sign in to your account with ${method}.`
        : `${method.charAt(0).toUpperCase()}${method.slice(1)} no longer signs in to your account.`,
      notYou
    ]),
  magicLink: ({ link, minutes }) =>
    withLink("Your sign-in link", ["Open this link to sign in:"], link, [
      `It works once, for ${minutes} minutes. If you did not ask for it, ignore this mail.`
    ]),
  emailCode: ({ code, minutes }) =>
    notice(`Your sign-in code: ${code}`, [
      `Your sign-in code is ${code}.`,
      `It works once, for ${minutes} minutes. If you did not ask for it, ignore this mail.`
    ])
}

/**
 * The mails the library sends. Each writes one message to the outbox (inside the caller's `transaction`, with its
 * change); none waits for a mail server.
 *
 * @since 0.3.0
 */
export interface MailService {
  /** Whether registration sends the verification mail (to an unverified user); default true. */
  readonly verifyOnRegister: boolean
  /** Writes the verification mail of this token to the outbox. */
  readonly verification: (user: BaseUser, token: string) => Effect.Effect<void>
  /** Writes the reset mail of this token to the outbox. */
  readonly reset: (user: BaseUser, token: string) => Effect.Effect<void>
  /** Writes the notice that the password changed. */
  readonly passwordChanged: (user: BaseUser) => Effect.Effect<void>
  /** Sent to the old address. */
  readonly emailChanged: (user: BaseUser, oldEmail: string) => Effect.Effect<void>
  /** Writes the notice that a sign-in method (`Templates.signInMethod`'s `method`) was added or removed. */
  readonly signInMethod: (user: BaseUser, method: string, added: boolean) => Effect.Effect<void>
  /** A sign-in link to `email` (a user's, or an address that may sign up). */
  readonly magicLink: (
    email: string,
    token: string,
    minutes: number,
    userId?: string | undefined
  ) => Effect.Effect<void>
  /** A sign-in code to `email`. */
  readonly emailCode: (email: string, code: string, minutes: number, userId?: string | undefined) => Effect.Effect<void>
  /** The work of a mail without the write: for a request that sends nothing, so that it costs what one that does. */
  readonly decoy: Effect.Effect<void>
  /** Runs a change and its mails in one transaction (the outbox's). */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * The mails the library sends; the manager and `EmailSignIn` send them when it is in context.
 *
 * @since 0.3.0
 */
export class Mail extends Context.Tag("effect-users/Mail")<Mail, MailService>() {}

/**
 * Options of `Mail.layer`.
 *
 * @since 0.3.0
 */
export interface Options {
  /** The app's public URL (`https://app.example.com`, with a path if it has one): links are `{publicUrl}/verify?...`. */
  readonly publicUrl: string
  /** Templates to use instead of the defaults. */
  readonly templates?: Partial<Templates> | undefined
  /** Send the verification mail on registration; default true. */
  readonly verifyOnRegister?: boolean | undefined
}

/**
 * Builds the mails over the `Outbox` in context.
 *
 * @since 0.3.0
 */
export const make = (options: Options): Effect.Effect<MailService, never, Outbox> =>
  Effect.map(Outbox, (outbox) => {
    const templates: Templates = { ...defaultTemplates, ...options.templates }
    const base = options.publicUrl.replace(/\/+$/, "")
    const link = (path: string, token: string) => `${base}/${path}?token=${encodeURIComponent(token)}`
    const send = (kind: string, to: string, rendered: Rendered, userId?: string): Effect.Effect<void> =>
      outbox.enqueue(kind, { to, ...rendered } satisfies Message, userId)
    const idOf = (user: BaseUser) => String(user.id)
    return Mail.of({
      verifyOnRegister: options.verifyOnRegister ?? true,
      verification: (user, token) =>
        send("verify", user.email, templates.verify({ email: user.email, link: link("verify", token) }), idOf(user)),
      reset: (user, token) =>
        send(
          "reset",
          user.email,
          templates.reset({ email: user.email, link: link("reset-password", token) }),
          idOf(user)
        ),
      passwordChanged: (user) =>
        send("passwordChanged", user.email, templates.passwordChanged({ email: user.email }), idOf(user)),
      emailChanged: (user, oldEmail) =>
        send("emailChanged", oldEmail, templates.emailChanged({ oldEmail, newEmail: user.email }), idOf(user)),
      signInMethod: (user, method, added) =>
        send("signInMethod", user.email, templates.signInMethod({ email: user.email, method, added }), idOf(user)),
      magicLink: (email, token, minutes, userId) =>
        send("magicLink", email, templates.magicLink({ email, link: link("magic-link", token), minutes }), userId),
      emailCode: (email, code, minutes, userId) =>
        send("emailCode", email, templates.emailCode({ email, code, minutes }), userId),
      decoy: outbox.seal({
        to: "nobody@example.invalid",
        ...templates.magicLink({
          email: "nobody@example.invalid",
          link: link("magic-link", "x".repeat(43)),
          minutes: 15
        })
      }),
      transaction: outbox.transaction
    })
  })

/**
 * The library's mails, written to the `Outbox` in context.
 *
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<Mail, never, Outbox> => Layer.effect(Mail, make(options))

/**
 * `layer` from configuration: `PUBLIC_URL` by default.
 *
 * @since 0.3.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Omit<Options, "templates">> = Config.all({
    publicUrl: Config.string("PUBLIC_URL"),
    verifyOnRegister: optional(Config.boolean("USERS_VERIFY_ON_REGISTER"))
  }),
  templates?: Partial<Templates>
): Layer.Layer<Mail, ConfigError.ConfigError, Outbox> =>
  Layer.unwrapEffect(
    Effect.map(Config.unwrap(config), (options) =>
      layer({ ...options, ...(templates === undefined ? {} : { templates }) })
    )
  )

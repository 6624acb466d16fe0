/**
 * Sending mail: a `Mailer` takes one message (to, subject, text, html) and hands it to a mail server. `layerSmtp`
 * speaks SMTP through nodemailer (`smtp://user:pass@host:587`, `smtps://...:465`), `layerMemory` records messages
 * (an app's tests read them back), `layerConsole` prints them (development). The library never calls a `Mailer`
 * inside a request: `Outbox`'s worker delivers what the requests wrote to the outbox.
 *
 * @since 0.3.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"

/**
 * One message: plain text for every client, HTML for those that show it.
 *
 * @since 0.3.0
 */
export const Message = Schema.Struct({
  to: Schema.String,
  subject: Schema.String,
  text: Schema.String,
  html: Schema.String
})

/**
 * One message.
 *
 * @since 0.3.0
 */
export type Message = typeof Message.Type

/**
 * The mail server did not take the message (down, refused it, timed out). `permanent` when retrying cannot help
 * (a 5xx reply to the recipient); the outbox dead-letters those at once.
 *
 * @since 0.3.0
 */
export class MailerError extends Data.TaggedError("MailerError")<{
  readonly reason: string
  readonly permanent: boolean
}> {}

/**
 * Hands messages to a mail server.
 *
 * @since 0.3.0
 */
export interface MailerService {
  /** Sends one message; succeeds once the server accepted it. */
  readonly send: (message: Message) => Effect.Effect<void, MailerError>
}

/**
 * Hands messages to a mail server.
 *
 * @since 0.3.0
 */
export class Mailer extends Context.Tag("effect-users/Mailer")<Mailer, MailerService>() {}

/**
 * A mailer that records what it is given, for an app's tests.
 *
 * @since 0.3.0
 */
export interface MemoryMailerService extends MailerService {
  /** Every message sent so far, oldest first. */
  readonly sent: Effect.Effect<ReadonlyArray<Message>>
}

/**
 * The recording mailer of `layerMemory`.
 *
 * @since 0.3.0
 */
export class MemoryMailer extends Context.Tag("effect-users/Mailer/MemoryMailer")<
  MemoryMailer,
  MemoryMailerService
>() {}

/**
 * A mailer that records messages in memory, as `Mailer` and as `MemoryMailer` (which reads them back).
 *
 * @since 0.3.0
 */
export const layerMemory: Layer.Layer<Mailer | MemoryMailer> = Layer.effectContext(
  Effect.map(Ref.make<ReadonlyArray<Message>>([]), (ref) => {
    const service: MemoryMailerService = {
      send: (message) => Ref.update(ref, (sent) => [...sent, message]),
      sent: Ref.get(ref)
    }
    return Context.make(Mailer, service).pipe(Context.add(MemoryMailer, service))
  })
)

/**
 * A mailer for development that prints each message's text to the console (`Effect.log`), links and codes included:
 * never for a server others can reach.
 *
 * @since 0.3.0
 */
export const layerConsole: Layer.Layer<Mailer> = Layer.succeed(
  Mailer,
  Mailer.of({
    send: (message) =>
      Effect.log(`Mail to ${message.to}: ${message.subject}\n${message.text}`).pipe(
        Effect.annotateLogs({ mailer: "console" })
      )
  })
)

/**
 * Options of the SMTP mailer.
 *
 * @since 0.3.0
 */
export interface SmtpOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when the server offers it) or `smtps://user:pass@host:465`. */
  readonly url: Redacted.Redacted<string>
  /** The sender, e.g. `"Example <no-reply@example.com>"`. */
  readonly from: string
  /** How long to wait for the server at each step; default 30 seconds. */
  readonly timeoutMillis?: number | undefined
}

// Replies in the 5xx range to the envelope or the data refuse this message for good; anything else may pass later.
const isPermanent = (error: unknown) => {
  const code = (error as { responseCode?: unknown }).responseCode
  return typeof code === "number" && code >= 500 && code < 600 && code !== 421
}

/**
 * A mailer over SMTP (nodemailer, loaded with the layer: an app without mail never loads it). Connections are
 * pooled; the layer closes them when it ends.
 *
 * @since 0.3.0
 */
export const layerSmtp = (options: SmtpOptions): Layer.Layer<Mailer> =>
  Layer.scoped(
    Mailer,
    Effect.gen(function* () {
      const nodemailer = yield* Effect.promise(() => import("nodemailer"))
      const timeout = options.timeoutMillis ?? 30_000
      const transport = yield* Effect.acquireRelease(
        Effect.sync(() =>
          nodemailer.createTransport({
            url: Redacted.value(options.url),
            pool: true,
            connectionTimeout: timeout,
            greetingTimeout: timeout,
            socketTimeout: timeout
          } as Parameters<typeof nodemailer.createTransport>[0])
        ),
        (transport) => Effect.sync(() => transport.close())
      )
      return Mailer.of({
        send: (message) =>
          Effect.tryPromise({
            try: () => transport.sendMail({ from: options.from, ...message }),
            catch: (error) =>
              new MailerError({
                // The server's reply or the socket's error, never the message (it holds a token).
                reason: error instanceof Error ? error.message : String(error),
                permanent: isPermanent(error)
              })
          }).pipe(Effect.asVoid, Effect.withSpan("Mailer.send"))
      })
    })
  )

/**
 * `layerSmtp` from configuration: `SMTP_URL` and `MAIL_FROM` by default.
 *
 * @since 0.3.0
 */
export const layerSmtpConfig = (
  config: Config.Config.Wrap<SmtpOptions> = Config.all({
    url: Config.redacted("SMTP_URL"),
    from: Config.string("MAIL_FROM")
  })
) => Layer.unwrapEffect(Effect.map(Config.unwrap(config), layerSmtp))

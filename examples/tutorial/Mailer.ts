/**
 * The app's own mail service. The hooks send through it; production would speak SMTP, development prints, and
 * tests keep what was sent.
 */
import { Console, Context, Effect, Layer } from "effect"

export interface Mail {
  readonly to: string
  readonly subject: string
  readonly text: string
}

export class Mailer extends Context.Tag("notes/Mailer")<
  Mailer,
  { readonly send: (mail: Mail) => Effect.Effect<void> }
>() {}

// Development: the mail goes to the terminal (it holds tokens: never do this in production).
export const layerConsole = Layer.succeed(
  Mailer,
  Mailer.of({ send: (mail) => Console.log(`To: ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}\n`) })
)

// Tests: every mail sent is pushed onto `outbox`.
export const layerMemory = (outbox: Array<Mail>) =>
  Layer.succeed(Mailer, Mailer.of({ send: (mail) => Effect.sync(() => void outbox.push(mail)) }))

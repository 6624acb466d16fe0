/**
 * The mail of a test server: `Mail` over an SQL outbox (in the server's database) whose worker delivers to a real
 * SMTP server of the test's own (`SmtpServer`), polling fast and retrying after 100 ms.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Redacted } from "effect"
import { Mail, Mailer, Outbox } from "effect-users"
import { SqlOutbox } from "effect-users/sql"
import type { SmtpServer } from "./SmtpServer.js"

export const publicUrl = "https://app.camelot.bt"
export const outboxSecret = Redacted.make("outbox-secret-outbox-secret-outbox-secret")

/** The outbox's options in tests: fast rounds and retries. */
export const fastOutbox: Omit<Outbox.Options, "secret"> = {
  pollInterval: "50 millis",
  baseDelay: "100 millis",
  maxDelay: "400 millis",
  maxAttempts: 4
}

/** An SMTP mailer to the server `smtp()` returns once the layer is built (the server starts before the layer). */
export const smtpMailer = (smtp: () => SmtpServer) =>
  Layer.unwrapEffect(
    Effect.sync(() =>
      Mailer.layerSmtp({ url: Redacted.make(smtp().url), from: "Camelot <no-reply@camelot.bt>", timeoutMillis: 5000 })
    )
  )

/** `Mail` and its `Outbox` over the SQL outbox, delivering through `mailer`. */
export const sqlMail = (
  mailer: Layer.Layer<Mailer.Mailer>,
  options: Partial<Outbox.Options> & Partial<Mail.Options> = {}
): Layer.Layer<Mail.Mail | Outbox.Outbox, unknown, SqlClient.SqlClient> =>
  Mail.layer({ publicUrl, ...options }).pipe(
    Layer.provideMerge(Outbox.layer({ secret: outboxSecret, ...fastOutbox, ...options })),
    Layer.provide(SqlOutbox.layer()),
    Layer.provide(mailer)
  )

/**
 * A breached-password check against Have I Been Pwned's range API (OWASP ASVS 5.0, 6.2.12), by k-anonymity: only
 * the first 5 hex characters of the password's SHA-1 leave the process, and the service pads its answer with
 * decoys (`Add-Padding: true`) so that the answer's size says nothing either. It needs an `HttpClient` from the
 * app (`FetchHttpClient.layer`, `NodeHttpClient.layerUndici`); no trace header goes to the service.
 *
 * When the service does not answer in time, answers an error status or cannot be reached, the check fails open
 * by default: the password is accepted (the local blocklist has run already) and a warning is logged, so that
 * an outage of a third party does not stop registrations and password changes. With `failOpen: false` the
 * operation dies with `ServiceUnavailable` instead (503, `Retry-After`).
 *
 * @since 0.2.0
 */
import { createHash } from "node:crypto"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { type PasswordRule, PasswordValidator, type PasswordValidatorService } from "../PasswordValidator.js"
import { InvalidPassword, ServiceUnavailable } from "../UserError.js"

/**
 * @since 0.2.0
 */
export interface PwnedPasswordsOptions {
  /** The range API's base URL; `https://api.pwnedpasswords.com` unless given (a mirror, a test server). */
  readonly baseUrl?: string | undefined
  /** How long a check may wait for the service; 2 seconds unless given. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * `true` (the default): a password the service could not check is accepted, with a warning in the log.
   * `false`: the operation dies with `ServiceUnavailable`, for apps that would rather refuse than skip the check.
   */
  readonly failOpen?: boolean | undefined
}

/**
 * Seconds, sent as `Retry-After` when the check fails closed.
 *
 * @since 0.2.0
 */
export const retryAfter = 5

/**
 * Whether a range answer (`SUFFIX:COUNT` lines) lists `suffix` as seen at least once; padding lines count 0.
 *
 * @since 0.2.0
 */
export const listed = (body: string, suffix: string): boolean =>
  body.split("\n").some((line) => {
    const colon = line.indexOf(":")
    return line.slice(0, colon).trim().toUpperCase() === suffix && Number.parseInt(line.slice(colon + 1), 10) > 0
  })

/**
 * Builds the rule: refuses a password the service has seen in a breach ("Password has appeared in a data
 * breach"). Fails with `InvalidPassword`; dies with `ServiceUnavailable` when the service cannot answer and
 * `failOpen` is `false`.
 *
 * @since 0.2.0
 */
export const make = (options: PwnedPasswordsOptions = {}): Effect.Effect<PasswordRule, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (base) => {
    const baseUrl = (options.baseUrl ?? "https://api.pwnedpasswords.com").replace(/\/+$/, "")
    const timeout = options.timeout ?? "2 seconds"
    const failOpen = options.failOpen ?? true
    // The span would record the URL, and so the prefix; trace headers are nothing the service needs.
    const client = base.pipe(
      HttpClient.filterStatusOk,
      HttpClient.withTracerPropagation(false),
      HttpClient.withTracerDisabledWhen(() => true)
    )
    const unavailable = (why: string) =>
      failOpen
        ? Effect.logWarning(`PwnedPasswords: ${why}; the password was accepted unchecked`)
        : Effect.die(new ServiceUnavailable({ reason: `PwnedPasswords: ${why}`, retryAfter }))
    return (password) => {
      const hash = createHash("sha1").update(Redacted.value(password), "utf8").digest("hex").toUpperCase()
      const suffix = hash.slice(5)
      return client.get(`${baseUrl}/range/${hash.slice(0, 5)}`, { headers: { "Add-Padding": "true" } }).pipe(
        Effect.flatMap((response) => response.text),
        Effect.timeoutFail({ duration: timeout, onTimeout: () => "timeout" as const }),
        Effect.matchEffect({
          onFailure: (error) =>
            unavailable(
              error === "timeout"
                ? `no answer within ${Duration.format(timeout)}`
                : error.reason === "StatusCode"
                  ? `the range API answered ${error.response.status}`
                  : `the range API could not be reached (${error.reason})`
            ),
          onSuccess: (body) =>
            listed(body, suffix)
              ? Effect.fail(new InvalidPassword({ reason: "Password has appeared in a data breach" }))
              : Effect.void
        }),
        Effect.withSpan("PwnedPasswords.check")
      )
    }
  })

/**
 * The policy in context (the default one, or the one this layer is provided with), then the breach check: a
 * password the local rules refuse is never sent.
 *
 * @since 0.2.0
 */
export const layer = (
  options: PwnedPasswordsOptions = {}
): Layer.Layer<PasswordValidator, never, HttpClient.HttpClient> =>
  Layer.effect(
    PasswordValidator,
    Effect.gen(function* () {
      const policy = yield* PasswordValidator
      const pwned = yield* make(options)
      return {
        validate: (password, user) => Effect.zipRight(policy.validate(password, user), pwned(password, user))
      } satisfies PasswordValidatorService
    })
  )

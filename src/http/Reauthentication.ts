/**
 * Re-authentication before a sensitive change (linking or unlinking an OAuth account): the request's session must
 * have been opened by a password or provider login within the window (default 5 minutes). A refresh continues a
 * session and keeps its login's time, so it never makes one recent.
 *
 * @since 0.2.0
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { isRecentSignIn } from "../Sessions.js"
import { ReauthenticationRequired } from "../UserError.js"
import { Authenticator } from "./Authenticator.js"

/**
 * How recent a sign-in must be, by default.
 *
 * @since 0.2.0
 */
export const defaultWindow: Duration.Duration = Duration.minutes(5)

/**
 * Succeeds when the session that authenticated this request was opened by a password or provider login within
 * `window`; else `ReauthenticationRequired` (the client logs in again, then retries).
 *
 * @since 0.2.0
 */
export const requireRecentSignIn = (
  window: Duration.Duration
): Effect.Effect<void, ReauthenticationRequired, Authenticator | HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function* () {
    const authenticator = yield* Authenticator
    const session = authenticator.sessionOf(yield* HttpServerRequest.HttpServerRequest)
    if (Option.isNone(session)) return yield* new ReauthenticationRequired()
    const { backend, token } = session.value
    const signIn = backend.strategy.signInOf === undefined ? Option.none() : yield* backend.strategy.signInOf(token)
    const now = yield* Clock.currentTimeMillis
    if (Option.isNone(signIn) || !isRecentSignIn(signIn.value, now, Duration.toMillis(window))) {
      return yield* new ReauthenticationRequired()
    }
  })

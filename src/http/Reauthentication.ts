/**
 * Re-authentication before a sensitive change (linking or unlinking an OAuth account): the request's session must
 * have been opened by a password or provider login within the window (default 5 minutes), and, for a user with a
 * second factor, with both factors (its `amr` says `mfa`). A refresh continues a session and keeps its login's
 * time, so it never makes one recent.
 *
 * @since 0.2.0
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { isMultiFactor, SecondFactor } from "../SecondFactor.js"
import { isRecentSignIn, type SignIn } from "../Sessions.js"
import { ReauthenticationRequired } from "../UserError.js"
import { Authenticator } from "./Authenticator.js"
import { CurrentUser } from "./CurrentUser.js"

/**
 * How recent a sign-in must be, by default.
 *
 * @since 0.2.0
 */
export const defaultWindow: Duration.Duration = Duration.minutes(5)

/**
 * How and when the sign-in behind the request's session happened, when its strategy records it.
 *
 * @since 0.3.0
 */
export const currentSignIn: Effect.Effect<
  Option.Option<SignIn>,
  never,
  Authenticator | HttpServerRequest.HttpServerRequest
> = Effect.gen(function* () {
  const authenticator = yield* Authenticator
  const session = authenticator.sessionOf(yield* HttpServerRequest.HttpServerRequest)
  if (Option.isNone(session)) return Option.none()
  const { backend, token } = session.value
  return backend.strategy.signInOf === undefined ? Option.none() : yield* backend.strategy.signInOf(token)
})

/**
 * Whether the request's session was opened by a password or provider login within `window` (and with two factors
 * when `multiFactor`).
 *
 * @since 0.3.0
 */
export const isRecent = (
  window: Duration.Duration,
  multiFactor = false
): Effect.Effect<boolean, never, Authenticator | HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function* () {
    const signIn = yield* currentSignIn
    const now = yield* Clock.currentTimeMillis
    return (
      Option.isSome(signIn) &&
      isRecentSignIn(signIn.value, now, Duration.toMillis(window)) &&
      (!multiFactor || isMultiFactor(signIn.value.amr))
    )
  })

/**
 * Succeeds when the session that authenticated this request was opened by a password or provider login within
 * `window`, with both factors for a user who has a second factor; else `ReauthenticationRequired` (the client
 * logs in again, then retries).
 *
 * @since 0.2.0
 */
export const requireRecentSignIn = (
  window: Duration.Duration
): Effect.Effect<void, ReauthenticationRequired, Authenticator | HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function* () {
    const user = yield* Effect.serviceOption(CurrentUser)
    const factors = yield* SecondFactor
    const multiFactor = Option.isSome(user) && (yield* factors.hasFactor(String(user.value.id)))
    if (!(yield* isRecent(window, multiFactor))) return yield* new ReauthenticationRequired()
  })

/**
 * Step-up: the proof a sensitive change needs from the person holding the session (a new password or e-mail, a
 * second factor turned on or off, new recovery codes, and passkeys). A user without a second factor gives their
 * current password (where the app requires it); a user with one gives their current password AND a current code
 * of a factor (or a recovery code), unless the session was made with both factors within the window (default 5
 * minutes; a passkey sign-in with user verification is both). Wrong passwords count on the account's
 * re-authentication throttle, wrong codes on its second-factor throttle. A proof of a passkey (`webauthn`) answers
 * the options of `POST /users/me/mfa/webauthn/options`.
 *
 * With `requireOrRecentSignIn`, a user without a password of their own (an OAuth or passkey sign-up) gives a
 * sign-in within the window instead of the password (`ReauthenticationRequired` without one), and still a proof of
 * their factor unless that sign-in had both.
 *
 * @since 0.3.0
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as AuthEvents from "../AuthEvents.js"
import { MfaBadCode, MfaCodeRequired, type Proof, SecondFactor } from "../SecondFactor.js"
import * as Throttle from "../Throttle.js"
import type { User } from "../User.js"
import { type InvalidCredentials, ReauthenticationRequired } from "../UserError.js"
import { UserManager } from "../UserManager.js"
import type { Authenticator } from "./Authenticator.js"
import { isRecent } from "./Reauthentication.js"

/**
 * A change that needs the current password, sent without it.
 *
 * @since 0.3.0
 */
export class CurrentPasswordRequired extends Schema.TaggedError<CurrentPasswordRequired>()(
  "CurrentPasswordRequired",
  {}
) {}

/**
 * What the request offers as proof.
 *
 * @since 0.3.0
 */
export interface Proofs {
  readonly currentPassword?: Redacted.Redacted<string> | undefined
  /** A proof of a second factor (`SignIn.proofOf` reads it from a body). */
  readonly proof: Option.Option<Proof>
}

/**
 * Options of `require`.
 *
 * @since 0.3.0
 */
export interface Options {
  /** How recent a two-factor sign-in exempts the session (`UsersApi.make`'s `reauthenticationWindow`). */
  readonly window: Duration.Duration
  /** The client's key for the throttle. */
  readonly client: string
  /** Whether a user without a second factor must give the current password; default true. */
  readonly passwordRequired?: boolean | undefined
}

/**
 * Every refusal of a step-up.
 *
 * @since 0.3.0
 */
export type Refusal = CurrentPasswordRequired | InvalidCredentials | MfaCodeRequired | MfaBadCode | Throttle.Throttled

/**
 * Checks the step-up of `user` on this request (see the module's description).
 *
 * @since 0.3.0
 */
export const require = (
  user: User,
  proofs: Proofs,
  options: Options
): Effect.Effect<
  void,
  Refusal,
  Authenticator | HttpServerRequest.HttpServerRequest | UserManager | Throttle.Throttle
> =>
  check(user, proofs, options, Effect.succeed(true)).pipe(
    // Never raised here: every user is asked for the password (only requireOrRecentSignIn takes a sign-in instead).
    Effect.catchTag("ReauthenticationRequired", (error) => Effect.die(error)),
    Effect.withSpan("StepUp.require")
  )

/**
 * `require`, where a user without a password of their own (an OAuth or passkey sign-up) gives a sign-in within the
 * window instead of the password (`ReauthenticationRequired` without one), and still a proof of their factor unless
 * that sign-in had both.
 *
 * @since 0.3.0
 */
export const requireOrRecentSignIn = (
  user: User,
  proofs: Proofs,
  options: Options
): Effect.Effect<
  void,
  Refusal | ReauthenticationRequired,
  Authenticator | HttpServerRequest.HttpServerRequest | UserManager | Throttle.Throttle
> =>
  check(
    user,
    proofs,
    options,
    Effect.flatMap(UserManager, (users) => users.hasOwnPassword(user))
  ).pipe(Effect.withSpan("StepUp.require"))

const check = <R>(user: User, proofs: Proofs, options: Options, hasOwnPassword: Effect.Effect<boolean, never, R>) =>
  Effect.gen(function* () {
    const factors = yield* SecondFactor
    const userId = String(user.id)
    const hasFactor = yield* factors.hasFactor(userId)
    if (hasFactor && (yield* isRecent(options.window, true))) return
    const throttle = yield* Throttle.Throttle
    const withoutPassword = !(yield* hasOwnPassword)
    if (withoutPassword) {
      if (!(yield* isRecent(options.window))) return yield* new ReauthenticationRequired()
    } else if (hasFactor || options.passwordRequired !== false) {
      if (proofs.currentPassword === undefined) return yield* new CurrentPasswordRequired()
      const users = yield* UserManager
      // Counted like a login on the user's account: a stolen token cannot guess the password faster.
      const attempt = yield* throttle.account(user.email, options.client, "currentPassword")
      yield* Throttle.checked(attempt, users.checkPassword(user, proofs.currentPassword))
    }
    if (!hasFactor) return
    if (Option.isNone(proofs.proof)) return yield* new MfaCodeRequired()
    const proof = proofs.proof.value
    const attempt = yield* throttle.secondFactor(user.email, options.client)
    yield* Throttle.checked(
      attempt,
      Effect.flatMap(factors.verify(userId, proof), (proven) =>
        Option.isSome(proven) ? Effect.void : Effect.fail(new MfaBadCode())
      )
    )
    yield* Effect.flatMap(AuthEvents.AuthEvents, (events) =>
      events.emit((common) => new AuthEvents.SecondFactorVerified({ ...common, userId, factor: proof.method }))
    )
  })

/**
 * `GET /users/me/mfa`, `POST /users/me/mfa/totp`, `POST /users/me/mfa/totp/confirm`,
 * `POST /users/me/mfa/recovery-codes` and `DELETE /users/me/mfa/totp`: the user's second factors. Starting an
 * enrolment, renewing codes and turning TOTP off take a step-up (`StepUp.requireOrRecentSignIn`: a user without a
 * password of their own gives a recent sign-in instead); turning a factor on or off ends the user's other sessions
 * (not the caller's), and mails the user a notice when `Mail` is in context (`SecondFactor` sends it).
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { SecondFactor } from "../../SecondFactor.js"
import { Sessions } from "../../Sessions.js"
import * as Throttle from "../../Throttle.js"
import type { User } from "../../User.js"
import { noStore } from "../AuthBackend.js"
import * as Authenticator from "../Authenticator.js"
import { CurrentUser } from "../CurrentUser.js"
import { proofOf } from "../SignIn.js"
import * as StepUp from "../StepUp.js"
import * as UserSchemas from "../UserSchemas.js"
import * as UsersErrors from "../UsersErrors.js"
import { type ErasedApi, endOtherSessions, isThrottled, type Tools, throttledResponse } from "./Handlers.js"

const encodeStatus = Schema.encodeSync(UserSchemas.MfaStatusRead)
const encodeCodes = Schema.encodeSync(UserSchemas.RecoveryCodesRead)
const encodeEnrolment = Schema.encodeSync(UserSchemas.TotpEnrolmentRead)

/** The handlers of the mfa group. */
export const layer = (api: ErasedApi, { client, ok, settings }: Tools) =>
  HttpApiBuilder.group(api, "mfa", (handlers) =>
    Effect.gen(function* () {
      const factors = yield* SecondFactor
      const sessions = yield* Sessions
      const authenticator = yield* Authenticator.Authenticator
      const stepUp = (user: User, body: typeof UserSchemas.StepUpBody.Type) =>
        Effect.flatMap(client, (key) =>
          // A user without a password of their own (an OAuth or passkey sign-up) gives a recent sign-in instead.
          StepUp.requireOrRecentSignIn(
            user,
            { currentPassword: body.current_password, proof: proofOf(body) },
            { window: settings.reauthenticationWindow, client: key }
          )
        )
      const codesResponse = (codes: ReadonlyArray<Redacted.Redacted<string>>) =>
        HttpServerResponse.unsafeJson(encodeCodes({ recovery_codes: codes.map((code) => Redacted.value(code)) }), ok)
      const requireTotp = (user: User) =>
        Effect.flatMap(factors.status(String(user.id)), (status) =>
          status.totp ? Effect.void : Effect.fail({ _tag: "MfaNotEnabled" } as const)
        )
      return handlers
        .handle("mfaStatus", () =>
          Effect.gen(function* () {
            const status = yield* factors.status(String((yield* CurrentUser).id))
            return HttpServerResponse.unsafeJson(
              encodeStatus({ totp: status.totp, recovery_codes_left: status.recoveryCodesLeft }),
              ok
            )
          })
        )
        .handle("enrolTotp", ({ payload }) =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            yield* stepUp(user, payload)
            const enrolment = yield* factors.beginTotp(user)
            return HttpServerResponse.unsafeJson(
              encodeEnrolment({ secret: Redacted.value(enrolment.secret), otpauth_uri: Redacted.value(enrolment.uri) }),
              ok
            )
          }).pipe(
            Effect.catchIf(isThrottled, throttledResponse),
            Effect.mapError((error) => UsersErrors.EnrolTotpErrors.body(error))
          )
        )
        .handle("confirmTotp", ({ payload }) =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            const throttle = yield* Throttle.Throttle
            // A wrong code counts like a wrong second step: a stolen session cannot guess a pending secret's codes.
            const attempt = yield* throttle.secondFactor(user.email, yield* client)
            const codes = yield* Throttle.checked(attempt, factors.confirmTotp(user, payload.code))
            yield* endOtherSessions(sessions, authenticator, user)
            return codesResponse(codes)
          }).pipe(
            Effect.catchIf(isThrottled, throttledResponse),
            Effect.mapError((error) => UsersErrors.ConfirmTotpErrors.body(error))
          )
        )
        .handle("regenerateRecoveryCodes", ({ payload }) =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            yield* requireTotp(user)
            yield* stepUp(user, payload)
            return codesResponse(yield* factors.regenerateRecoveryCodes(user))
          }).pipe(
            Effect.catchIf(isThrottled, throttledResponse),
            Effect.mapError((error) => UsersErrors.ChangeTotpErrors.body(error))
          )
        )
        .handle("disableTotp", ({ payload }) =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            yield* requireTotp(user)
            yield* stepUp(user, payload)
            yield* factors.disableTotp(user)
            yield* endOtherSessions(sessions, authenticator, user)
            return HttpServerResponse.empty({ status: 204, headers: noStore })
          }).pipe(
            Effect.catchIf(isThrottled, throttledResponse),
            Effect.mapError((error) => UsersErrors.ChangeTotpErrors.body(error))
          )
        )
    })
  )

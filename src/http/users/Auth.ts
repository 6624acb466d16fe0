/**
 * `POST /auth/{backend}/login`, its second step `/login/mfa`, and `/logout` (one group per backend), and `/refresh` on
 * backends with refresh tokens.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as AuthEvents from "../../AuthEvents.js"
import { DeviceTokens } from "../../DeviceTokens.js"
import * as Login from "../../Login.js"
import * as Throttle from "../../Throttle.js"
import { UserManager } from "../../UserManager.js"
import type * as AuthBackend from "../AuthBackend.js"
import * as Authenticator from "../Authenticator.js"
import { CurrentUser } from "../CurrentUser.js"
import { csrfRejectedResponse } from "../HttpErrors.js"
import * as SignIn from "../SignIn.js"
import { LoginErrors, LoginMfaErrors, RefreshErrors } from "../UsersErrors.js"
import { type ErasedApi, isThrottled, type Tools, throttledResponse } from "./Handlers.js"

/** The login and logout handlers of one backend: a password proves the user, `Login` opens the session. */
export const layer = (api: ErasedApi, { clientOf }: Tools, backend: AuthBackend.Any) =>
  HttpApiBuilder.group(api, `auth.${backend.name}`, (handlers) =>
    Effect.gen(function* () {
      const users = yield* UserManager
      const login = yield* Login.Login
      const throttle = yield* Throttle.Throttle
      const devices = yield* DeviceTokens
      const events = yield* AuthEvents.AuthEvents
      const running = (yield* Authenticator.Authenticator).backend(backend.name)
      const { strategy, transport } = running
      const respond = Authenticator.loginResponse(running)
      const answer = SignIn.respond(running)
      return handlers
        .handle("login", ({ payload }) =>
          Effect.gen(function* () {
            // Login CSRF: another site's form would sign the browser into the attacker's account.
            if (transport.crossSite(yield* HttpServerRequest.HttpServerRequest)) return csrfRejectedResponse
            const client = yield* clientOf
            // A device token for this account makes the client a known device: its attempts count under it alone.
            let device: string | undefined
            for (const presented of running.device?.read(yield* HttpServerRequest.HttpServerRequest) ?? []) {
              device = Option.getOrUndefined(yield* devices.verify(presented, payload.username))
              if (device !== undefined) break
            }
            const failure = { backend: backend.name, method: "password", username: payload.username, client } as const
            // Refused before the lookup and the hash: a throttled guess costs nothing, known e-mail or not.
            const attempt = yield* throttle
              .login(payload.username, client.address, device)
              .pipe(Effect.tapError(() => login.failed({ ...failure, reason: "throttled" })))
            // An inactive user's right password is a failed attempt: answered as a wrong one, counted as one.
            const user = yield* Throttle.checked(
              attempt,
              users.authenticate(payload).pipe(
                Effect.tapError(() => login.failed({ ...failure, reason: "badCredentials" })),
                Effect.mapError((error) => LoginErrors.body(error)),
                Effect.filterOrElse(
                  (user) => user.isActive,
                  (user) =>
                    Effect.zipRight(
                      login.failed({ ...failure, reason: "inactive", userId: String(user.id) }),
                      LoginErrors.fail("UserInactive")
                    )
                )
              )
            )
            const outcome = yield* login
              .start({ user, backend: backend.name, method: "password", client, respond, device })
              .pipe(Effect.mapError((error) => LoginErrors.body(error)))
            return answer(outcome)
          }).pipe(Effect.catchIf(isThrottled, throttledResponse))
        )
        .handle("loginMfa", ({ payload }) =>
          Effect.gen(function* () {
            if (transport.crossSite(yield* HttpServerRequest.HttpServerRequest)) return csrfRejectedResponse
            const client = yield* clientOf
            yield* throttle.route("login", client.address)
            const proof = SignIn.proofOf(payload)
            if (Option.isNone(proof)) return yield* LoginMfaErrors.fail("MfaBadCode")
            const pending = yield* login
              .pending(backend.name, payload.mfa_token)
              .pipe(Effect.mapError((error) => LoginMfaErrors.body(error)))
            // Wrong codes count on the account's (or the device's) second-factor throttle, apart from passwords.
            const attempt = yield* throttle.secondFactor(pending.user.email, client.address, pending.challenge.device)
            const outcome = yield* Throttle.checked(
              attempt,
              login.finish({ pending, proof: proof.value, client, respond })
            ).pipe(Effect.mapError((error) => LoginMfaErrors.body(error)))
            return answer(outcome)
          }).pipe(Effect.catchIf(isThrottled, throttledResponse))
        )
        .handle("logout", () =>
          Effect.gen(function* () {
            const user = yield* CurrentUser
            const request = yield* HttpServerRequest.HttpServerRequest
            const token = transport.read(request)
            if (Option.isSome(token)) {
              const family = strategy.familyOf === undefined ? Option.none() : yield* strategy.familyOf(token.value)
              yield* strategy.destroy(token.value, user)
              yield* events.emit(
                (common) =>
                  new AuthEvents.LoggedOut({
                    ...common,
                    userId: String(user.id),
                    backend: backend.name,
                    ...(Option.isSome(family) ? { sessionId: family.value } : {})
                  })
              )
            }
            return transport.logoutResponse()
          })
        )
    })
  )

/** The refresh handler of a backend with refresh tokens: `Login` continues the session. */
export const layerRefresh = (api: ErasedApi, { limited }: Tools, backend: AuthBackend.Any) =>
  HttpApiBuilder.group(api, `refresh.${backend.name}`, (handlers) =>
    Effect.gen(function* () {
      const login = yield* Login.Login
      const respond = Authenticator.loginResponse((yield* Authenticator.Authenticator).backend(backend.name))
      return handlers.handle("refresh", ({ payload }) =>
        login.refresh(backend.name, payload.refresh_token).pipe(
          Effect.map(respond),
          Effect.mapError((error) => RefreshErrors.body(error)),
          limited("refresh")
        )
      )
    })
  )

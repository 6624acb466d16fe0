/**
 * Passkeys: WebAuthn credentials as a way to sign in, verified with `@simplewebauthn/server` (loaded when the layer
 * is built). The relying party ID and the origins allowed to speak for it are configuration; every ceremony's
 * challenge is random, kept server-side (`PasskeyStore`) for `challengeLifetime` (5 minutes) and taken once.
 *
 * - Registration: `registrationOptions` (resident key required, user verification preferred, attestation `none`,
 *   the user's credentials excluded), then `register` with the authenticator's response.
 * - Usernameless sign-in: `signInOptions` hands out a challenge under a `challengeToken`; `signIn` takes it and
 *   verifies the assertion of whichever credential answered, with user verification required.
 * - `verifyAssertion` checks an assertion for a known credential and challenge.
 * - A passkey as a second factor: `assertionOptions` hands a known user request options for their own passkeys,
 *   the challenge bound to what it is for (a pending login, a step-up), and `verifyBound` takes it back once.
 *   `factor` is the `webauthn` `SecondFactor.Factor` built on them, registered by `layerFactor`.
 *
 * The signature counter is stored; a sign-in whose counter does not move forward (a cloned authenticator, or the
 * same assertion twice) is refused and emits `PasskeyCounterRegressed`.
 *
 * @since 0.3.0
 */
import { randomBytes } from "node:crypto"
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AuthEvents from "./AuthEvents.js"
import { type Configurable, resolveConfigurable } from "./AuthStrategy.js"
import { unwrap } from "./internal/config.js"
import { Mail } from "./Mail.js"
import { type Credential, PasskeyStore } from "./PasskeyStore.js"
import * as SecondFactor from "./SecondFactor.js"
import type { User } from "./User.js"
import { UserRepository } from "./UserRepository.js"

const B64 = Schema.String.pipe(Schema.maxLength(16_384), Schema.pattern(/^[A-Za-z0-9_-]*={0,2}$/))
const Short = Schema.String.pipe(Schema.maxLength(64))

/**
 * A `RegistrationResponseJSON` (WebAuthn's JSON form of a new credential), as far as it is read.
 *
 * @since 0.3.0
 */
export const RegistrationResponse = Schema.Struct({
  id: B64,
  rawId: B64,
  type: Schema.Literal("public-key"),
  response: Schema.Struct({
    clientDataJSON: B64,
    attestationObject: B64,
    authenticatorData: Schema.optional(B64),
    transports: Schema.optional(Schema.Array(Short).pipe(Schema.maxItems(16))),
    publicKeyAlgorithm: Schema.optional(Schema.Number),
    publicKey: Schema.optional(B64)
  }),
  authenticatorAttachment: Schema.optional(Short),
  clientExtensionResults: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
    default: () => ({})
  })
}).annotations({ identifier: "RegistrationResponseJSON" })

/**
 * A `RegistrationResponseJSON`.
 *
 * @since 0.3.0
 */
export type RegistrationResponse = typeof RegistrationResponse.Type

/**
 * An `AuthenticationResponseJSON` (WebAuthn's JSON form of an assertion), as far as it is read.
 *
 * @since 0.3.0
 */
export const AuthenticationResponse = Schema.Struct({
  id: B64,
  rawId: B64,
  type: Schema.Literal("public-key"),
  response: Schema.Struct({
    clientDataJSON: B64,
    authenticatorData: B64,
    signature: B64,
    userHandle: Schema.optional(B64)
  }),
  authenticatorAttachment: Schema.optional(Short),
  clientExtensionResults: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
    default: () => ({})
  })
}).annotations({ identifier: "AuthenticationResponseJSON" })

/**
 * An `AuthenticationResponseJSON`.
 *
 * @since 0.3.0
 */
export type AuthenticationResponse = typeof AuthenticationResponse.Type

/**
 * WebAuthn's `PublicKeyCredentialCreationOptionsJSON` and `PublicKeyCredentialRequestOptionsJSON`, passed through
 * to the browser as `@simplewebauthn/server` makes them.
 *
 * @since 0.3.0
 */
export type OptionsJSON = Readonly<Record<string, unknown>>

/**
 * A passkey ceremony failed: wrong origin, RP ID, challenge (unknown, spent, expired, another user's), signature,
 * user verification, an unknown credential or a counter gone backwards. `reason` is for logs, never for clients.
 *
 * @since 0.3.0
 */
export class PasskeyInvalid extends Schema.TaggedError<PasskeyInvalid>()("PasskeyInvalid", {
  reason: Schema.String
}) {}

/**
 * The user has no passkey with this ID.
 *
 * @since 0.3.0
 */
export class PasskeyNotFound extends Schema.TaggedError<PasskeyNotFound>()("PasskeyNotFound", {}) {}

/**
 * Removing this passkey would leave the user no way to sign in (no password of their own, no linked account, no
 * other passkey).
 *
 * @since 0.3.0
 */
export class PasskeyLastLoginMethod extends Schema.TaggedError<PasskeyLastLoginMethod>()(
  "PasskeyLastLoginMethod",
  {}
) {}

/**
 * A usernameless sign-in's options and the token that names their challenge.
 *
 * @since 0.3.0
 */
export interface SignInOptions {
  readonly options: OptionsJSON
  readonly challengeToken: string
}

/**
 * A verified assertion: the credential as it is now stored (counter and last use moved), and whether the
 * authenticator verified the user (PIN, biometrics).
 *
 * @since 0.3.0
 */
export interface Asserted {
  readonly credential: Credential
  readonly userVerified: boolean
}

/**
 * The passkeys of users.
 *
 * @since 0.3.0
 */
export interface PasskeysService {
  /** The creation options for a new passkey of the user; keeps their challenge. */
  readonly registrationOptions: (user: User) => Effect.Effect<OptionsJSON>
  /** Verifies the authenticator's response to the user's registration challenge and stores the credential. */
  readonly register: (
    user: User,
    response: RegistrationResponse,
    name?: string | undefined
  ) => Effect.Effect<Credential, PasskeyInvalid>
  /** The user's passkeys, oldest first. */
  readonly list: (user: User) => Effect.Effect<ReadonlyArray<Credential>>
  /** Renames one of the user's passkeys. */
  readonly rename: (user: User, id: string, name: string) => Effect.Effect<Credential, PasskeyNotFound>
  /** Removes one of the user's passkeys, unless it is their last way to sign in. */
  readonly remove: (user: User, id: string) => Effect.Effect<Credential, PasskeyNotFound | PasskeyLastLoginMethod>
  /** Options for a usernameless sign-in (no credentials listed; user verification required). */
  readonly signInOptions: Effect.Effect<SignInOptions>
  /**
   * Takes the challenge of `challengeToken` and verifies the assertion of the credential that answered, with user
   * verification required. The credential's user is `credential.userId`; their state is the caller's to check.
   */
  readonly signIn: (challengeToken: string, response: AuthenticationResponse) => Effect.Effect<Asserted, PasskeyInvalid>
  /**
   * Verifies an assertion against a challenge already taken: the credential must exist (and belong to `userId` when
   * given), origin, RP ID, signature and user verification (when `requireUserVerification`) must hold, and the
   * counter must move forward (else `PasskeyCounterRegressed` is emitted). Records the use.
   */
  readonly verifyAssertion: (options: {
    readonly challenge: string
    readonly response: AuthenticationResponse
    readonly userId?: string | undefined
    readonly requireUserVerification: boolean
  }) => Effect.Effect<Asserted, PasskeyInvalid>
  /**
   * Request options for a known user's own passkeys (user verification preferred), the challenge kept for
   * `challengeLifetime` under `binding` (what it may be used for: a pending login, a step-up) and the user.
   *
   * @since 0.3.0
   */
  readonly assertionOptions: (userId: string, binding: string) => Effect.Effect<OptionsJSON>
  /**
   * Takes the challenge the assertion answers, if it was issued by `assertionOptions` for this user and binding
   * (once: of concurrent uses, one gets it), and verifies the assertion of one of the user's passkeys.
   *
   * @since 0.3.0
   */
  readonly verifyBound: (
    userId: string,
    binding: string,
    response: AuthenticationResponse
  ) => Effect.Effect<Asserted, PasskeyInvalid>
  /**
   * Whether the user has a passkey.
   *
   * @since 0.3.0
   */
  readonly hasPasskey: (userId: string) => Effect.Effect<boolean>
}

/**
 * The passkeys service.
 *
 * @since 0.3.0
 */
export class Passkeys extends Context.Tag("effect-users/Passkeys")<Passkeys, PasskeysService>() {}

/**
 * The relying party and the ceremonies' settings.
 *
 * @since 0.3.0
 */
export interface Options {
  /** The relying party ID: the site's registrable domain or a host under it (`example.com`), no scheme or port. */
  readonly rpId: Configurable<string>
  /** The origins allowed to speak for it (`https://example.com`, `http://localhost:8000` in development). */
  readonly origins: Configurable<ReadonlyArray<string>>
  /** The name authenticators show; default the RP ID. */
  readonly rpName?: Configurable<string> | undefined
  /** How long a challenge is kept; default 5 minutes. */
  readonly challengeLifetime?: Duration.DurationInput | undefined
}

/**
 * The longest passkey name kept.
 *
 * @since 0.3.0
 */
export const maxNameLength = 100

/**
 * How the notice mails of `Mail.signInMethod` name a passkey.
 *
 * @since 0.3.0
 */
export const passkeyMethodText = (name: string): string => `the passkey "${name}"`

const challengeKey = () => randomBytes(32).toString("base64url")
const boundKey = (binding: string, challenge: string) => `bound:${binding}:${challenge}`

/**
 * Builds the service over the `PasskeyStore` and `UserRepository` in context.
 *
 * @since 0.3.0
 */
export const make = (
  options: Options
): Effect.Effect<PasskeysService, ConfigError.ConfigError, PasskeyStore | UserRepository> =>
  Effect.gen(function* () {
    const store = yield* PasskeyStore
    const repository = yield* UserRepository
    const events = yield* AuthEvents.AuthEvents
    const rpId = yield* resolveConfigurable(options.rpId)
    const origins = [...(yield* resolveConfigurable(options.origins))]
    const rpName = options.rpName === undefined ? rpId : yield* resolveConfigurable(options.rpName)
    const lifetime = Duration.toMillis(options.challengeLifetime ?? "5 minutes")
    const timeout = Math.min(lifetime, 300_000)
    // Loaded here, not at import: an app without passkeys never loads it.
    const webauthn = yield* Effect.promise(() => import("@simplewebauthn/server"))
    const invalid = (reason: string) => new PasskeyInvalid({ reason })
    // With `Mail` in context, adding or removing a passkey mails the user a notice, in the transaction of the change.
    const mail = Option.getOrUndefined(yield* Effect.serviceOption(Mail))
    const noticed = <A, E>(
      user: User,
      name: string,
      change: Effect.Effect<A, E>,
      added: boolean,
      done: (a: A) => boolean
    ) =>
      mail === undefined
        ? change
        : mail.transaction(
            Effect.tap(change, (a) => (done(a) ? mail.signInMethod(user, passkeyMethodText(name), added) : Effect.void))
          )
    const attempt = <A>(reason: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (error) => invalid(`${reason}: ${error instanceof Error ? error.message : String(error)}`)
      })
    const keep = (key: string, challenge: string, purpose: "registration" | "authentication", userId: string | null) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        store.putChallenge(key, { challenge, purpose, userId, expiresAt: now + lifetime })
      )
    const challengeOf = (clientDataJSON: string) =>
      Effect.try({
        try: () => {
          const parsed: unknown = JSON.parse(Buffer.from(clientDataJSON, "base64url").toString("utf8"))
          const challenge = (parsed as { challenge?: unknown }).challenge
          if (typeof challenge !== "string" || challenge === "") throw new Error("no challenge")
          return challenge
        },
        catch: () => invalid("clientDataJSON unreadable")
      })

    const registrationOptions = (user: User) =>
      Effect.gen(function* () {
        const existing = yield* store.listOf(String(user.id))
        const created = yield* Effect.promise(() =>
          webauthn.generateRegistrationOptions({
            rpName,
            rpID: rpId,
            userName: user.email,
            userID: new TextEncoder().encode(String(user.id)),
            timeout,
            attestationType: "none",
            excludeCredentials: existing.map((credential) => ({
              id: credential.id,
              transports: [...credential.transports]
            })),
            authenticatorSelection: { residentKey: "required", userVerification: "preferred" }
          })
        )
        // The challenge itself names it: the response carries it back in clientDataJSON.
        yield* keep(created.challenge, created.challenge, "registration", String(user.id))
        // WebAuthn's JSON form, passed through as the library made it (an interface has no index signature).
        return created as unknown as OptionsJSON
      }).pipe(Effect.withSpan("Passkeys.registrationOptions"))

    const register = (user: User, response: RegistrationResponse, name?: string | undefined) =>
      Effect.gen(function* () {
        const sent = yield* challengeOf(response.response.clientDataJSON)
        const kept = yield* store.takeChallenge(sent)
        if (
          Option.isNone(kept) ||
          kept.value.purpose !== "registration" ||
          kept.value.userId !== String(user.id) ||
          kept.value.challenge !== sent
        ) {
          return yield* invalid("challenge unknown, spent, expired or not this user's")
        }
        const verified = yield* attempt("registration", () =>
          webauthn.verifyRegistrationResponse({
            // The schema checked what is read; the library reads the rest of WebAuthn's JSON form.
            response: response as unknown as Parameters<typeof webauthn.verifyRegistrationResponse>[0]["response"],
            expectedChallenge: kept.value.challenge,
            expectedOrigin: origins,
            expectedRPID: rpId,
            requireUserVerification: false
          })
        )
        if (!verified.verified) return yield* invalid("registration not verified")
        const info = verified.registrationInfo
        const now = new Date(yield* Clock.currentTimeMillis)
        const credential: Credential = {
          id: info.credential.id,
          userId: String(user.id),
          publicKey: Buffer.from(info.credential.publicKey).toString("base64url"),
          counter: info.credential.counter,
          transports: info.credential.transports ?? response.response.transports ?? [],
          deviceType: info.credentialDeviceType,
          backedUp: info.credentialBackedUp,
          name: (name ?? "").trim().slice(0, maxNameLength) || "Passkey",
          createdAt: now,
          lastUsedAt: null
        }
        const stored = noticed(user, credential.name, store.add(credential), true, (added) => added)
        if (!(yield* stored)) return yield* invalid("credential registered already")
        yield* events.emit(
          (common) => new AuthEvents.PasskeyAdded({ ...common, userId: String(user.id), credentialId: credential.id })
        )
        return credential
      }).pipe(Effect.withSpan("Passkeys.register"))

    const verifyAssertion = (input: {
      readonly challenge: string
      readonly response: AuthenticationResponse
      readonly userId?: string | undefined
      readonly requireUserVerification: boolean
    }) =>
      Effect.gen(function* () {
        const { response } = input
        const found = yield* store.find(response.id)
        if (Option.isNone(found)) return yield* invalid("unknown credential")
        const stored = found.value
        if (input.userId !== undefined && stored.userId !== input.userId)
          return yield* invalid("another user's credential")
        const handle = response.response.userHandle
        if (
          handle !== undefined &&
          handle !== "" &&
          Buffer.from(handle, "base64url").toString("utf8") !== stored.userId
        ) {
          return yield* invalid("user handle does not match the credential")
        }
        const verified = yield* attempt("assertion", () =>
          webauthn.verifyAuthenticationResponse({
            // The schema checked what is read; the library reads the rest of WebAuthn's JSON form.
            response: response as unknown as Parameters<typeof webauthn.verifyAuthenticationResponse>[0]["response"],
            expectedChallenge: input.challenge,
            expectedOrigin: origins,
            expectedRPID: rpId,
            // The counter is checked below, atomically with the write, so that concurrent uses cannot both pass.
            credential: {
              id: stored.id,
              publicKey: new Uint8Array(Buffer.from(stored.publicKey, "base64url")),
              counter: 0,
              transports: [...stored.transports]
            },
            requireUserVerification: input.requireUserVerification
          })
        )
        if (!verified.verified) return yield* invalid("assertion not verified")
        const info = verified.authenticationInfo
        const now = new Date(yield* Clock.currentTimeMillis)
        if (!(yield* store.recordUse(stored.id, info.newCounter, now))) {
          yield* events.emit(
            (common) =>
              new AuthEvents.PasskeyCounterRegressed({
                ...common,
                userId: stored.userId,
                credentialId: stored.id,
                storedCounter: stored.counter,
                presentedCounter: info.newCounter
              })
          )
          return yield* invalid("signature counter did not move forward")
        }
        return {
          credential: { ...stored, counter: info.newCounter, lastUsedAt: now },
          userVerified: info.userVerified
        }
      }).pipe(Effect.withSpan("Passkeys.verifyAssertion"))

    const signInOptions = Effect.gen(function* () {
      const options = yield* Effect.promise(() =>
        webauthn.generateAuthenticationOptions({ rpID: rpId, timeout, userVerification: "required" })
      )
      const challengeToken = challengeKey()
      yield* keep(challengeToken, options.challenge, "authentication", null)
      // WebAuthn's JSON form, passed through as the library made it (an interface has no index signature).
      return { options: options as unknown as OptionsJSON, challengeToken }
    }).pipe(Effect.withSpan("Passkeys.signInOptions"))

    const signIn = (challengeToken: string, response: AuthenticationResponse) =>
      Effect.gen(function* () {
        const kept = yield* store.takeChallenge(challengeToken)
        if (Option.isNone(kept) || kept.value.purpose !== "authentication" || kept.value.userId !== null) {
          return yield* invalid("challenge unknown, spent or expired")
        }
        return yield* verifyAssertion({ challenge: kept.value.challenge, response, requireUserVerification: true })
      }).pipe(Effect.withSpan("Passkeys.signIn"))

    const assertionOptions = (userId: string, binding: string) =>
      Effect.gen(function* () {
        const owned = yield* store.listOf(userId)
        const options = yield* Effect.promise(() =>
          webauthn.generateAuthenticationOptions({
            rpID: rpId,
            timeout,
            userVerification: "preferred",
            allowCredentials: owned.map((credential) => ({ id: credential.id, transports: [...credential.transports] }))
          })
        )
        yield* keep(boundKey(binding, options.challenge), options.challenge, "authentication", userId)
        // WebAuthn's JSON form, passed through as the library made it (an interface has no index signature).
        return options as unknown as OptionsJSON
      }).pipe(Effect.withSpan("Passkeys.assertionOptions"))

    const verifyBound = (userId: string, binding: string, response: AuthenticationResponse) =>
      Effect.gen(function* () {
        const sent = yield* challengeOf(response.response.clientDataJSON)
        const kept = yield* store.takeChallenge(boundKey(binding, sent))
        if (
          Option.isNone(kept) ||
          kept.value.purpose !== "authentication" ||
          kept.value.userId !== userId ||
          kept.value.challenge !== sent
        ) {
          return yield* invalid("challenge unknown, spent, expired, or not issued for this user and purpose")
        }
        // The other factor was proven already (the password): the key's presence is this one.
        return yield* verifyAssertion({ challenge: sent, response, userId, requireUserVerification: false })
      }).pipe(Effect.withSpan("Passkeys.verifyBound"))

    const remove = (user: User, id: string) =>
      Effect.gen(function* () {
        const found = yield* store.find(id)
        if (Option.isNone(found) || found.value.userId !== String(user.id)) return yield* new PasskeyNotFound()
        // Another way in: a password of their own or a linked account; else the store keeps their last passkey.
        const other = (yield* repository.hasOwnPassword(user)) || (yield* repository.oauthAccountsOf(user)).length > 0
        const removed = yield* noticed(
          user,
          found.value.name,
          store.remove(String(user.id), id, !other),
          false,
          (result) => result !== "notFound" && result !== "last"
        )
        if (removed === "notFound") return yield* new PasskeyNotFound()
        if (removed === "last") return yield* new PasskeyLastLoginMethod()
        yield* events.emit(
          (common) => new AuthEvents.PasskeyRemoved({ ...common, userId: String(user.id), credentialId: id })
        )
        return found.value
      }).pipe(Effect.withSpan("Passkeys.remove"))

    return Passkeys.of({
      registrationOptions,
      register,
      list: (user) => store.listOf(String(user.id)),
      rename: (user, id, name) =>
        store
          .rename(String(user.id), id, name.trim().slice(0, maxNameLength) || "Passkey")
          .pipe(
            Effect.flatMap(Option.match({ onNone: () => Effect.fail(new PasskeyNotFound()), onSome: Effect.succeed }))
          ),
      remove,
      signInOptions,
      signIn,
      verifyAssertion,
      assertionOptions,
      verifyBound,
      hasPasskey: (userId) => Effect.map(store.listOf(userId), (owned) => owned.length > 0)
    })
  })

/**
 * The passkeys service over the `PasskeyStore` and `UserRepository` in context.
 *
 * @since 0.3.0
 */
export const layer = (
  options: Options
): Layer.Layer<Passkeys, ConfigError.ConfigError, PasskeyStore | UserRepository> =>
  Layer.effect(Passkeys, make(options))

/**
 * `layer` with its options read through `Config`, e.g. `{ rpId: Config.string("USERS_WEBAUTHN_RP_ID"), origins:
 * Config.array(Config.string(), "USERS_WEBAUTHN_ORIGINS") }`.
 *
 * @since 0.3.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<Passkeys, ConfigError.ConfigError, PasskeyStore | UserRepository> =>
  Layer.effect(Passkeys, Effect.flatMap(unwrap(config), make))

/**
 * What a `webauthn` proof's challenge is bound to: the pending login of an `mfa_token` (its digest, the proof
 * context's `challenge`), or a step-up of the user (no context).
 *
 * @since 0.3.0
 */
export const bindingOf = (context: SecondFactor.ProofContext): string =>
  context.challenge === undefined ? "step-up" : `mfa:${context.challenge}`

const decodeAssertion = Schema.decodeUnknownOption(AuthenticationResponse)

/**
 * A passkey as a second factor (`webauthn`): a user with a passkey has it; a proof is an `AuthenticationResponse`
 * to a challenge of `assertionOptions` bound to the pending login (or the step-up) it finishes; it adds `amr`
 * `hwk`. Removing the factor (an admin's reset) removes the user's passkeys.
 *
 * @since 0.3.0
 */
export const factor: Effect.Effect<SecondFactor.Factor, never, Passkeys | PasskeyStore> = Effect.gen(function* () {
  const passkeys = yield* Passkeys
  const store = yield* PasskeyStore
  return {
    method: "webauthn",
    amr: ["hwk"],
    enrolled: (userId) => passkeys.hasPasskey(userId),
    verify: (userId, value, context) =>
      Option.match(decodeAssertion(value), {
        onNone: () => Effect.succeed(false),
        onSome: (response) =>
          passkeys.verifyBound(userId, bindingOf(context), response).pipe(
            Effect.as(true),
            Effect.catchTag("PasskeyInvalid", () => Effect.succeed(false))
          )
      }),
    remove: (userId) => store.removeAllOf(userId)
  }
})

/**
 * Registers `factor` with the `SecondFactor` in context for the layer's lifetime: from then on a user with a
 * passkey is asked for it after a password (`webauthn` in `LOGIN_MFA_REQUIRED`'s methods), and it counts for
 * step-up and the password policy. Without second factors (`SecondFactor.disabled`) it registers nothing.
 *
 * @since 0.3.0
 */
export const layerFactor: Layer.Layer<never, never, Passkeys | PasskeyStore | SecondFactor.SecondFactor> =
  Layer.unwrapEffect(
    Effect.map(SecondFactor.SecondFactor, (service) =>
      service.enabled ? SecondFactor.layerFactor(factor) : Layer.empty
    )
  )

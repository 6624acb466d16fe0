/**
 * Second factors: which a user has, the check of a proof, TOTP enrolment, recovery codes, and the pending
 * two-step logins (`mfa_token`s) that `Login` issues and redeems.
 *
 * A factor is a `Factor`: a method name (`totp`, `recovery_code`; `webauthn` with `Passkeys.layerFactor`), the `amr` values a
 * proof of it adds (RFC 8176), whether the user has it, and the check of a proof, which spends what it accepts (a
 * TOTP time step, a recovery code). `layer` registers TOTP and recovery codes; another factor is one more
 * `layerFactor(...)`, and from then on it is offered at login, counts for step-up and for the password policy.
 * Recovery codes are a backup: offered, and counted, only beside a factor of their own kind.
 *
 * TOTP follows RFC 6238 as authenticator apps read it (SHA-1, 6 digits, 30 s, a 160-bit base32 secret); a code is
 * accepted within one step either side, and only for a step later than the last accepted one (stored atomically:
 * a code works once). Secrets are sealed with AES-256-GCM under `encryptionKey`. Recovery codes carry 80 random
 * bits each and are stored as SHA-256 digests bound to their user.
 *
 * Without `layer` the `SecondFactor` in context is `disabled`: nobody has a factor, and logins never ask for one.
 *
 * @since 0.3.0
 */
import { createHash, randomBytes } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as OTPAuth from "otpauth"
import * as AuthEvents from "./AuthEvents.js"
import { type Configurable, resolveConfigurable } from "./AuthStrategy.js"
import * as TokenCipher from "./internal/tokenCipher.js"
import { Mail } from "./Mail.js"
import { type Challenge, SecondFactorStore } from "./SecondFactorStore.js"
import type { BaseUser } from "./User.js"

/**
 * A code (TOTP or recovery) that is wrong, replayed or already used.
 *
 * @since 0.3.0
 */
export class MfaBadCode extends Schema.TaggedError<MfaBadCode>()("MfaBadCode", {}) {}

/**
 * A TOTP confirmation with no enrolment pending.
 *
 * @since 0.3.0
 */
export class MfaNotPending extends Schema.TaggedError<MfaNotPending>()("MfaNotPending", {}) {}

/**
 * An `mfa_token` that is unknown, expired, spent, dead after too many wrong codes, or of another backend.
 *
 * @since 0.3.0
 */
export class MfaTokenInvalid extends Schema.TaggedError<MfaTokenInvalid>()("MfaTokenInvalid", {}) {}

/**
 * A step-up without a second-factor proof, for a user who has a factor.
 *
 * @since 0.3.0
 */
export class MfaCodeRequired extends Schema.TaggedError<MfaCodeRequired>()("MfaCodeRequired", {}) {}

/**
 * A proof of a second factor: the factor's method and what the client sent for it (a code as
 * `Redacted<string>`; a WebAuthn response as its JSON).
 *
 * @since 0.3.0
 */
export interface Proof {
  readonly method: string
  readonly value: unknown
}

/**
 * Where a proof is checked: the pending login it finishes (its token's digest), when it finishes one.
 *
 * @since 0.3.0
 */
export interface ProofContext {
  readonly challenge?: string | undefined
}

/**
 * One kind of second factor.
 *
 * @since 0.3.0
 */
export interface Factor {
  /** Its name in `LOGIN_MFA_REQUIRED`'s `methods` and in a `Proof`. */
  readonly method: string
  /** The `amr` values (RFC 8176) a proof of it adds to a session. */
  readonly amr: ReadonlyArray<string>
  /** A backup of the others (recovery codes): offered and counted only beside a factor that is not one. */
  readonly backup?: boolean | undefined
  /** Whether the user has this factor. */
  readonly enrolled: (userId: string) => Effect.Effect<boolean>
  /** Checks a proof and spends what it accepts; `false` for a wrong, replayed or malformed one. */
  readonly verify: (userId: string, value: unknown, context: ProofContext) => Effect.Effect<boolean>
  /** Removes the factor from the user (an admin's reset, a deletion). */
  readonly remove: (userId: string) => Effect.Effect<void>
}

/**
 * A TOTP enrolment to confirm: the secret (base32) and the `otpauth://` URI authenticator apps read.
 *
 * @since 0.3.0
 */
export interface Enrolment {
  readonly secret: Redacted.Redacted<string>
  readonly uri: Redacted.Redacted<string>
}

/**
 * What `GET /users/me/mfa` shows.
 *
 * @since 0.3.0
 */
export interface Status {
  readonly totp: boolean
  readonly recoveryCodesLeft: number
}

/**
 * A pending login to store: everything of `SecondFactorStore.Challenge` but its expiry and failures.
 *
 * @since 0.3.0
 */
export type NewChallenge = Omit<Challenge, "expiresAt" | "failures">

/**
 * Second factors.
 *
 * @since 0.3.0
 */
export interface SecondFactorService {
  /** Whether second factors are on (`layer`); the `disabled` default knows no factor. */
  readonly enabled: boolean
  /** Adds a factor until the scope closes (`layerFactor`). */
  readonly register: (factor: Factor) => Effect.Effect<void, never, Scope.Scope>
  /** The methods the user can prove, in registration order; empty for a user without a factor. */
  readonly methodsOf: (userId: string) => Effect.Effect<ReadonlyArray<string>>
  /** Whether the user has a second factor (a backup alone is none). */
  readonly hasFactor: (userId: string) => Effect.Effect<boolean>
  /**
   * Checks a proof of one of the user's factors and spends it: the `amr` values it adds, or `None` for a wrong,
   * replayed or used proof, or a method the user does not have.
   */
  readonly verify: (
    userId: string,
    proof: Proof,
    context?: ProofContext | undefined
  ) => Effect.Effect<Option.Option<ReadonlyArray<string>>>
  /** Stores a pending login and returns its token (opaque, 256 random bits; only its digest is stored). */
  readonly issue: (challenge: NewChallenge) => Effect.Effect<string>
  /** The pending login of a token, if it is alive (known, unspent, not expired): with its digest. */
  readonly pending: (
    token: string
  ) => Effect.Effect<Option.Option<{ readonly digest: string; readonly challenge: Challenge }>>
  /** Counts a wrong proof on a pending login (it dies at `maxFailures`); whether it still lives. */
  readonly fail: (digest: string) => Effect.Effect<boolean>
  /** Spends a pending login: `true` for exactly one of concurrent calls. */
  readonly spend: (digest: string) => Effect.Effect<boolean>
  /** Starts (or restarts) a TOTP enrolment: a new secret, pending until `confirmTotp`. */
  readonly beginTotp: (user: BaseUser) => Effect.Effect<Enrolment>
  /**
   * Confirms the pending TOTP with a code of it: TOTP is on, and the new recovery codes are returned (shown once).
   */
  readonly confirmTotp: (
    user: BaseUser,
    code: Redacted.Redacted<string>
  ) => Effect.Effect<ReadonlyArray<Redacted.Redacted<string>>, MfaBadCode | MfaNotPending>
  /** Turns TOTP off (its recovery codes go with it); whether it was on. */
  readonly disableTotp: (user: BaseUser) => Effect.Effect<boolean>
  /** New recovery codes (the old ones die), shown once. */
  readonly regenerateRecoveryCodes: (user: BaseUser) => Effect.Effect<ReadonlyArray<Redacted.Redacted<string>>>
  /** Whether the user has TOTP on, and how many recovery codes they have left. */
  readonly status: (userId: string) => Effect.Effect<Status>
  /** Removes every factor of the user and their pending logins (an admin's reset, a deletion). */
  readonly reset: (userId: string) => Effect.Effect<void>
}

/**
 * The second factors in use; `disabled` unless `layer` provides them.
 *
 * @since 0.3.0
 */
export class SecondFactor extends Context.Reference<SecondFactor>()("effect-users/SecondFactor", {
  defaultValue: (): SecondFactorService => disabled
}) {}

const off = Effect.dieMessage("SecondFactor: second factors are off (provide SecondFactor.layer)")

/**
 * No second factors: nobody has one, a login never asks for one, and enrolment dies.
 *
 * @since 0.3.0
 */
export const disabled: SecondFactorService = {
  enabled: false,
  register: () => off,
  methodsOf: () => Effect.succeed([]),
  hasFactor: () => Effect.succeed(false),
  verify: () => Effect.succeedNone,
  issue: () => off,
  pending: () => Effect.succeedNone,
  fail: () => Effect.succeed(false),
  spend: () => Effect.succeed(false),
  beginTotp: () => off,
  confirmTotp: () => off,
  disableTotp: () => Effect.succeed(false),
  regenerateRecoveryCodes: () => off,
  status: () => Effect.succeed({ totp: false, recoveryCodesLeft: 0 }),
  reset: () => Effect.void
}

/**
 * Options of `layer`.
 *
 * @since 0.3.0
 */
export interface Options {
  /** Seals TOTP secrets (AES-256-GCM, key derived by HKDF): at least 32 bytes, else the layer fails. */
  readonly encryptionKey: Configurable<Redacted.Redacted<string>>
  /** The issuer authenticator apps show beside the account; default "effect-users". */
  readonly issuer?: string | undefined
  /** How long an `mfa_token` lives; default 5 minutes. */
  readonly challengeLifetime?: Duration.DurationInput | undefined
  /** Wrong codes an `mfa_token` survives, at most; default 5 (the fifth kills it). */
  readonly maxFailures?: number | undefined
  /** How often expired `mfa_token`s are purged while the layer lives; default 10 minutes. */
  readonly purgeInterval?: Duration.DurationInput | undefined
}

/**
 * How the notice mails of `Mail.signInMethod` name TOTP.
 *
 * @since 0.3.0
 */
export const totpMethodText = "two-step sign-in with an authenticator app"

/**
 * How the notice mail of an admin's reset (`DELETE /users/{id}/mfa`) names what it removed.
 *
 * @since 0.3.0
 */
export const resetMethodText = "two-step sign-in (every second factor, reset by an administrator)"

/** TOTP's parameters: what every authenticator app reads. */
const period = 30
const digits = 6

/**
 * How many recovery codes a user gets.
 *
 * @since 0.3.0
 */
export const recoveryCodeCount = 10

const base32 = "abcdefghijklmnopqrstuvwxyz234567"
/** 80 random bits as 16 base32 characters, shown in groups of four: `abcd-efgh-ijkl-mnop`. */
const newRecoveryCode = () => {
  const bytes = randomBytes(10)
  let bits = 0n
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte)
  let text = ""
  for (let index = 15; index >= 0; index--) text += base32[Number((bits >> BigInt(index * 5)) & 31n)]
  return text.match(/.{4}/g)!.join("-")
}
/** A code as typed: case, spaces and dashes do not matter. */
const normalizeCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, "")
// 80 random bits make an unsalted fast hash enough; the user's ID keeps two users' equal codes apart.
const recoveryDigest = (userId: string, code: string) =>
  createHash("sha256")
    .update(`effect-users:recovery:${userId}:${normalizeCode(code)}`)
    .digest("base64url")
const tokenDigest = (token: string) => createHash("sha256").update(token).digest("base64url")
const wellFormedToken = /^[A-Za-z0-9_-]{43}$/
const wellFormedTotp = /^\d{6}$/

const codeOf = (value: unknown): Option.Option<string> => {
  const plain = Redacted.isRedacted(value) ? Redacted.value(value) : value
  return typeof plain === "string" ? Option.some(plain) : Option.none()
}

/**
 * Builds the second factors over the `SecondFactorStore` in context, with TOTP and recovery codes registered, and
 * purges expired pending logins every `purgeInterval` until the scope closes.
 *
 * @since 0.3.0
 */
export const make = (
  options: Options
): Effect.Effect<SecondFactorService, ConfigError.ConfigError, SecondFactorStore | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* SecondFactorStore
    const events = yield* AuthEvents.AuthEvents
    const key = yield* resolveConfigurable(options.encryptionKey)
    if (Buffer.byteLength(Redacted.value(key), "utf8") < 32) {
      return yield* Effect.fail(
        ConfigError.InvalidData(["encryptionKey"], "SecondFactor encryptionKey is too short: at least 32 bytes")
      )
    }
    const cipher = TokenCipher.make(key, "effect-users:mfa-totp")
    const issuer = options.issuer ?? "effect-users"
    const lifetime = Duration.toMillis(options.challengeLifetime ?? "5 minutes")
    const maxFailures = options.maxFailures ?? 5
    const factors: Array<Factor> = []
    const emitFor = (userId: string, make: (common: AuthEvents.Common) => AuthEvents.AuthEvent) =>
      events.emit((common) => make({ ...common, userId }))
    // With `Mail` in context, turning TOTP on or off mails the user a notice, in the transaction of the change.
    const mail = Option.getOrUndefined(yield* Effect.serviceOption(Mail))
    const noticed = <A, E>(user: BaseUser, change: Effect.Effect<A, E>, added: boolean, done: (a: A) => boolean) =>
      mail === undefined
        ? change
        : mail.transaction(
            Effect.tap(change, (a) => (done(a) ? mail.signInMethod(user, totpMethodText, added) : Effect.void))
          )

    const totpOf = (secret: string, label: string) =>
      new OTPAuth.TOTP({ issuer, label, algorithm: "SHA1", digits, period, secret: OTPAuth.Secret.fromBase32(secret) })
    /** The time step a code belongs to (one step either side of now at most), if it is a code of this secret. */
    const stepOf = (sealed: string, code: string) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (!wellFormedTotp.test(code)) return Option.none<number>()
        const secret = Option.liftThrowable(() => cipher.decrypt(sealed))()
        if (Option.isNone(secret)) return Option.none<number>()
        const delta = totpOf(secret.value, "").validate({ token: code, timestamp: now, window: 1 })
        return delta === null ? Option.none<number>() : Option.some(Math.floor(now / 1000 / period) + delta)
      })

    const newCodes = (userId: string) => {
      const codes = Array.from({ length: recoveryCodeCount }, newRecoveryCode)
      return {
        shown: codes.map((code) => Redacted.make(code)),
        digests: codes.map((code) => recoveryDigest(userId, code))
      }
    }

    const totpFactor: Factor = {
      method: "totp",
      amr: ["otp"],
      enrolled: (userId) =>
        Effect.map(store.totp(userId), (found) => Option.isSome(Option.flatMap(found, (totp) => totp.secret))),
      verify: (userId, value) =>
        Effect.gen(function* () {
          const code = codeOf(value)
          if (Option.isNone(code)) return false
          const found = Option.flatMap(yield* store.totp(userId), (totp) => totp.secret)
          if (Option.isNone(found)) return false
          const step = yield* stepOf(found.value, code.value)
          return Option.isSome(step) && (yield* store.acceptStep(userId, step.value))
        }),
      remove: (userId) => Effect.asVoid(store.removeTotp(userId))
    }

    const recoveryFactor: Factor = {
      method: "recovery_code",
      amr: ["otp"],
      backup: true,
      enrolled: (userId) => Effect.map(store.recoveryCodesLeft(userId), (left) => left > 0),
      verify: (userId, value) =>
        Effect.gen(function* () {
          const code = codeOf(value)
          if (Option.isNone(code) || code.value.length > 64) return false
          const used = yield* store.useRecoveryCode(userId, recoveryDigest(userId, code.value))
          if (used) {
            const left = yield* store.recoveryCodesLeft(userId)
            yield* emitFor(userId, (common) => new AuthEvents.RecoveryCodeUsed({ ...common, left }))
          }
          return used
        }),
      remove: (userId) => store.replaceRecoveryCodes(userId, [])
    }
    factors.push(totpFactor, recoveryFactor)

    const enrolledFactors = (userId: string) =>
      Effect.gen(function* () {
        const primary = yield* Effect.filter(
          factors.filter((factor) => !factor.backup),
          (factor) => factor.enrolled(userId)
        )
        if (primary.length === 0) return []
        const backups = yield* Effect.filter(
          factors.filter((factor) => factor.backup),
          (factor) => factor.enrolled(userId)
        )
        return factors.filter((factor) => primary.includes(factor) || backups.includes(factor))
      })

    const methodsOf = (userId: string) =>
      Effect.map(enrolledFactors(userId), (enrolled) => enrolled.map((factor) => factor.method))

    const hasFactor = (userId: string) =>
      Effect.map(
        Effect.filter(
          factors.filter((factor) => !factor.backup),
          (factor) => factor.enrolled(userId)
        ),
        (enrolled) => enrolled.length > 0
      )

    // A factor's own check reads what it needs (a user without it fails it); a backup counts only beside another.
    const verify = (userId: string, proof: Proof, context: ProofContext = {}) =>
      Effect.gen(function* () {
        const factor = factors.find((candidate) => candidate.method === proof.method)
        if (factor === undefined || (factor.backup === true && !(yield* hasFactor(userId)))) {
          return Option.none<ReadonlyArray<string>>()
        }
        return (yield* factor.verify(userId, proof.value, context))
          ? Option.some<ReadonlyArray<string>>(factor.amr)
          : Option.none<ReadonlyArray<string>>()
      })

    const issue = (challenge: NewChallenge) =>
      Effect.gen(function* () {
        const token = randomBytes(32).toString("base64url")
        const now = yield* Clock.currentTimeMillis
        yield* store.createChallenge(tokenDigest(token), {
          ...challenge,
          expiresAt: new Date(now + lifetime),
          failures: 0
        })
        return token
      })

    const pending = (token: string) =>
      Effect.gen(function* () {
        if (!wellFormedToken.test(token)) return Option.none()
        const digest = tokenDigest(token)
        const found = yield* store.findChallenge(digest)
        const now = yield* Clock.currentTimeMillis
        return Option.isSome(found) && found.value.expiresAt.getTime() > now
          ? Option.some({ digest, challenge: found.value })
          : Option.none()
      })

    const beginTotp = (user: BaseUser) =>
      Effect.gen(function* () {
        const secret = new OTPAuth.Secret({ size: 20 }).base32
        yield* store.setPending(String(user.id), cipher.encrypt(secret))
        return {
          secret: Redacted.make(secret),
          uri: Redacted.make(totpOf(secret, user.email).toString())
        }
      })

    const confirmTotp = (user: BaseUser, code: Redacted.Redacted<string>) =>
      Effect.gen(function* () {
        const userId = String(user.id)
        const found = Option.flatMap(yield* store.totp(userId), (totp) => totp.pending)
        if (Option.isNone(found)) return yield* new MfaNotPending()
        const step = yield* stepOf(found.value, Redacted.value(code))
        if (Option.isNone(step)) return yield* new MfaBadCode()
        const { digests, shown } = newCodes(userId)
        // The confirming code's step is spent with it: it cannot also finish a login.
        const confirmed = store.confirm(userId, found.value, step.value, digests)
        if (!(yield* noticed(user, confirmed, true, (done) => done))) return yield* new MfaNotPending()
        yield* emitFor(userId, (common) => new AuthEvents.SecondFactorEnrolled({ ...common, factor: "totp" }))
        return shown
      })

    const disableTotp = (user: BaseUser) =>
      Effect.tap(
        noticed(user, store.removeTotp(String(user.id)), false, (removed) => removed),
        (removed) =>
          removed
            ? emitFor(
                String(user.id),
                (common) => new AuthEvents.SecondFactorRemoved({ ...common, factor: "totp", by: "user" })
              )
            : Effect.void
      )

    const regenerateRecoveryCodes = (user: BaseUser) =>
      Effect.gen(function* () {
        const userId = String(user.id)
        const { digests, shown } = newCodes(userId)
        yield* store.replaceRecoveryCodes(userId, digests)
        yield* emitFor(userId, (common) => new AuthEvents.RecoveryCodesRegenerated(common))
        return shown
      })

    const status = (userId: string) =>
      Effect.map(
        Effect.all([totpFactor.enrolled(userId), store.recoveryCodesLeft(userId)], { concurrency: 2 }),
        ([totp, recoveryCodesLeft]) => ({ totp, recoveryCodesLeft })
      )

    const reset = (userId: string) =>
      Effect.zipRight(
        Effect.forEach(factors, (factor) => factor.remove(userId), { discard: true }),
        store.removeAll(userId)
      )

    yield* Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => store.purgeChallenges(new Date(now))),
      Effect.catchAllCause((cause) => Effect.logWarning("Purging the expired mfa_tokens failed", cause)),
      Effect.delay(options.purgeInterval ?? "10 minutes"),
      Effect.forever,
      Effect.forkScoped
    )

    const span = (name: string) => Effect.withSpan(`SecondFactor.${name}`)
    return {
      enabled: true,
      register: (factor) =>
        Effect.acquireRelease(
          Effect.sync(() => factors.push(factor)),
          () =>
            Effect.sync(() => {
              const index = factors.indexOf(factor)
              if (index !== -1) factors.splice(index, 1)
            })
        ).pipe(Effect.asVoid),
      methodsOf: (userId) => methodsOf(userId).pipe(span("methodsOf")),
      hasFactor: (userId) => hasFactor(userId).pipe(span("hasFactor")),
      verify: (userId, proof, context) =>
        verify(userId, proof, context).pipe(
          Effect.withSpan("SecondFactor.verify", { attributes: { method: proof.method } })
        ),
      issue: (challenge) => issue(challenge).pipe(span("issue")),
      pending: (token) => pending(token).pipe(span("pending")),
      fail: (digest) => store.failChallenge(digest, maxFailures).pipe(span("fail")),
      spend: (digest) => store.spendChallenge(digest).pipe(span("spend")),
      beginTotp: (user) => beginTotp(user).pipe(span("beginTotp")),
      confirmTotp: (user, code) => confirmTotp(user, code).pipe(span("confirmTotp")),
      disableTotp: (user) => disableTotp(user).pipe(span("disableTotp")),
      regenerateRecoveryCodes: (user) => regenerateRecoveryCodes(user).pipe(span("regenerateRecoveryCodes")),
      status: (userId) => status(userId).pipe(span("status")),
      reset: (userId) => reset(userId).pipe(span("reset"))
    } satisfies SecondFactorService
  })

/**
 * Second factors (TOTP and recovery codes) over the `SecondFactorStore` in context. Provide it under the
 * `UserManager` (the password policy and deletions read it) and the API (logins and the `/users/me/mfa` routes).
 *
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<SecondFactor, ConfigError.ConfigError, SecondFactorStore> =>
  Layer.scoped(SecondFactor, make(options))

/**
 * `layer` with its options read through `Config` (`encryptionKey` a `Config.redacted`).
 *
 * @since 0.3.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<SecondFactor, ConfigError.ConfigError, SecondFactorStore> =>
  Layer.scoped(SecondFactor, Effect.flatMap(Config.unwrap(config), make))

/**
 * Registers one more factor (passkeys, ...) with the `SecondFactor` in context for the layer's lifetime.
 *
 * @since 0.3.0
 */
export const layerFactor = <E = never, R = never>(
  factor: Factor | Effect.Effect<Factor, E, R>
): Layer.Layer<never, E, R | SecondFactor> =>
  Layer.scopedDiscard(
    Effect.flatMap(Effect.isEffect(factor) ? factor : Effect.succeed(factor), (made) =>
      Effect.flatMap(SecondFactor, (service) => service.register(made))
    )
  )

/**
 * The `amr` values of a session proven by a first factor with these values and a second with those: both, and
 * `mfa` (RFC 8176: more than one factor).
 *
 * @since 0.3.0
 */
export const combinedAmr = (first: ReadonlyArray<string>, second: ReadonlyArray<string>): ReadonlyArray<string> => [
  ...new Set([...first, ...second, "mfa"])
]

/**
 * Whether a session's `amr` says it was made with two factors: `mfa`, or a passkey with user verification (`hwk`
 * and `user`: a multi-factor authenticator, something held and something known or being).
 *
 * @since 0.3.0
 */
export const isMultiFactor = (amr: ReadonlyArray<string> | undefined): boolean =>
  amr !== undefined && (amr.includes("mfa") || (amr.includes("hwk") && amr.includes("user")))

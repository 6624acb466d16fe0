/**
 * Where second factors live: each user's TOTP secret (sealed by `SecondFactor`, opaque here; a confirmed one and
 * a pending one) with the last time step a code was accepted for, their recovery codes (known only by their
 * digests), and the pending two-step logins (`mfa_token`s, known only by their digests). `layerMemory` keeps them
 * in the process, `SqlSecondFactorStore` in the tables of migration `0016_mfa`.
 *
 * Every check that spends something is one atomic step of the store: of concurrent acceptances of one time step,
 * uses of one recovery code or redemptions of one login, exactly one succeeds.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * A user's TOTP: the confirmed secret (`None` until the first confirmation), the pending one of an enrolment not
 * yet confirmed, and the last accepted time step (-1 when none).
 *
 * @since 0.3.0
 */
export interface TotpRecord {
  readonly secret: Option.Option<string>
  readonly pending: Option.Option<string>
  readonly lastStep: number
}

/**
 * A login waiting for its second step: whose, on which backend, after which first factor, and until when.
 *
 * @since 0.3.0
 */
export interface Challenge {
  /** The user's ID as text (`String(user.id)`). */
  readonly userId: string
  readonly backend: string
  /** The first factor's method (`Sessions.Method`). */
  readonly method: string
  /** The first factor's `amr` values (RFC 8176). */
  readonly amr: ReadonlyArray<string>
  /** The user's session epoch at the first step: a password change, reset or log-out-everywhere ends the login. */
  readonly epoch: number
  /** The device of the client's device token at the first step, when it had one. */
  readonly device?: string | undefined
  readonly expiresAt: Date
  /** Wrong proofs so far. */
  readonly failures: number
}

/**
 * The operations on second factors; every implementation passes `test/suites/SecondFactorStoreSuite.ts`.
 *
 * @since 0.3.0
 */
export interface SecondFactorStoreService {
  /** The user's TOTP, if they have a confirmed or pending one. */
  readonly totp: (userId: string) => Effect.Effect<Option.Option<TotpRecord>>
  /** Keeps `secret` as the user's pending TOTP, replacing an earlier pending one (a confirmed one stays). */
  readonly setPending: (userId: string, secret: string) => Effect.Effect<void>
  /**
   * In one step, if the user's pending secret is still `pending`: makes it the confirmed one, records `step` as
   * the last accepted, and replaces the recovery codes with `codes` (digests). `false` (no change) otherwise.
   */
  readonly confirm: (
    userId: string,
    pending: string,
    step: number,
    codes: ReadonlyArray<string>
  ) => Effect.Effect<boolean>
  /**
   * Records `step` as the last accepted step of the user's confirmed TOTP if it is later than the last one:
   * `false` when it is not (a replay) or there is none. Of concurrent calls with one step exactly one gets `true`.
   */
  readonly acceptStep: (userId: string, step: number) => Effect.Effect<boolean>
  /** Removes the user's TOTP (confirmed and pending) and recovery codes; whether there was a TOTP. */
  readonly removeTotp: (userId: string) => Effect.Effect<boolean>
  /** Replaces the user's recovery codes (digests). */
  readonly replaceRecoveryCodes: (userId: string, codes: ReadonlyArray<string>) => Effect.Effect<void>
  /** Spends the user's recovery code with this digest: `false` when there is none. Of concurrent uses one wins. */
  readonly useRecoveryCode: (userId: string, code: string) => Effect.Effect<boolean>
  /** How many unused recovery codes the user has. */
  readonly recoveryCodesLeft: (userId: string) => Effect.Effect<number>
  /** Stores a pending login under the digest of its token. */
  readonly createChallenge: (digest: string, challenge: Challenge) => Effect.Effect<void>
  /** The pending login with this digest, expired or not; `None` when unknown or spent. */
  readonly findChallenge: (digest: string) => Effect.Effect<Option.Option<Challenge>>
  /**
   * Counts a wrong proof on the pending login; at `maxFailures` it is removed. Whether it still lives.
   */
  readonly failChallenge: (digest: string, maxFailures: number) => Effect.Effect<boolean>
  /** Removes the pending login: `true` for exactly one of concurrent calls, `false` when it was gone already. */
  readonly spendChallenge: (digest: string) => Effect.Effect<boolean>
  /** Removes the pending logins that expired before `before`; the number removed. */
  readonly purgeChallenges: (before: Date) => Effect.Effect<number>
  /** Removes everything of the user: TOTP, recovery codes, pending logins (an admin's reset, a deletion). */
  readonly removeAll: (userId: string) => Effect.Effect<void>
}

/**
 * The second-factor storage.
 *
 * @since 0.3.0
 */
export class SecondFactorStore extends Context.Tag("effect-users/SecondFactorStore")<
  SecondFactorStore,
  SecondFactorStoreService
>() {}

/**
 * A store in the process's memory (tests, single-process apps); every operation is one synchronous step.
 *
 * @since 0.3.0
 */
export const makeMemory = (): SecondFactorStoreService => {
  const totps = new Map<string, TotpRecord>()
  const codes = new Map<string, Set<string>>()
  const challenges = new Map<string, Challenge>()
  const removeTotp = (userId: string) => {
    codes.delete(userId)
    const had = totps.get(userId)?.secret._tag === "Some"
    totps.delete(userId)
    return had
  }
  return SecondFactorStore.of({
    totp: (userId) => Effect.sync(() => Option.fromNullable(totps.get(userId))),
    setPending: (userId, secret) =>
      Effect.sync(() => {
        const current = totps.get(userId)
        totps.set(userId, {
          secret: current?.secret ?? Option.none(),
          pending: Option.some(secret),
          lastStep: current?.lastStep ?? -1
        })
      }),
    confirm: (userId, pending, step, digests) =>
      Effect.sync(() => {
        const current = totps.get(userId)
        if (current === undefined || !Option.contains(current.pending, pending)) return false
        totps.set(userId, { secret: Option.some(pending), pending: Option.none(), lastStep: step })
        codes.set(userId, new Set(digests))
        return true
      }),
    acceptStep: (userId, step) =>
      Effect.sync(() => {
        const current = totps.get(userId)
        if (current === undefined || Option.isNone(current.secret) || current.lastStep >= step) return false
        totps.set(userId, { ...current, lastStep: step })
        return true
      }),
    removeTotp: (userId) => Effect.sync(() => removeTotp(userId)),
    replaceRecoveryCodes: (userId, digests) => Effect.sync(() => void codes.set(userId, new Set(digests))),
    useRecoveryCode: (userId, code) => Effect.sync(() => codes.get(userId)?.delete(code) ?? false),
    recoveryCodesLeft: (userId) => Effect.sync(() => codes.get(userId)?.size ?? 0),
    createChallenge: (digest, challenge) => Effect.sync(() => void challenges.set(digest, challenge)),
    findChallenge: (digest) => Effect.sync(() => Option.fromNullable(challenges.get(digest))),
    failChallenge: (digest, maxFailures) =>
      Effect.sync(() => {
        const challenge = challenges.get(digest)
        if (challenge === undefined) return false
        const failures = challenge.failures + 1
        if (failures >= maxFailures) return !challenges.delete(digest)
        challenges.set(digest, { ...challenge, failures })
        return true
      }),
    spendChallenge: (digest) => Effect.sync(() => challenges.delete(digest)),
    purgeChallenges: (before) =>
      Effect.sync(() => {
        let removed = 0
        for (const [digest, challenge] of challenges) {
          if (challenge.expiresAt.getTime() < before.getTime() && challenges.delete(digest)) removed++
        }
        return removed
      }),
    removeAll: (userId) =>
      Effect.sync(() => {
        removeTotp(userId)
        for (const [digest, challenge] of challenges) if (challenge.userId === userId) challenges.delete(digest)
      })
  })
}

/**
 * The memory store, new for each build of the layer.
 *
 * @since 0.3.0
 */
export const layerMemory: Layer.Layer<SecondFactorStore> = Layer.sync(SecondFactorStore, makeMemory)

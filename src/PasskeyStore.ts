/**
 * Where passkeys live: each user's WebAuthn credentials (the credential ID, its public key, the signature counter,
 * transports, device type, backup state, a name, when it was added and last used) and the challenges a ceremony
 * hands out, each taken once within its lifetime. `layerMemory` keeps them in the process, `SqlPasskeyStore` in two
 * tables (migration `0017_passkey`).
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * A stored WebAuthn credential.
 *
 * @since 0.3.0
 */
export interface Credential {
  /** The credential ID, base64url (as the authenticator names it). */
  readonly id: string
  /** The user's ID as text (`String(user.id)`). */
  readonly userId: string
  /** The COSE public key, base64url. */
  readonly publicKey: string
  /** The signature counter last seen (0 for authenticators without one). */
  readonly counter: number
  /** How the client reaches the authenticator (`internal`, `hybrid`, `usb`, ...), as it reported them. */
  readonly transports: ReadonlyArray<string>
  /** `singleDevice` or `multiDevice` (a synced passkey). */
  readonly deviceType: string
  /** Whether the credential is backed up (synced). */
  readonly backedUp: boolean
  /** The user's name for it (at most 100 characters). */
  readonly name: string
  readonly createdAt: Date
  readonly lastUsedAt: Date | null
}

/**
 * What a ceremony's challenge was issued for: registering a credential for `userId`, or signing in (any user, or
 * `userId` only when a second step names them).
 *
 * @since 0.3.0
 */
export interface Challenge {
  /** The challenge sent to the authenticator, base64url. */
  readonly challenge: string
  readonly purpose: "registration" | "authentication"
  readonly userId: string | null
  /** Epoch milliseconds; after it the challenge is refused. */
  readonly expiresAt: number
}

/**
 * Why `remove` removed nothing: the user has no credential with this ID, or it is their last way to sign in.
 *
 * @since 0.3.0
 */
export type RemoveResult = "removed" | "notFound" | "last"

/**
 * The store. Storage faults are defects (an outage is `ServiceUnavailable`).
 *
 * @since 0.3.0
 */
export interface PasskeyStoreService {
  /** Stores a new credential; `false` when the credential ID is stored already (for any user). */
  readonly add: (credential: Credential) => Effect.Effect<boolean>
  /** The credential with this ID, whoever it belongs to. */
  readonly find: (id: string) => Effect.Effect<Option.Option<Credential>>
  /** The user's credentials, oldest first. */
  readonly listOf: (userId: string) => Effect.Effect<ReadonlyArray<Credential>>
  /** Renames one of the user's credentials; `None` when the user has none with this ID. */
  readonly rename: (userId: string, id: string, name: string) => Effect.Effect<Option.Option<Credential>>
  /**
   * Records a sign-in with the credential: the new counter and the time, only when the counter moved forward (or
   * both it and the stored one are 0, an authenticator without a counter). `false` otherwise: of concurrent uses
   * with one counter value, exactly one is recorded.
   */
  readonly recordUse: (id: string, counter: number, at: Date) => Effect.Effect<boolean>
  /**
   * Removes one of the user's credentials. With `keepOne`, refuses (`last`) to remove the user's only credential,
   * checked and written in one atomic step: of concurrent removals, none leaves the user with no credential.
   */
  readonly remove: (userId: string, id: string, keepOne: boolean) => Effect.Effect<RemoveResult>
  /** Removes every credential of the user (the user is deleted). */
  readonly removeAllOf: (userId: string) => Effect.Effect<void>
  /** Keeps a challenge under `key` (unique, random) until it expires. */
  readonly putChallenge: (key: string, challenge: Challenge) => Effect.Effect<void>
  /**
   * Takes the challenge kept under `key`: it is gone afterwards. `None` when unknown, taken already or expired:
   * of concurrent takes of one key, exactly one gets it.
   */
  readonly takeChallenge: (key: string) => Effect.Effect<Option.Option<Challenge>>
}

/**
 * The passkey store.
 *
 * @since 0.3.0
 */
export class PasskeyStore extends Context.Tag("effect-users/PasskeyStore")<PasskeyStore, PasskeyStoreService>() {}

/**
 * An in-process store, for a single instance and tests.
 *
 * @since 0.3.0
 */
export const makeMemory = (): PasskeyStoreService => {
  const credentials = new Map<string, Credential>()
  const challenges = new Map<string, Challenge>()
  const ownedBy = (userId: string) =>
    [...credentials.values()]
      .filter((credential) => credential.userId === userId)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
  return PasskeyStore.of({
    add: (credential) =>
      Effect.sync(() => {
        if (credentials.has(credential.id)) return false
        credentials.set(credential.id, credential)
        return true
      }),
    find: (id) => Effect.sync(() => Option.fromNullable(credentials.get(id))),
    listOf: (userId) => Effect.sync(() => ownedBy(userId)),
    rename: (userId, id, name) =>
      Effect.sync(() => {
        const found = credentials.get(id)
        if (found === undefined || found.userId !== userId) return Option.none()
        const renamed = { ...found, name }
        credentials.set(id, renamed)
        return Option.some(renamed)
      }),
    recordUse: (id, counter, at) =>
      Effect.sync(() => {
        const found = credentials.get(id)
        if (found === undefined || !counterMoves(found.counter, counter)) return false
        credentials.set(id, { ...found, counter, lastUsedAt: at })
        return true
      }),
    remove: (userId, id, keepOne) =>
      Effect.sync(() => {
        const found = credentials.get(id)
        if (found === undefined || found.userId !== userId) return "notFound"
        if (keepOne && ownedBy(userId).length <= 1) return "last"
        credentials.delete(id)
        return "removed"
      }),
    removeAllOf: (userId) =>
      Effect.sync(() => {
        for (const credential of ownedBy(userId)) credentials.delete(credential.id)
      }),
    putChallenge: (key, challenge) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        for (const [stored, kept] of challenges) if (kept.expiresAt < now) challenges.delete(stored)
        challenges.set(key, challenge)
      }),
    takeChallenge: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const found = challenges.get(key)
        challenges.delete(key)
        return found === undefined || found.expiresAt < now ? Option.none() : Option.some(found)
      })
  })
}

/**
 * Whether a sign-in's counter may follow the stored one: it moved forward, or both are 0 (no counter).
 *
 * @since 0.3.0
 */
export const counterMoves = (stored: number, next: number): boolean => next > stored || (next === 0 && stored === 0)

/**
 * A fresh in-process store.
 *
 * @since 0.3.0
 */
export const layerMemory: Layer.Layer<PasskeyStore> = Layer.sync(PasskeyStore, makeMemory)

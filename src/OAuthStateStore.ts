/**
 * Spent OAuth states: what makes a `state` work once, across every instance that shares the store. The HTTP
 * callback spends a state before it exchanges the code; of concurrent spends of one state, exactly one wins.
 * `SqlOAuthStateStore` keeps them in the database; `layerMemory` suits a single instance and tests.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * Records spent states until they expire. Storage faults are defects.
 *
 * @since 0.1.0
 */
export interface OAuthStateStoreService {
  /**
   * Marks `state` spent until `expiresAt` (epoch milliseconds): `true` the first time, `false` if it already
   * was. Expired records may be forgotten (an expired state is refused before it is spent).
   */
  readonly spend: (state: string, expiresAt: number) => Effect.Effect<boolean>
}

/**
 * The store of spent OAuth states.
 *
 * @since 0.1.0
 */
export class OAuthStateStore extends Context.Tag("effect-users/OAuthStateStore")<
  OAuthStateStore,
  OAuthStateStoreService
>() {}

/**
 * An in-process store: single-use within one instance only.
 *
 * @since 0.1.0
 */
export const makeMemory = (): OAuthStateStoreService => {
  const spent = new Map<string, number>()
  return {
    spend: (state, expiresAt) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        for (const [key, expiry] of spent) if (expiry < now) spent.delete(key)
        if (spent.has(state)) return false
        spent.set(state, expiresAt)
        return true
      })
  }
}

/**
 * A fresh in-process store.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<OAuthStateStore> = Layer.sync(OAuthStateStore, makeMemory)

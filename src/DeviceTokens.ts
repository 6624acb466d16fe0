/**
 * Device tokens, after OWASP's "device cookies": at every login the client gets a signed token naming the account
 * (its e-mail's canonical key) and a random nonce of its own. A later password attempt on that account presenting
 * a valid one is throttled per device (`Throttle`, keyed by the nonce), never per account: a stranger's guesses,
 * which only count against the account, cannot hold back a client that has logged in before.
 *
 * A token is `v1.{nonce}.{expiry}.{mac}`: the nonce (16 random bytes), the expiry (seconds since the epoch, base 36),
 * and HMAC-SHA-256 of the rest with the account's key appended. The account is bound by the MAC, not written out,
 * so a token does not disclose the address. The MAC key is derived from the secret, which may therefore be one the
 * app already uses for something else (the example server passes its auth secret). Every instance of an app needs
 * the same secret, or a token from one is unknown to the others.
 *
 * @since 0.2.0
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { optional, read, unwrap } from "./internal/config.js"
import { emailKey } from "./User.js"
import { checkSecret, secret } from "./UserManagerConfig.js"

/**
 * A token issued at a login, and how long it is valid (a cookie's `Max-Age`).
 *
 * @since 0.2.0
 */
export interface Issued {
  readonly token: string
  /** The device this token names. */
  readonly nonce: string
  readonly lifetime: Duration.Duration
}

/**
 * Issues and reads device tokens.
 *
 * @since 0.2.0
 */
export interface DeviceTokensService {
  /** A token for the account of `email`: for the device `nonce` (a login from a known device keeps it), or a new one. */
  readonly issue: (email: string, nonce?: string | undefined) => Effect.Effect<Issued>
  /**
   * The device of a token, when the token is well formed, unexpired, and issued for the account of `email`;
   * anything else (forged, expired, another account's, junk) is `None`: the client is an unknown one.
   */
  readonly verify: (token: string, email: string) => Effect.Effect<Option.Option<string>>
}

/**
 * Device tokens; `UsersApi` provides `orDefault` unless the app provides its own (`layer`, `layerConfig`).
 *
 * @since 0.2.0
 */
export class DeviceTokens extends Context.Tag("effect-users/DeviceTokens")<DeviceTokens, DeviceTokensService>() {}

/**
 * Options of `make`.
 *
 * @since 0.2.0
 */
export interface Options {
  /** At least 32 bytes; the MAC key is derived from it, so it may be a secret the app uses elsewhere. */
  readonly secret: Redacted.Redacted<string>
  /** How long a token is valid after the login that issued it; default 90 days. */
  readonly lifetime?: Duration.DurationInput | undefined
}

/**
 * The default lifetime of a token: 90 days from the login that issued it.
 *
 * @since 0.2.0
 */
export const defaultLifetime: Duration.Duration = Duration.days(90)

// Longer input is not a token of ours: refused before any work.
const maxTokenLength = 128

const makeWithKey = (key: Buffer, lifetime: Duration.Duration): DeviceTokensService => {
  const mac = (body: string, email: string) =>
    createHmac("sha256", key)
      .update(`${body}.${emailKey(email)}`)
      .digest("base64url")
  const seconds = Math.max(1, Math.floor(Duration.toSeconds(lifetime)))
  return DeviceTokens.of({
    issue: (email, nonce) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const device = nonce ?? randomBytes(16).toString("base64url")
        const body = `v1.${device}.${(Math.floor(now / 1000) + seconds).toString(36)}`
        return { token: `${body}.${mac(body, email)}`, nonce: device, lifetime }
      }),
    verify: (token, email) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (token.length > maxTokenLength) return Option.none()
        const parts = token.split(".")
        if (parts.length !== 4 || parts[0] !== "v1") return Option.none()
        const [, nonce, expiry, given] = parts as [string, string, string, string]
        const expected = Buffer.from(mac(`v1.${nonce}.${expiry}`, email))
        const actual = Buffer.from(given)
        if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return Option.none()
        return Number.parseInt(expiry, 36) * 1000 > now ? Option.some(nonce) : Option.none()
      })
  })
}

const deriveKey = (secret: Redacted.Redacted<string>) =>
  createHmac("sha256", Redacted.value(secret)).update("effect-users/DeviceTokens").digest()

/**
 * Device tokens signed with a key derived from the secret; fails when the secret is shorter than 32 bytes.
 *
 * @since 0.2.0
 */
export const make = (options: Options): Effect.Effect<DeviceTokensService, ConfigError.ConfigError> =>
  Effect.as(
    checkSecret("secret", options.secret),
    makeWithKey(deriveKey(options.secret), Duration.decode(options.lifetime ?? defaultLifetime))
  )

/**
 * Device tokens with options given as values.
 *
 * @since 0.2.0
 */
export const layer = (options: Options): Layer.Layer<DeviceTokens, ConfigError.ConfigError> =>
  Layer.effect(DeviceTokens, make(options))

/**
 * The environment variables `layerConfig()` reads when given no config.
 *
 * @since 0.2.0
 */
export const fromEnv: Config.Config.Wrap<Options> = {
  secret: secret("USERS_DEVICE_TOKEN_SECRET"),
  lifetime: optional(Config.duration("USERS_DEVICE_TOKEN_LIFETIME"))
}

/**
 * Device tokens configured by `Config` (default `fromEnv`).
 *
 * @since 0.2.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = fromEnv
): Layer.Layer<DeviceTokens, ConfigError.ConfigError> =>
  Layer.effect(DeviceTokens, Effect.flatMap(read(unwrap(config)), make))

/**
 * Device tokens under a random key of this process: right for a single instance (its tokens end with it);
 * instances that do not share a secret do not know each other's devices.
 *
 * @since 0.2.0
 */
export const makeEphemeral = (): DeviceTokensService => makeWithKey(randomBytes(32), defaultLifetime)

/**
 * The device tokens in context, or ephemeral ones when the app provides none.
 *
 * @since 0.2.0
 */
export const orDefault: Effect.Effect<DeviceTokensService> = Effect.map(
  Effect.serviceOption(DeviceTokens),
  Option.getOrElse(makeEphemeral)
)

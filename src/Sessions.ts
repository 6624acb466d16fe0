/**
 * Sessions: what a login opens, what a user sees of their sessions, and the per-user state every strategy
 * checks a token against (the session epoch and the JWT deny-list marker).
 *
 * A user's sessions all end when their epoch moves (log out everywhere, a new password or e-mail, a
 * deactivation): a token is valid only at the epoch it was issued at. `Sessions` reads and moves that epoch;
 * `UserManager.layer` provides it over the same repository as the manager.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { IdParser } from "./IdParser.js"
import type { BaseUser, User } from "./User.js"
import { UserRepository, type UserWithSessions } from "./UserRepository.js"

/**
 * How a sign-in was made: `password`, `oauth:<provider>`, `passkey` (with user verification, complete on its own),
 * `magic-link`, `email-code`; `refresh` names `Login.refresh`, which continues a session (the session keeps the
 * method it was started with). Later methods add their own names.
 *
 * @since 0.2.0
 */
export type Method = "password" | "refresh" | "passkey" | "magic-link" | "email-code" | `oauth:${string}`

/**
 * The method of an OAuth login through this provider.
 *
 * @since 0.2.0
 */
export const oauthMethod = (provider: string): Method => `oauth:${provider}`

/**
 * What the request behind a login knows about the client.
 *
 * @since 0.2.0
 */
export interface Client {
  /** The `User-Agent` header, recorded with stateful sessions (cut to `AccessTokenStore.maxUserAgentLength`). */
  readonly userAgent?: string | undefined
  /** The client's address as the app's trusted proxies name it; not stored. */
  readonly address?: string | undefined
}

/**
 * What a strategy records when it opens a session (`AuthStrategy.write`).
 *
 * @since 0.2.0
 */
export interface Opening {
  /** The user's session epoch the session belongs to; read now when absent. */
  readonly epoch?: number | undefined
  /** The backend's name. */
  readonly backend?: string | undefined
  /** How the session was started. */
  readonly method?: Method | undefined
  /** The client's `User-Agent`. */
  readonly userAgent?: string | undefined
  /** The refresh-token family the token belongs to; the JWT strategy writes it as `sid`. */
  readonly family?: string | undefined
  /** When the sign-in behind the session happened (ms since 1970): a refresh's token keeps its login's; default now. */
  readonly signedInAt?: number | undefined
  /**
   * How the sign-in was proven (RFC 8176 `amr`: `pwd`, `oauth`, `otp`, `mfa`, ...): the JWT strategy writes it as
   * `amr`, the database strategy stores it.
   *
   * @since 0.3.0
   */
  readonly amr?: ReadonlyArray<string> | undefined
}

/**
 * How and when the sign-in behind a session happened: what a re-authentication check reads.
 *
 * @since 0.2.0
 */
export interface SignIn {
  readonly method: string
  /** Milliseconds since 1970. */
  readonly at: number
  /**
   * How it was proven (RFC 8176), when the session recorded it.
   *
   * @since 0.3.0
   */
  readonly amr?: ReadonlyArray<string> | undefined
}

/**
 * Whether a sign-in proves, now, that the person holding the session is the user: a password, provider, passkey or
 * e-mail login (not a refresh, which continues a session) no older than `window` (ms).
 *
 * @since 0.2.0
 */
export const isRecentSignIn = (signIn: SignIn, now: number, window: number): boolean =>
  (signIn.method === "password" ||
    signIn.method === "passkey" ||
    signIn.method === "magic-link" ||
    signIn.method === "email-code" ||
    signIn.method.startsWith("oauth:")) &&
  signIn.at <= now &&
  now - signIn.at <= window

/**
 * A session as its user sees it (`GET /users/me/sessions`): never the token or its digest.
 *
 * @since 0.2.0
 */
export interface Listed {
  /** A public ID, stable for the session's life, that cannot be turned back into the token or its digest. */
  readonly id: string
  readonly createdAt: Date
  readonly lastUsedAt: Date
  readonly backend: string | null
  readonly userAgent: string | null
  /** How the session was started; `null` for sessions stored before methods were recorded. */
  readonly method: string | null
  /**
   * How the sign-in was proven (RFC 8176); `null` for sessions stored before it was recorded.
   *
   * @since 0.3.0
   */
  readonly amr: ReadonlyArray<string> | null
  /** Whether the request asking is authenticated by this session. */
  readonly current: boolean
}

/**
 * The sessions a stateful strategy can list and end, for their own user only.
 *
 * @since 0.2.0
 */
export interface Listing {
  /** The live sessions of the user; `current` is the token the request carries for this strategy, if any. */
  readonly list: (user: BaseUser, current: Option.Option<string>) => Effect.Effect<ReadonlyArray<Listed>>
  /** Ends the user's session with this public ID; false when the user has none with it (someone else's included). */
  readonly revoke: (user: BaseUser, id: string) => Effect.Effect<boolean>
}

/**
 * The per-user session state.
 *
 * @since 0.2.0
 */
export interface SessionsService {
  /**
   * The user with this ID and their session state, in one lookup; `None` when the ID does not parse or the user is
   * gone. The ID is text, as a token or a stored row names it (`String(user.id)`): the app's `IdParser` reads it.
   */
  readonly lookup: (id: string) => Effect.Effect<Option.Option<UserWithSessions<User>>>
  /** Ends every session of the user, on every strategy and instance sharing the storage: moves the epoch. */
  readonly endAll: (user: BaseUser) => Effect.Effect<void>
  /**
   * Ends every session of the user but one: moves the epoch, then runs `keep` with the new epoch (which carries
   * the kept session over, `AuthStrategy.keep`).
   *
   * @since 0.3.0
   */
  readonly endAllBut: (user: BaseUser, keep: (epoch: number) => Effect.Effect<void>) => Effect.Effect<void>
  /**
   * Records that a JWT of the user expiring at `until` (ms since 1970) is denied: until then, JWT checks of
   * this user ask the deny-list.
   */
  readonly denyUntil: (user: BaseUser, until: number) => Effect.Effect<void>
}

/**
 * The per-user session state, over the app's `UserRepository`.
 *
 * @since 0.2.0
 */
export class Sessions extends Context.Tag("effect-users/Sessions")<Sessions, SessionsService>() {}

/**
 * Builds the session state over the `UserRepository` and `IdParser` in context.
 *
 * @since 0.2.0
 */
export const make: Effect.Effect<SessionsService, never, UserRepository> = Effect.gen(function* () {
  const repository = yield* UserRepository
  const idParser = yield* IdParser
  // Strategies see the app's users as `BaseUser`; the repository (of the same model) takes them back as they are.
  const stored = (user: BaseUser) => user as User
  return Sessions.of({
    lookup: (id) =>
      idParser.parse(id).pipe(
        // The parser is the app's, for the repository's ID type.
        Effect.flatMap((parsed) => repository.getWithEpoch(parsed as User["id"])),
        Effect.orElseSucceed(() => Option.none<UserWithSessions<User>>()),
        Effect.withSpan("Sessions.lookup")
      ),
    endAll: (user) =>
      repository
        .updateEndingSessions(stored(user), {}, {})
        .pipe(Effect.orDie, Effect.asVoid, Effect.withSpan("Sessions.endAll")),
    endAllBut: (user, keep) =>
      repository.updateEndingSessions(stored(user), {}, {}).pipe(
        Effect.orDie,
        Effect.flatMap((written) => (Option.isSome(written) ? keep(written.value.sessionEpoch) : Effect.void)),
        Effect.withSpan("Sessions.endAllBut")
      ),
    denyUntil: (user, until) =>
      repository.raiseRevokedUntil(stored(user), until).pipe(Effect.withSpan("Sessions.denyUntil"))
  })
})

/**
 * `Sessions` over the `UserRepository` in context (`UserManager.layer` provides it too).
 *
 * @since 0.2.0
 */
export const layer: Layer.Layer<Sessions, never, UserRepository> = Layer.effect(Sessions, make)

/**
 * effect-users: FastAPI Users' user manager for Effect. The root holds the core modules, each as a namespace
 * (`import { UserManager } from "effect-users"`, then `UserManager.UserManager`, `UserManager.layer`); the
 * storage adapters and the HTTP edge come from the package's sub-path entries, and the root never loads them.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as AccessTokenStore from "./AccessTokenStore.js"
/** @since 0.2.0 */
export * as Argon2Workers from "./Argon2Workers.js"
export * as AuditLog from "./AuditLog.js"
export * as AuthEvents from "./AuthEvents.js"
/** @since 0.2.0 */
export * as AuthMetrics from "./AuthMetrics.js"
/** @since 0.1.0 */
export * as AuthStrategy from "./AuthStrategy.js"
/** @since 0.2.0 */
export * as DeviceTokens from "./DeviceTokens.js"
/** @since 0.3.0 */
export * as EmailSignIn from "./EmailSignIn.js"
export * as IdParser from "./IdParser.js"
/** @since 0.2.0 */
export * as JwtKeySet from "./JwtKeySet.js"
/** @since 0.2.0 */
export * as Login from "./Login.js"
export * as Mail from "./Mail.js"
/** @since 0.3.0 */
export * as Mailer from "./Mailer.js"
/** @since 0.3.0 */
export * as MemoryStores from "./MemoryStores.js"
/** @since 0.1.0 */
export * as OAuthProvider from "./OAuthProvider.js"
/** @since 0.1.0 */
export * as OAuthStateStore from "./OAuthStateStore.js"
export * as Outbox from "./Outbox.js"
/** @since 0.3.0 */
export * as PasskeyStore from "./PasskeyStore.js"
/** @since 0.3.0 */
export * as Passkeys from "./Passkeys.js"
/** @since 0.2.0 */
export * as PasswordHasher from "./PasswordHasher.js"
/** @since 0.2.0 */
export * as PasswordValidator from "./PasswordValidator.js"
/** @since 0.1.0 */
export * as RefreshTokenStore from "./RefreshTokenStore.js"
/** @since 0.1.0 */
export * as RefreshTokens from "./RefreshTokens.js"
/** @since 0.3.0 */
export * as SecondFactor from "./SecondFactor.js"
/** @since 0.3.0 */
export * as SecondFactorStore from "./SecondFactorStore.js"
/** @since 0.2.0 */
export * as Sessions from "./Sessions.js"
/** @since 0.1.0 */
export * as Throttle from "./Throttle.js"
/** @since 0.2.0 */
export * as TokenCodec from "./TokenCodec.js"
/** @since 0.2.0 */
export * as Unavailable from "./Unavailable.js"
/** @since 0.2.0 */
export * as User from "./User.js"
/** @since 0.2.0 */
export * as UserError from "./UserError.js"
/** @since 0.2.0 */
export * as UserHooks from "./UserHooks.js"
/** @since 0.2.0 */
export * as UserManager from "./UserManager.js"
/** @since 0.2.0 */
export * as UserManagerConfig from "./UserManagerConfig.js"
/** @since 0.1.0 */
export * as UserModel from "./UserModel.js"
/** @since 0.2.0 */
export * as UserRepository from "./UserRepository.js"

/**
 * effect-users: FastAPI Users' user manager for Effect. The root holds the core modules, each as a namespace
 * (`import { UserManager } from "effect-users"`, then `UserManager.UserManager`, `UserManager.layer`); the
 * adapters come from their sub-paths: `effect-users/sql`, `effect-users/redis`, `effect-users/pg` and the HTTP
 * edge `effect-users/http`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as AccessTokenStore from "./AccessTokenStore.js"
/** @since 0.2.0 */
export * as Argon2Workers from "./Argon2Workers.js"
/** @since 0.1.0 */
export * as AuthStrategy from "./AuthStrategy.js"
/** @since 0.2.0 */
export * as IdParser from "./IdParser.js"
/** @since 0.2.0 */
export * as JwtKeySet from "./JwtKeySet.js"
/** @since 0.1.0 */
export * as OAuthProvider from "./OAuthProvider.js"
/** @since 0.1.0 */
export * as OAuthStateStore from "./OAuthStateStore.js"
/** @since 0.2.0 */
export * as PasswordHasher from "./PasswordHasher.js"
/** @since 0.2.0 */
export * as PasswordValidator from "./PasswordValidator.js"
/** @since 0.1.0 */
export * as RefreshTokenStore from "./RefreshTokenStore.js"
/** @since 0.1.0 */
export * as RefreshTokens from "./RefreshTokens.js"
/** @since 0.1.0 */
export * as Throttle from "./Throttle.js"
/** @since 0.2.0 */
export * as TokenCodec from "./TokenCodec.js"
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

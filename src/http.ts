/**
 * `effect-users/http`: FastAPI Users' routes on `@effect/platform` HttpApi, their login backends and the
 * authenticated user. The same values as the package root exports.
 */

export * as AuthStrategy from "./AuthStrategy.js"
export * as AuthBackend from "./http/AuthBackend.js"
export * as Authentication from "./http/Authentication.js"
export { Authenticator, type AuthenticatorService } from "./http/Authenticator.js"
export * as BackgroundWork from "./http/BackgroundWork.js"
export * as ClientAddress from "./http/ClientAddress.js"
export { CurrentUser, OptionalUser, type Requirement } from "./http/CurrentUser.js"
export * as Failures from "./http/Failures.js"
export * as HttpErrors from "./http/HttpErrors.js"
export * as Jwks from "./http/Jwks.js"
export * as OAuth from "./http/OAuth.js"
export * as RequestLimits from "./http/RequestLimits.js"
export * as UserSchemas from "./http/UserSchemas.js"
export * as UsersApi from "./http/UsersApi.js"
export * as UsersGroups from "./http/UsersGroups.js"
export * as RefreshTokens from "./RefreshTokens.js"

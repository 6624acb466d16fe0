/**
 * `effect-users/http`: the HTTP edge on `@effect/platform` HttpApi: FastAPI Users' routes, their login backends,
 * the authenticated user, the error bodies and the request limits. Each module is a namespace.
 *
 * @since 0.1.0
 */

/** @since 0.2.0 */
export * as AuditApi from "./http/AuditApi.js"
/** @since 0.1.0 */
export * as AuthBackend from "./http/AuthBackend.js"
/** @since 0.1.0 */
export * as Authentication from "./http/Authentication.js"
/** @since 0.2.0 */
export * as Authenticator from "./http/Authenticator.js"
/** @since 0.1.0 */
export * as BackgroundWork from "./http/BackgroundWork.js"
/** @since 0.1.0 */
export * as ClientAddress from "./http/ClientAddress.js"
/** @since 0.2.0 */
export * as CrossSite from "./http/CrossSite.js"
/** @since 0.2.0 */
export * as CurrentUser from "./http/CurrentUser.js"
/** @since 0.1.0 */
export * as DeviceTransport from "./http/DeviceTransport.js"
/** @since 0.3.0 */
export * as EmailSignInApi from "./http/EmailSignInApi.js"
export * as Failures from "./http/Failures.js"
/** @since 0.1.0 */
export * as HttpErrors from "./http/HttpErrors.js"
/** @since 0.1.0 */
export * as Jwks from "./http/Jwks.js"
/** @since 0.1.0 */
export * as OAuth from "./http/OAuth.js"
/** @since 0.2.0 */
export * as OAuthErrors from "./http/OAuthErrors.js"
/** @since 0.2.0 */
export * as OAuthGroups from "./http/OAuthGroups.js"
/** @since 0.3.0 */
export * as PasskeyGroups from "./http/PasskeyGroups.js"
/** @since 0.3.0 */
export * as PasskeyRoutes from "./http/PasskeyRoutes.js"
/** @since 0.2.0 */
export * as PwnedPasswords from "./http/PwnedPasswords.js"
/** @since 0.2.0 */
export * as Reauthentication from "./http/Reauthentication.js"
/** @since 0.2.0 */
export * as Redaction from "./http/Redaction.js"
/** @since 0.1.0 */
export * as RequestLimits from "./http/RequestLimits.js"
/** @since 0.3.0 */
export * as SignIn from "./http/SignIn.js"
/** @since 0.3.0 */
export * as StepUp from "./http/StepUp.js"
/** @since 0.1.0 */
export * as UserSchemas from "./http/UserSchemas.js"
/** @since 0.1.0 */
export * as UsersApi from "./http/UsersApi.js"
/** @since 0.2.0 */
export * as UsersErrors from "./http/UsersErrors.js"
/** @since 0.1.0 */
export * as UsersGroups from "./http/UsersGroups.js"

/**
 * `effect-users/sql`: the `@effect/sql` adapters (PostgreSQL or SQLite, whichever `SqlClient` the app provides):
 * the user repository, the access token, refresh token and OAuth state stores, the migrations that create
 * FastAPI Users' tables and ours, and `SqlUnavailable` (which `SqlError`s are outages, for SQL adapters of the
 * app's own).
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Migrations from "./sql/Migrations.js"
/** @since 0.1.0 */
export * as SqlAccessTokenStore from "./sql/SqlAccessTokenStore.js"
/** @since 0.2.0 */
export * as SqlAuditLog from "./sql/SqlAuditLog.js"
/** @since 0.3.0 */
export * as SqlEmailSignInStore from "./sql/SqlEmailSignInStore.js"
/** @since 0.1.0 */
export * as SqlOAuthStateStore from "./sql/SqlOAuthStateStore.js"
export * as SqlOutbox from "./sql/SqlOutbox.js"
/** @since 0.3.0 */
export * as SqlPasskeyStore from "./sql/SqlPasskeyStore.js"
/** @since 0.1.0 */
export * as SqlRefreshTokenStore from "./sql/SqlRefreshTokenStore.js"
/** @since 0.3.0 */
export * as SqlSecondFactorStore from "./sql/SqlSecondFactorStore.js"
/** @since 0.2.0 */
export * as SqlUnavailable from "./sql/SqlUnavailable.js"
/** @since 0.1.0 */
export * as SqlUserRepository from "./sql/SqlUserRepository.js"

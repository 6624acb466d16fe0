/**
 * `effect-users/sql`: the `@effect/sql` repository, access token and refresh token stores (PostgreSQL or SQLite,
 * whichever `SqlClient` the app provides), the migrations that create FastAPI Users' tables and `SqlUnavailable`
 * (which `SqlError`s are outages, for SQL adapters of the app's own). The same values as the package root exports.
 */

export * as Migrations from "./sql/Migrations.js"
export * as SqlAccessTokenStore from "./sql/SqlAccessTokenStore.js"
export * as SqlOAuthStateStore from "./sql/SqlOAuthStateStore.js"
export * as SqlRefreshTokenStore from "./sql/SqlRefreshTokenStore.js"
export * as SqlUnavailable from "./sql/SqlUnavailable.js"
export * as SqlUserRepository from "./sql/SqlUserRepository.js"

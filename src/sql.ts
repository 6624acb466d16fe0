/**
 * `effect-users/sql`: the `@effect/sql` repository, access token and refresh token stores (PostgreSQL or SQLite,
 * whichever `SqlClient` the app provides) and the migrations that create FastAPI Users' tables. The same values as
 * the package root exports.
 */

export * as Migrations from "./sql/Migrations.js"
export * as SqlAccessTokenStore from "./sql/SqlAccessTokenStore.js"
export * as SqlOAuthStateStore from "./sql/SqlOAuthStateStore.js"
export * as SqlRefreshTokenStore from "./sql/SqlRefreshTokenStore.js"
export * as SqlUserRepository from "./sql/SqlUserRepository.js"

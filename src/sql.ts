/**
 * `effect-users/sql`: the `@effect/sql` repository, access token and refresh token stores (PostgreSQL or SQLite,
 * whichever `SqlClient` the app provides) and the migrations that create FastAPI Users' tables. The same values as
 * the package root exports.
 */

export * as Migrations from "./Migrations.js"
export * as SqlAccessTokenStore from "./SqlAccessTokenStore.js"
export * as SqlOAuthStateStore from "./SqlOAuthStateStore.js"
export * as SqlRefreshTokenStore from "./SqlRefreshTokenStore.js"
export * as SqlUserRepository from "./SqlUserRepository.js"

/**
 * `effect-users/pg`: `PgStorage`, `@effect/sql-pg`'s client with every query bounded in time, and `PgUnavailable`
 * (which PostgreSQL errors are outages; no driver, `SqlUnavailable` reads it). Not exported by the package root, so
 * that apps on SQLite never load `pg`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as PgStorage from "./pg/PgStorage.js"
/** @since 0.2.0 */
export * as PgUnavailable from "./pg/PgUnavailable.js"

/**
 * `effect-users/pg`: `PgStorage`, `@effect/sql-pg`'s client with every query bounded in time, and `PgUnavailable`
 * (which PostgreSQL errors are outages; no driver, `SqlUnavailable` reads it). Not exported by the package root, so
 * that apps on SQLite never load `pg`.
 */

export * as PgStorage from "./pg/PgStorage.js"
export * as PgUnavailable from "./pg/PgUnavailable.js"

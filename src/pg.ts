/**
 * `effect-users/pg`: `PgStorage`, `@effect/sql-pg`'s client with every query bounded in time. Not exported by the
 * package root, so that apps on SQLite never load `pg`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as PgStorage from "./pg/PgStorage.js"

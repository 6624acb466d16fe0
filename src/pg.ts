/**
 * `effect-users/pg`: `PgStorage`, `@effect/sql-pg`'s client with every query bounded in time. Not exported by the
 * package root, so that apps on SQLite never load `pg`.
 */

export * as PgStorage from "./pg/PgStorage.js"

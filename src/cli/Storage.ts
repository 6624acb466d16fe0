/**
 * The database a command works on, named by a URL: `postgres://` / `postgresql://` for PostgreSQL (through
 * `PgStorage`), `sqlite:FILE` or a plain file path for SQLite. Only the chosen driver is loaded.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

/** Where a URL points. */
export type Target =
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string> }
  | { readonly _tag: "Sqlite"; readonly filename: string }

const missing = ConfigError.MissingData(
  ["DATABASE_URL"],
  "DATABASE_URL is not set: set it or pass --database-url (postgres://user@host/db, or an SQLite file: sqlite:app.db)"
)

/** Reads the URL; a missing or unknown one fails with a `ConfigError` naming `DATABASE_URL`. */
export const parse = (url: Redacted.Redacted<string>): Effect.Effect<Target, ConfigError.ConfigError> => {
  const text = Redacted.value(url).trim()
  if (text === "") return Effect.fail(missing)
  if (/^postgres(ql)?:\/\//i.test(text)) return Effect.succeed({ _tag: "Postgres", url: Redacted.make(text) })
  if (/^sqlite:/i.test(text)) {
    // sqlite:app.db, sqlite://app.db (relative) and sqlite:///srv/app.db (absolute).
    const filename = text.replace(/^sqlite:(\/\/)?/i, "")
    return filename === ""
      ? Effect.fail(ConfigError.InvalidData(["DATABASE_URL"], "DATABASE_URL names no SQLite file (sqlite:FILE)"))
      : Effect.succeed({ _tag: "Sqlite", filename })
  }
  // The scheme only: the rest may hold a password.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]
  return scheme === undefined
    ? Effect.succeed({ _tag: "Sqlite", filename: text })
    : Effect.fail(
        ConfigError.InvalidData(
          ["DATABASE_URL"],
          `DATABASE_URL has the unsupported scheme ${scheme}: use postgres://, sqlite: or an SQLite file path`
        )
      )
}

/** The SQL client of the database the URL names. */
export const layer = (
  url: Redacted.Redacted<string>
): Layer.Layer<SqlClient.SqlClient, ConfigError.ConfigError | SqlError> =>
  Layer.unwrapEffect(
    Effect.gen(function* (): Effect.fn.Return<
      Layer.Layer<SqlClient.SqlClient, ConfigError.ConfigError | SqlError>,
      ConfigError.ConfigError
    > {
      const target = yield* parse(url)
      if (target._tag === "Postgres") {
        const PgStorage = yield* Effect.promise(() => import("../pg/PgStorage.js"))
        return PgStorage.layer({ url: target.url })
      }
      const SqliteClient = yield* Effect.promise(() => import("@effect/sql-sqlite-node/SqliteClient"))
      return SqliteClient.layer({ filename: target.filename })
    })
  )

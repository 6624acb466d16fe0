/**
 * PostgreSQL for tests: each test file that calls `freshDatabase()` gets its own database, created before
 * its tests and dropped after them, on the server of DATABASE_URL (or 127.0.0.1:5432).
 */
import { randomBytes } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import { Redacted } from "effect"
import pg from "pg"
import { afterAll, beforeAll, describe, inject } from "vitest"

/** The server's URL, or "" when the PostgreSQL suites are skipped (see PgSetup.ts). */
export const serverUrl = inject("postgresUrl")

/** `describe`, skipped when no PostgreSQL server is available. */
export const describePg = describe.skipIf(serverUrl === "")

const admin = async <A>(f: (client: pg.Client) => Promise<A>) => {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** Registers hooks that create a database for this file and drop it afterwards; returns its URL and a client layer. */
export const freshDatabase = () => {
  const name = `effect_users_test_${randomBytes(6).toString("hex")}`
  const url = serverUrl === "" ? "" : Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString()
  beforeAll(async () => {
    if (serverUrl !== "") await admin((client) => client.query(`CREATE DATABASE "${name}"`))
  })
  afterAll(async () => {
    if (serverUrl !== "") await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
  })
  return {
    name,
    url,
    client: PgClient.layer({ url: Redacted.make(url) }),
    /** Runs one query with plain `pg` on this database. */
    // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
    query: <R extends pg.QueryResultRow = any>(text: string, values?: ReadonlyArray<unknown>) =>
      (async () => {
        const client = new pg.Client({ connectionString: url })
        await client.connect()
        try {
          return (await client.query<R>(text, values as Array<unknown>)).rows
        } finally {
          await client.end()
        }
      })()
  }
}

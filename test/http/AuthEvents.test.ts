/** The security-events suite with the audit log in memory, on SQLite, and on PostgreSQL. */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe } from "@effect/vitest"
import { AuditLog } from "effect-users"
import { SqlAuditLog } from "effect-users/sql"
import { authEventsSuite } from "../suites/AuthEventsSuite.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"

describe("security events", () => {
  authEventsSuite("memory audit log", SqliteClient.layer({ filename: ":memory:" }), AuditLog.layerMemory)
  authEventsSuite("SQL audit log on SQLite", SqliteClient.layer({ filename: ":memory:" }), SqlAuditLog.layer())
})

describePg("security events on PostgreSQL", () => {
  const { client } = freshDatabase()
  authEventsSuite("SQL audit log on PostgreSQL", client, SqlAuditLog.layer())
})

/**
 * vitest global setup: decides once per run whether the PostgreSQL suites run, and says so when they don't.
 */
import pg from "pg"
import type { TestProject } from "vitest/node"

const defaultUrl = "postgres://postgres@127.0.0.1:5432/postgres"

const answers = async (url: string) => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 })
  try {
    await client.connect()
    await client.query("SELECT 1")
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

export default async function setup(project: TestProject) {
  // An explicit DATABASE_URL always runs the suites (a server that is down then fails them loudly).
  const url = process.env.DATABASE_URL ?? ((await answers(defaultUrl)) ? defaultUrl : "")
  if (url === "") {
    console.log(
      "PostgreSQL suites skipped: DATABASE_URL is not set and no PostgreSQL server answers on 127.0.0.1:5432."
    )
  }
  project.provide("postgresUrl", url)
}

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string
  }
}

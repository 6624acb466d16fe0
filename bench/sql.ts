/**
 * SQL repository benchmark (npm run bench:sql): `getByEmail` and `get` on PostgreSQL against the same
 * query sent with plain `pg`, interleaved in one run on a fresh database. Target (issue 3): within 1.3x.
 * Sequential calls measure latency: the coalesced `get` (the default) shows what a lone read pays for
 * sharing queries under load, next to `get` with `coalesceReads: false`.
 */
import { randomBytes } from "node:crypto"
import * as SqlClient from "@effect/sql/SqlClient"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Redacted } from "effect"
import { User, UserRepository } from "effect-users"
import { Migrations, SqlUserRepository } from "effect-users/sql"
import pg from "pg"

const serverUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const name = `effect_users_bench_${randomBytes(4).toString("hex")}`
const url = Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString()
const users = 1_000
const rounds = 2_000
const target = 1.3

const admin = async (text: string) => {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  await client.query(text).finally(() => client.end())
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

const program = Effect.gen(function* () {
  yield* Migrations.run()
  const repository = yield* UserRepository.UserRepository
  const ids: Array<string> = []
  for (let i = 0; i < users; i++) {
    const user = yield* Effect.orDie(
      repository.create({
        id: crypto.randomUUID(),
        email: `Knight.${i}@Camelot.bt`,
        hashedPassword: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        isActive: true,
        isSuperuser: false,
        isVerified: i % 2 === 0
      })
    )
    ids.push(user.id)
  }

  const pool = new pg.Pool({ connectionString: url, max: 1 })
  yield* Effect.addFinalizer(() => Effect.promise(() => pool.end()))
  const columns = `"id", "email", "hashed_password", "is_active", "is_superuser", "is_verified"`
  const plain = {
    getByEmail: (email: string) =>
      pool
        .query(
          `SELECT ${columns} FROM "user" WHERE email_key = $1 OR (email_key IS NULL AND lower(email) = lower($2)) LIMIT 1`,
          [User.emailKey(email), email]
        )
        .then((r) => r.rows[0]),
    get: (id: string) => pool.query(`SELECT ${columns} FROM "user" WHERE id = $1`, [id]).then((r) => r.rows[0])
  }

  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const uncoalesced = yield* SqlUserRepository.make({ coalesceReads: false })
  interface Case {
    readonly name: string
    readonly repository: (i: number) => Effect.Effect<Option.Option<unknown>>
    readonly plain: (i: number) => Promise<unknown>
    /** Printed for information, without a target. */
    readonly info?: boolean
  }
  const cases: Array<Case> = [
    {
      name: "SqlUserRepository.getByEmail",
      repository: (i: number) => repository.getByEmail(`knight.${i % users}@camelot.bt`),
      plain: (i: number) => plain.getByEmail(`knight.${i % users}@camelot.bt`)
    },
    {
      name: "SqlUserRepository.get (coalesceReads: false)",
      repository: (i: number) => uncoalesced.get(ids[i % users]!),
      plain: (i: number) => plain.get(ids[i % users]!)
    }
  ]
  // The default, coalesced read: alone, it waits one event-loop turn for company (information, no target).
  cases.push({
    name: "SqlUserRepository.get, coalesced (the default; alone here)",
    info: true,
    repository: (i: number) => repository.get(ids[i % users]!),
    plain: (i: number) => plain.get(ids[i % users]!)
  })

  // The floor: the same query through @effect/sql alone, without the repository (information, no target).
  cases.push({
    name: "get's query through SqlClient.unsafe (floor)",
    info: true,
    repository: (i: number) =>
      Effect.map(Effect.orDie(sql.unsafe(`SELECT ${columns} FROM "user" WHERE id = $1`, [ids[i % users]!])), (rows) =>
        Option.fromNullable(rows[0])
      ),
    plain: (i: number) => plain.get(ids[i % users]!)
  })

  let failed = false
  for (const c of cases) {
    // Warm-up, then interleave the two sides so that noise on the machine hits both alike.
    for (let i = 0; i < 300; i++) {
      yield* c.repository(i)
      yield* Effect.promise(() => c.plain(i))
    }
    const ours: Array<number> = []
    const theirs: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      let start = performance.now()
      const found = yield* c.repository(i)
      ours.push(performance.now() - start)
      if (Option.isNone(found)) return yield* Effect.dieMessage(`${c.name}: user ${i} not found`)
      start = performance.now()
      yield* Effect.promise(() => c.plain(i))
      theirs.push(performance.now() - start)
    }
    const ratio = median(ours) / median(theirs)
    const ok = ratio <= target
    failed ||= !ok && !c.info
    console.log(
      `${c.info ? "INFO" : ok ? "PASS" : "FAIL"}  ${c.name} / plain pg, median: ${ratio.toFixed(3)}x ` +
        `(${(median(ours) * 1000).toFixed(0)} µs vs ${(median(theirs) * 1000).toFixed(0)} µs; ` +
        `means ${(mean(ours) * 1000).toFixed(0)} vs ${(mean(theirs) * 1000).toFixed(0)} µs; target ≤ ${target}x)`
    )
  }
  return failed
})

await admin(`CREATE DATABASE "${name}"`)
try {
  const failed = await program.pipe(
    Effect.scoped,
    Effect.provide(
      // The repository checks its columns when built: the migrations run first.
      SqlUserRepository.layer().pipe(
        Layer.provide(Migrations.layer()),
        Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))
      )
    ),
    Effect.runPromise
  )
  process.exitCode = failed ? 1 : 0
} finally {
  await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
}

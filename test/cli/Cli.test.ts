/**
 * The administration CLI (`src/cli/`), spawned as a user runs it, on SQLite and PostgreSQL: `npm run users -- ...`
 * once per suite (the script the repository documents), otherwise `node --import tsx src/cli/bin.ts`, which
 * starts faster and is the same program. The installed `bin` is tested from the packed tarball in Package.test.ts.
 */
import { spawn } from "node:child_process"
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Redacted } from "effect"
import { AccessTokenStore, AuthStrategy, SecondFactorStore, UserManager } from "effect-users"
import { SqlSecondFactorStore, SqlUserRepository } from "effect-users/sql"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { testConfig } from "../utils/TestUsers.js"

const root = new URL("../../", import.meta.url).pathname

interface Run {
  readonly code: number | null
  readonly output: string
}

/**
 * Runs the CLI with `args`, `stdin` piped in, and `env` over a copy of this process's environment without
 * DATABASE_URL; through `npm run users --` when `npm` is set.
 */
const cli = (
  args: ReadonlyArray<string>,
  options: { stdin?: string; env?: Record<string, string>; npm?: boolean } = {}
) =>
  new Promise<Run>((resolve, reject) => {
    const [command, commandArgs] = options.npm
      ? ["npm", ["run", "-s", "users", "--", ...args]]
      : [process.execPath, ["--import", "tsx", "src/cli/bin.ts", ...args]]
    const child = spawn(command, commandArgs, {
      cwd: root,
      env: { ...inherited, ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let output = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`effect-users ${args.join(" ")} did not exit within 60 s: ${output}`))
    }, 60_000)
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
    child.stdin.end(options.stdin ?? "")
  })

const { DATABASE_URL: _url, USERS_PASSWORD_POLICY: _policy, ...inherited } = process.env

const run = (args: ReadonlyArray<string>, options: Parameters<typeof cli>[1] = {}) =>
  Effect.promise(() => cli(args, options))

/** Logs in through a manager over the same storage. */
const logIn = (client: Layer.Layer<SqlClient.SqlClient, unknown>, username: string, password: string) =>
  Effect.gen(function* () {
    const manager = yield* UserManager.UserManager
    return yield* manager.authenticate({ username, password: Redacted.make(password) })
  }).pipe(
    Effect.provide(UserManager.layer.pipe(Layer.provide([SqlUserRepository.layer(), testConfig()]))),
    Effect.provide(client),
    Effect.exit
  )

/** A JWT strategy over the same storage: the sessions a revoke must end. */
const withJwt = <A, E>(
  client: Layer.Layer<SqlClient.SqlClient, unknown>,
  f: (jwt: AuthStrategy.AuthStrategy) => Effect.Effect<A, E, UserManager.UserManager>
) =>
  Effect.gen(function* () {
    const jwt = yield* AuthStrategy.jwt({ secret: Redacted.make("cli-test-jwt-secret-0123456789abcdef") })
    return yield* f(jwt)
  }).pipe(
    Effect.provide(
      UserManager.layer.pipe(
        Layer.provideMerge(AccessTokenStore.layerMemory),
        Layer.provide([SqlUserRepository.layer(), testConfig()])
      )
    ),
    Effect.provide(client)
  )

const cliSuite = (
  database: () => { readonly url: string; readonly client: Layer.Layer<SqlClient.SqlClient, unknown> },
  full: boolean
) => {
  const secret = "a superuser's long passphrase"
  const env = () => ({ DATABASE_URL: database().url })

  it.live(
    "migrate creates the tables through npm run users, then finds nothing to do",
    () =>
      Effect.gen(function* () {
        const first = yield* run(["migrate"], { env: env(), npm: true })
        assert.strictEqual(first.code, 0, first.output)
        assert.include(first.output, "Applied 0001_create_user")
        const second = yield* run(["migrate"], { env: env() })
        assert.strictEqual(second.code, 0, second.output)
        assert.include(second.output, "The database is up to date.")
      }),
    120_000
  )

  it.live(
    "create-superuser reads the password from stdin; the superuser then logs in with it",
    () =>
      Effect.gen(function* () {
        const created = yield* run(["create-superuser", "Merlin@camelot.bt"], { stdin: `${secret}\n`, env: env() })
        assert.strictEqual(created.code, 0, created.output)
        assert.include(created.output, "Superuser Merlin@camelot.bt created")
        assert.notInclude(created.output, secret)
        const user = yield* logIn(database().client, "merlin@camelot.bt", secret)
        assert.isTrue(Exit.isSuccess(user))
        if (Exit.isSuccess(user)) {
          assert.isTrue(user.value.isSuperuser)
          assert.isTrue(user.value.isVerified)
          assert.isTrue(user.value.isActive)
        }
        assert.isTrue(Exit.isFailure(yield* logIn(database().client, "merlin@camelot.bt", `${secret}\n`)))
      }),
    120_000
  )

  it.live(
    "users list prints each user with their flags, filtered by --email, and the count",
    () =>
      Effect.gen(function* () {
        const added = yield* run(["create-superuser", "--password-policy", "compat", "nimue@camelot.bt"], {
          stdin: "lady of the lake\n",
          env: env()
        })
        assert.strictEqual(added.code, 0, added.output)
        const [all, some, paged] = yield* Effect.promise(() =>
          Promise.all([
            cli(["users", "list"], { env: env() }),
            cli(["users", "list", "--email", "NIM"], { env: env() }),
            cli(["users", "list", "--limit", "1", "--offset", "1"], { env: env() })
          ])
        )
        assert.strictEqual(all.code, 0, all.output)
        const lines = all.output.trim().split("\n")
        assert.strictEqual(lines.at(-1), "2 of 2 users")
        assert.isTrue(
          lines.some((line) => /\tMerlin@camelot\.bt\tactive\tverified\tsuperuser$/.test(line)),
          all.output
        )
        assert.strictEqual(some.code, 0, some.output)
        assert.include(some.output, "nimue@camelot.bt")
        assert.notInclude(some.output, "Merlin")
        assert.include(some.output, "1 of 1 users")
        assert.include(paged.output, "1 of 2 users")
      }),
    120_000
  )

  it.live(
    "sessions revoke ends a user's sessions (named by e-mail or ID); --database-url stands for DATABASE_URL",
    () =>
      Effect.gen(function* () {
        const client = database().client
        const [user, token] = yield* withJwt(client, (jwt) =>
          Effect.gen(function* () {
            const manager = yield* UserManager.UserManager
            const user = yield* manager.getByEmail("merlin@camelot.bt")
            return [user, yield* jwt.write(user)] as const
          })
        )
        const readToken = withJwt(client, (jwt) => jwt.read(token))
        assert.isTrue(Option.isSome(yield* readToken))
        const revoked = yield* run(["sessions", "revoke", "--database-url", database().url, "MERLIN@camelot.bt"])
        assert.strictEqual(revoked.code, 0, revoked.output)
        assert.include(revoked.output, "Every session of Merlin@camelot.bt has ended.")
        assert.isTrue(Option.isNone(yield* readToken))

        const [, second] = yield* withJwt(client, (jwt) => Effect.map(jwt.write(user), (t) => [user, t] as const))
        const byId = yield* run(["sessions", "revoke", String(user.id)], { env: env() })
        assert.strictEqual(byId.code, 0, byId.output)
        assert.isTrue(Option.isNone(yield* withJwt(client, (jwt) => jwt.read(second))))
      }),
    120_000
  )

  it.live(
    "mfa reset removes a user's TOTP and recovery codes and ends their sessions",
    () =>
      Effect.gen(function* () {
        const client = database().client
        const onStore = <A>(effect: Effect.Effect<A, never, SecondFactorStore.SecondFactorStore>) =>
          Effect.provide(effect, SqlSecondFactorStore.layer().pipe(Layer.provide(client)))
        const [user, token] = yield* withJwt(client, (jwt) =>
          Effect.gen(function* () {
            const user = yield* (yield* UserManager.UserManager).getByEmail("merlin@camelot.bt")
            return [user, yield* jwt.write(user)] as const
          })
        )
        const id = String(user.id)
        yield* onStore(
          Effect.gen(function* () {
            const store = yield* SecondFactorStore.SecondFactorStore
            yield* store.setPending(id, "sealed-secret")
            yield* store.replaceRecoveryCodes(id, ["digest-1", "digest-2"])
          })
        )
        const reset = yield* run(["mfa", "reset", "--database-url", database().url, "merlin@camelot.bt"])
        assert.strictEqual(reset.code, 0, reset.output)
        assert.include(reset.output, "has no second factor now")
        const [totp, left] = yield* onStore(
          Effect.flatMap(SecondFactorStore.SecondFactorStore, (store) =>
            Effect.all([store.totp(id), store.recoveryCodesLeft(id)])
          )
        )
        assert.isTrue(Option.isNone(totp))
        assert.strictEqual(left, 0)
        assert.isTrue(Option.isNone(yield* withJwt(client, (jwt) => jwt.read(token))))
      }),
    120_000
  )

  if (full) {
    it.live(
      "refuses a taken e-mail, a weak password, a bad address, a missing argument and an unknown user",
      () =>
        Effect.gen(function* () {
          const [taken, weak, bad, missing, unknown] = yield* Effect.promise(() =>
            Promise.all([
              cli(["create-superuser", "MERLIN@camelot.bt"], { stdin: `${secret}\n`, env: env() }),
              cli(["create-superuser", "vivien@camelot.bt"], { stdin: "short\n", env: env() }),
              cli(["create-superuser", "not an address"], { stdin: `${secret}\n`, env: env() }),
              cli(["create-superuser"], { stdin: `${secret}\n`, env: env() }),
              cli(["sessions", "revoke", "mordred@camelot.bt"], { env: env() })
            ])
          )
          assert.strictEqual(taken.code, 1)
          assert.include(taken.output, "already exists")
          assert.strictEqual(weak.code, 1)
          assert.include(weak.output, "Password refused: Password should be at least 15 characters")
          assert.strictEqual(bad.code, 1)
          assert.include(bad.output, "Not an e-mail address")
          assert.strictEqual(missing.code, 2)
          assert.include(missing.output, "<email>")
          assert.strictEqual(unknown.code, 1)
          assert.include(unknown.output, 'No user with the e-mail or ID "mordred@camelot.bt".')
          assert.isTrue(Exit.isFailure(yield* logIn(database().client, "vivien@camelot.bt", "short")))
        }),
      120_000
    )
  }
}

describe("the CLI on SQLite (DATABASE_URL=sqlite:FILE)", () => {
  const file = join(tmpdir(), `effect-users-cli-${process.pid}-${Date.now()}.db`)
  cliSuite(() => ({ url: `sqlite:${file}`, client: SqliteClient.layer({ filename: file }) }), true)
  it("cleans up", () => rmSync(file, { force: true }))
})

describePg("the CLI on PostgreSQL (DATABASE_URL=postgres://...)", () => {
  const database = freshDatabase()
  cliSuite(() => database, false)
})

describe("the CLI's usage and configuration", () => {
  it.live(
    "--help describes every command",
    () =>
      Effect.gen(function* () {
        const commands = [
          [[], "Administers the users of an effect-users database"],
          [["migrate"], "Creates or updates the tables"],
          [["create-superuser"], "Creates an active, verified superuser"],
          [["users"], "Users: list"],
          [["users", "list"], "Lists the users in ID order"],
          [["sessions"], "Sessions: revoke"],
          [["sessions", "revoke"], "Ends every session of the user"]
        ] as const
        const runs = yield* Effect.promise(() => Promise.all(commands.map(([args]) => cli([...args, "--help"]))))
        commands.forEach(([args, description], i) => {
          assert.strictEqual(runs[i]!.code, 0, `${args.join(" ")} --help: ${runs[i]!.output}`)
          assert.include(runs[i]!.output, description, args.join(" "))
        })
        assert.include(runs[6]!.output, "--database-url")
      }),
    120_000
  )

  it.live(
    "without a database, on an unmigrated one or an unknown scheme it names what to fix, without a stack trace",
    () =>
      Effect.gen(function* () {
        const file = join(tmpdir(), `effect-users-cli-empty-${process.pid}-${Date.now()}.db`)
        const [none, empty, scheme, unknown] = yield* Effect.promise(() =>
          Promise.all([
            cli(["users", "list"]),
            cli(["users", "list"], { env: { DATABASE_URL: file } }),
            cli(["users", "list", "--database-url", "mysql://root:hunter2@db/app"]),
            cli(["frobnicate"])
          ])
        )
        rmSync(file, { force: true })
        assert.strictEqual(none.code, 1)
        assert.include(none.output, "DATABASE_URL is not set: set it or pass --database-url")
        assert.strictEqual(empty.code, 1)
        assert.include(empty.output, 'The table "user" does not exist: run effect-users\' migrations')
        assert.strictEqual(scheme.code, 1)
        assert.include(scheme.output, "DATABASE_URL has the unsupported scheme mysql")
        assert.notInclude(scheme.output, "hunter2")
        assert.strictEqual(unknown.code, 2)
        for (const { output } of [none, empty, scheme]) assert.notMatch(output, /\n\s+at /)
      }),
    120_000
  )
})

import { spawn } from "node:child_process"
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import { UserManager } from "effect-users"
import { SqlUserRepository } from "effect-users/sql"
import { describePg, freshDatabase } from "./utils/PgTest.js"
import { testConfig } from "./utils/TestUsers.js"

const root = new URL("../", import.meta.url).pathname

/**
 * Runs `npm run users -- ...args` with `stdin` piped in (or, with `direct`, its script without npm, which
 * starts faster); its exit code and output.
 */
const users = (args: ReadonlyArray<string>, stdin: string, env: Record<string, string>, direct = false) =>
  new Promise<{ readonly code: number | null; readonly output: string }>((resolve, reject) => {
    const [command, commandArgs] = direct
      ? [process.execPath, ["--import", "tsx", "examples/users.ts", ...args]]
      : ["npm", ["run", "-s", "users", "--", ...args]]
    const child = spawn(command, commandArgs, {
      cwd: root,
      env: { ...process.env, DATABASE_URL: "", ...env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let output = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`npm run users did not exit within 60 s: ${output}`))
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
    child.stdin.end(stdin)
  })

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

const cliSuite = (
  env: () => Record<string, string>,
  client: () => Layer.Layer<SqlClient.SqlClient, unknown>,
  refusals: boolean
) => {
  const secret = "a superuser's long passphrase"

  it.live("create-superuser reads the password from stdin; the superuser then logs in with it", () =>
    Effect.gen(function* () {
      const created = yield* Effect.promise(() =>
        users(["create-superuser", "Merlin@camelot.bt"], `${secret}\n`, env())
      )
      assert.strictEqual(created.code, 0, created.output)
      assert.include(created.output, "Superuser Merlin@camelot.bt created")
      assert.notInclude(created.output, secret)
      const user = yield* logIn(client(), "merlin@camelot.bt", secret)
      assert.isTrue(Exit.isSuccess(user))
      if (Exit.isSuccess(user)) {
        assert.isTrue(user.value.isSuperuser)
        assert.isTrue(user.value.isVerified)
        assert.isTrue(user.value.isActive)
      }
      assert.isTrue(Exit.isFailure(yield* logIn(client(), "merlin@camelot.bt", `${secret}\n`)))
    })
  )

  if (refusals) {
    it.live("refuses a taken e-mail, a weak password, a bad address and a missing argument", () =>
      Effect.gen(function* () {
        const [taken, weak, bad, missing] = yield* Effect.promise(() =>
          Promise.all([
            users(["create-superuser", "MERLIN@camelot.bt"], `${secret}\n`, env(), true),
            users(["create-superuser", "nimue@camelot.bt"], "short\n", env(), true),
            users(["create-superuser", "not an address"], `${secret}\n`, env(), true),
            users(["create-superuser"], `${secret}\n`, env())
          ])
        )
        assert.strictEqual(taken.code, 1)
        assert.include(taken.output, "already exists")
        assert.strictEqual(weak.code, 1)
        assert.include(weak.output, "Password refused: Password should be at least 15 characters")
        assert.strictEqual(bad.code, 1)
        assert.include(bad.output, "Not an e-mail address")
        assert.strictEqual(missing.code, 2)
        assert.include(missing.output, "usage: npm run users -- create-superuser <email>")
        assert.isTrue(Exit.isFailure(yield* logIn(client(), "nimue@camelot.bt", "short")))
      })
    )
  }
}

describe("npm run users on SQLite (the default storage)", () => {
  const file = join(tmpdir(), `effect-users-cli-${process.pid}-${Date.now()}.db`)
  cliSuite(
    () => ({ SQLITE_FILE: file }),
    () => SqliteClient.layer({ filename: file }),
    true
  )
  it("cleans up", () => rmSync(file, { force: true }))
})

describePg("npm run users on PostgreSQL (DATABASE_URL)", () => {
  const database = freshDatabase()
  cliSuite(
    () => ({ DATABASE_URL: database.url }),
    () => database.client,
    false
  )
})

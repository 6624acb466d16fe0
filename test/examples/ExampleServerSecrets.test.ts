import { spawn } from "node:child_process"
import { generateKeyPairSync } from "node:crypto"
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { checkSecrets, devSecrets, isLoopback } from "../../examples/devSecrets.js"
import { baseEnv, root } from "../utils/ExampleServer.js"
import { freePort } from "../utils/LocalServer.js"

const secrets = {
  USERS_AUTH_SECRET: "a-real-auth-secret-of-at-least-32-bytes!",
  USERS_VERIFICATION_TOKEN_SECRET: "a-real-verify-secret-of-at-least-32-bytes",
  USERS_RESET_PASSWORD_TOKEN_SECRET: "a-real-reset-secret-of-at-least-32-bytes!",
  USERS_MFA_ENCRYPTION_KEY: "a-real-mfa-encryption-key-of-at-least-32-bytes",
  USERS_OUTBOX_SECRET: "a-real-outbox-secret-of-at-least-32-bytes"
}
const names = Object.keys(devSecrets)

/** Runs `npm start`'s script until it prints "Listening on" (then stops it) or exits; its output and exit code. */
const start = async (env: Record<string, string>, timeoutMs = 60_000) => {
  const port = String(await freePort())
  return new Promise<{ readonly code: number | null; readonly output: string; readonly listened: boolean }>(
    (resolve, reject) => {
      const file = join(tmpdir(), `effect-users-secrets-test-${crypto.randomUUID()}.db`)
      const {
        USERS_AUTH_SECRET,
        USERS_VERIFICATION_TOKEN_SECRET,
        USERS_RESET_PASSWORD_TOKEN_SECRET,
        USERS_MFA_ENCRYPTION_KEY,
        USERS_OUTBOX_SECRET,
        ...rest
      } = baseEnv()
      void USERS_MFA_ENCRYPTION_KEY
      void USERS_OUTBOX_SECRET
      void USERS_AUTH_SECRET
      void USERS_VERIFICATION_TOKEN_SECRET
      void USERS_RESET_PASSWORD_TOKEN_SECRET
      const child = spawn(process.execPath, ["--import", "tsx", "examples/server.ts"], {
        cwd: root,
        env: { ...rest, PORT: port, SQLITE_FILE: file, DATABASE_URL: "", REDIS_URL: "", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      let listened = false
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        reject(new Error(`no exit and no "Listening on" within ${timeoutMs} ms: ${output}`))
      }, timeoutMs)
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (!listened && output.includes("Listening on")) {
          listened = true
          child.kill("SIGTERM")
        }
      }
      child.stdout!.on("data", onData)
      child.stderr!.on("data", onData)
      child.on("exit", (code) => {
        clearTimeout(timer)
        rmSync(file, { force: true })
        resolve({ code, output, listened })
      })
    }
  )
}

describe("npm start and the development secrets", () => {
  it("loopback hosts are 127.0.0.0/8, ::1 and localhost; nothing else", () => {
    for (const host of ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"]) {
      assert.isTrue(isLoopback(host), host)
    }
    for (const host of [
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "192.168.1.2",
      "128.0.0.1",
      "127.0.0.1.example.com",
      "example.com"
    ]) {
      assert.isFalse(isLoopback(host), host)
    }
  })

  it("with every secret set, any host is allowed; with one missing, a public host is refused naming it", () => {
    assert.isUndefined(checkSecrets(secrets, "0.0.0.0").refusal)
    assert.deepStrictEqual(checkSecrets(secrets, "0.0.0.0").missing, [])
    const { USERS_RESET_PASSWORD_TOKEN_SECRET, ...two } = secrets
    void USERS_RESET_PASSWORD_TOKEN_SECRET
    const refusal = checkSecrets(two, "10.1.2.3").refusal ?? ""
    assert.include(refusal, "USERS_RESET_PASSWORD_TOKEN_SECRET")
    assert.notInclude(refusal, "USERS_AUTH_SECRET")
    assert.isUndefined(checkSecrets({}, "127.0.0.1").refusal)
  })

  it("with JWT_PRIVATE_KEY, USERS_AUTH_SECRET is not needed; the other secrets still are", () => {
    const { USERS_AUTH_SECRET, ...others } = secrets
    void USERS_AUTH_SECRET
    const keyed = { ...others, JWT_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----..." }
    assert.deepStrictEqual(checkSecrets(keyed, "0.0.0.0"), { missing: [], refusal: undefined })
    const refusal = checkSecrets({ JWT_PRIVATE_KEY: "x" }, "0.0.0.0").refusal ?? ""
    assert.include(refusal, "USERS_VERIFICATION_TOKEN_SECRET")
    assert.notInclude(refusal, "USERS_AUTH_SECRET")
    assert.include(checkSecrets(others, "0.0.0.0").refusal ?? "", "USERS_AUTH_SECRET")
  })

  it("HOST=0.0.0.0 without secrets: exits non-zero before listening, naming the variables to set", async () => {
    const run = await start({ HOST: "0.0.0.0" })
    assert.isFalse(run.listened)
    assert.notStrictEqual(run.code, 0)
    assert.isNotNull(run.code)
    for (const name of names) assert.include(run.output, name)
    assert.include(run.output, "HOST=0.0.0.0")
  }, 60_000)

  it("on 127.0.0.1 without secrets it starts, warning loudly; with them it starts without the warning", async () => {
    const dev = await start({ HOST: "127.0.0.1" })
    assert.isTrue(dev.listened, dev.output)
    assert.include(dev.output, "DEVELOPMENT SECRETS IN USE")
    const real = await start({ HOST: "127.0.0.1", ...secrets })
    assert.isTrue(real.listened, real.output)
    assert.notInclude(real.output, "DEVELOPMENT SECRETS")
    assert.strictEqual(real.code, 0)
  }, 120_000)

  it("with JWT_PRIVATE_KEY it starts without USERS_AUTH_SECRET and no warning; a bad key stops it", async () => {
    const { privateKey } = generateKeyPairSync("ed25519")
    const { USERS_AUTH_SECRET, ...others } = secrets
    void USERS_AUTH_SECRET
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString()
    const keyed = await start({ HOST: "127.0.0.1", ...others, JWT_PRIVATE_KEY: pem })
    assert.isTrue(keyed.listened, keyed.output)
    assert.notInclude(keyed.output, "DEVELOPMENT SECRETS")
    const bad = await start({ HOST: "127.0.0.1", ...others, JWT_PRIVATE_KEY: "not-a-key-hunter2" })
    assert.isFalse(bad.listened)
    assert.notStrictEqual(bad.code, 0)
    assert.include(bad.output, "neither a PEM nor a JWK")
    assert.notInclude(bad.output, "hunter2")
  }, 120_000)
})

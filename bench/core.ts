/**
 * Core benchmarks (npm run bench). Every figure is a ratio against a baseline measured in this same run,
 * so that a shared, noisy machine moves both sides together. Targets come from issue 2.
 */
import * as argon2 from "@node-rs/argon2"
import { Effect, Layer, Redacted } from "effect"
import { TokenCodec, UserManager, UserManagerConfig, UserRepository } from "effect-users"
import * as jose from "jose"

const secret = Redacted.make("bench-secret-bench-secret-bench-secret")
const password = Redacted.make("correct horse battery staple")
const email = "bench@camelot.bt"

const Live = UserManager.layer.pipe(
  Layer.provide(UserRepository.layerMemory),
  Layer.provide(UserManagerConfig.layer({ resetPasswordTokenSecret: secret, verificationTokenSecret: secret }))
)

const now = () => performance.now()
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const fmt = (x: number, digits = 2) => x.toFixed(digits)
const results: Array<{ name: string; value: string; target: string; ok: boolean }> = []
const report = (name: string, value: string, target: string, ok: boolean) => {
  results.push({ name, value, target, ok })
  console.log(`${ok ? "PASS" : "FAIL"}  ${name}: ${value} (target ${target})`)
}

const program = Effect.gen(function* () {
  const users = yield* UserManager.UserManager
  const user = yield* users.create({ email, password })
  const wrong = Redacted.make("wrong horse battery staple")
  const time = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.gen(function* () {
      const start = now()
      yield* Effect.either(effect)
      return now() - start
    })
  const rawVerify = Effect.promise(() => argon2.verify(user.hashedPassword, Redacted.value(password)))

  // Warm up both paths (JIT, argon2's thread pool).
  for (let i = 0; i < 10; i++) {
    yield* rawVerify
    yield* Effect.either(users.authenticate({ username: email, password }))
  }

  // 1. authenticate on the in-memory repository vs one raw argon2 verify, interleaved.
  const raw: Array<number> = []
  const auth: Array<number> = []
  for (let i = 0; i < 150; i++) {
    raw.push(yield* time(rawVerify))
    auth.push(yield* time(users.authenticate({ username: email, password })))
  }
  const authRatio = percentile(auth, 50) / percentile(raw, 50)
  report(
    "authenticate (memory) / raw argon2 verify, median",
    `${fmt(authRatio, 3)}x (${fmt(percentile(auth, 50))} ms vs ${fmt(percentile(raw, 50))} ms)`,
    "<= 1.05x",
    authRatio <= 1.05
  )

  // 2. No user enumeration by timing: unknown e-mail, wrong password, right password, interleaved.
  const cases = {
    unknown: { username: "nobody@camelot.bt", password },
    wrong: { username: email, password: wrong },
    right: { username: email, password }
  }
  const times: Record<keyof typeof cases, Array<number>> = { unknown: [], wrong: [], right: [] }
  for (let i = 0; i < 150; i++) {
    for (const key of Object.keys(cases) as Array<keyof typeof cases>) {
      times[key].push(yield* time(users.authenticate(cases[key])))
    }
  }
  const medians = Object.values(times).map((xs) => percentile(xs, 50))
  const spread = Math.max(...medians) / Math.min(...medians)
  report(
    "authenticate unknown / wrong / right, slowest over fastest median",
    `${fmt(spread, 3)}x (${medians.map((m) => `${fmt(m)} ms`).join(" / ")})`,
    "<= 1.10x",
    spread <= 1.1
  )

  // 3. The event loop under 64 concurrent authenticates: lateness of a 1 ms timer, against an idle loop.
  const timerLateness = (during: Effect.Effect<unknown>) =>
    Effect.gen(function* () {
      const lateness: Array<number> = []
      let running = true
      const tick = () => {
        const expected = now() + 1
        setTimeout(() => {
          lateness.push(now() - expected)
          if (running) tick()
        }, 1)
      }
      tick()
      yield* during
      running = false
      return lateness
    })
  const idle = yield* timerLateness(Effect.sleep("2 seconds"))
  const loaded = yield* timerLateness(
    Effect.forEach(
      Array.from({ length: 10 }),
      () =>
        Effect.all(
          Array.from({ length: 64 }, (_, i) => Effect.either(users.authenticate(i % 2 ? cases.right : cases.unknown))),
          { concurrency: "unbounded" }
        ),
      { discard: true }
    )
  )
  const p99 = percentile(loaded, 99)
  report(
    "1 ms timer lateness p99 under 64 concurrent authenticates",
    `${fmt(p99)} ms (idle p99 ${fmt(percentile(idle, 99))} ms, ratio ${fmt(p99 / Math.max(percentile(idle, 99), 0.01), 1)}x; ${loaded.length} ticks)`,
    "< 10 ms",
    p99 < 10
  )

  // 4. Token issue + verify through the codec vs raw jose.
  const codec = TokenCodec.makeJwt()
  const key = new TextEncoder().encode(Redacted.value(secret))
  const options = { secret, audience: "effect-users:verify", lifetime: "1 hour" as const }
  const n = 4000
  const rawJose = Effect.promise(async () => {
    const start = now()
    for (let i = 0; i < n; i++) {
      const token = await new jose.SignJWT({ sub: "42", email })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setAudience("effect-users:verify")
        .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
        .sign(key)
      await jose.jwtVerify(token, key, { algorithms: ["HS256"], audience: "effect-users:verify" })
    }
    return now() - start
  })
  const ours = Effect.gen(function* () {
    const start = now()
    for (let i = 0; i < n; i++) {
      const token = yield* codec.sign({ sub: "42", email }, options)
      yield* codec.verify(token, options)
    }
    return now() - start
  })
  yield* rawJose
  yield* ours
  const rawMs: Array<number> = []
  const oursMs: Array<number> = []
  for (let i = 0; i < 3; i++) {
    rawMs.push(yield* rawJose)
    oursMs.push(yield* ours)
  }
  const tokenRatio = mean(oursMs) / mean(rawMs)
  report(
    "token issue + verify: codec time / raw jose time",
    `${fmt(tokenRatio, 3)}x (${fmt((n * 1000) / mean(oursMs), 0)} ops/s vs ${fmt((n * 1000) / mean(rawMs), 0)} ops/s)`,
    "<= 1.5x",
    tokenRatio <= 1.5
  )
})

await Effect.runPromise(Effect.provide(program, Live))
const failed = results.filter((r) => !r.ok).length
console.log(`\n${results.length - failed} of ${results.length} targets met`)
process.exitCode = failed === 0 ? 0 : 1

/**
 * Token verification while libuv's thread pool is saturated with argon2 hashes, as during a login flood
 * (npm run bench:codec). For ES256 and EdDSA it measures, in one run: raw node:crypto verify (the baseline),
 * our `JwtKeySet` codec, jose's `jwtVerify` (WebCrypto, which runs on the thread pool), and the HMAC codec.
 * Each variant runs `concurrency` verify loops for `seconds`; the figures are verifies/s and the p99 latency
 * of one verify, and ratios against raw node:crypto of the same algorithm.
 */
import { KeyObject, verify } from "node:crypto"
import * as argon2 from "@node-rs/argon2"
import { Effect, Redacted } from "effect"
import { JwtKeySet, TokenCodec } from "effect-users"
import * as jose from "jose"

const seconds = Number(process.env.BENCH_SECONDS ?? 3)
const concurrency = 8
const hashesInFlight = 16
const options = {
  secret: Redacted.make("bench-secret-bench-secret-bench-secret"),
  audience: "bench",
  lifetime: "1 hour" as const
}

const percentile = (xs: Array<number>, p: number) => {
  xs.sort((a, b) => a - b)
  return xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? Number.NaN
}

/** Keeps `hashesInFlight` argon2 hashes queued on the thread pool until `stop` is called; counts them. */
const saturate = () => {
  let running = true
  let done = 0
  const loop = async () => {
    while (running) {
      await argon2.hash("correct horse battery staple")
      done++
    }
  }
  const loops = Array.from({ length: hashesInFlight }, loop)
  return {
    done: () => done,
    stop: async () => {
      running = false
      await Promise.all(loops)
    }
  }
}

interface Figures {
  readonly perSecond: number
  readonly p99: number
}

/** `concurrency` loops of `run` for `seconds`: verifies per second and p99 latency in ms. */
const measure = async (run: () => Promise<unknown> | unknown): Promise<Figures> => {
  const latencies: Array<number> = []
  const end = performance.now() + seconds * 1000
  const loop = async () => {
    while (performance.now() < end) {
      const started = performance.now()
      await run()
      latencies.push(performance.now() - started)
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, loop))
  return { perSecond: latencies.length / ((performance.now() - started) / 1000), p99: percentile(latencies, 99) }
}

const row = (name: string, figures: Figures, baseline: Figures) =>
  console.log(
    `${name.padEnd(34)} ${figures.perSecond.toFixed(0).padStart(8)}/s  p99 ${figures.p99.toFixed(3).padStart(8)} ms` +
      `   ${(figures.perSecond / baseline.perSecond).toFixed(2)}x verifies/s, ${(figures.p99 / baseline.p99).toFixed(1)}x p99 vs raw`
  )

/** An algorithm's keys, a token our codec signed, and raw node:crypto verify of it. */
const setup = async (alg: "ES256" | "EdDSA") => {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true })
  const keys = await Effect.runPromise(
    JwtKeySet.make({ signing: { privateKey: Redacted.make(await jose.exportPKCS8(privateKey)) } })
  )
  const token = await Effect.runPromise(keys.codec.sign({ sub: "42" }, options))
  const [header, payload, signature] = token.split(".") as [string, string, string]
  const input = Buffer.from(`${header}.${payload}`)
  const signatureBytes = Buffer.from(signature, "base64url")
  const keyObject = KeyObject.from(publicKey)
  const rawKey = alg === "ES256" ? { key: keyObject, dsaEncoding: "ieee-p1363" as const } : keyObject
  const digest = alg === "ES256" ? "sha256" : null
  return {
    alg,
    keys,
    token,
    raw: () => verify(digest, input, rawKey, signatureBytes),
    jose: () => jose.jwtVerify(token, publicKey, { audience: "bench" })
  }
}

const main = async () => {
  const hmac = TokenCodec.makeJwt()
  const hmacToken = await Effect.runPromise(hmac.sign({ sub: "42" }, options))
  const algorithms = [await setup("ES256"), await setup("EdDSA")]
  console.log("Thread pool idle:\n")
  for (const subject of algorithms) {
    const raw = await measure(subject.raw)
    row(`${subject.alg} raw node:crypto.verify`, raw, raw)
    row(`${subject.alg} jose.jwtVerify (WebCrypto)`, await measure(subject.jose), raw)
  }
  const pool = saturate()
  // Let the pool fill before measuring.
  await new Promise((resolve) => setTimeout(resolve, 500))
  console.log(
    `\nThread pool saturated: UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}, ${hashesInFlight} argon2 hashes in flight; ` +
      `${concurrency} verify loops, ${seconds} s each\n`
  )
  const hashesBefore = pool.done()
  const startedAll = performance.now()

  for (const { alg, keys, token, raw: rawVerify, jose: joseVerify } of algorithms) {
    const raw = await measure(rawVerify)
    row(`${alg} raw node:crypto.verify`, raw, raw)
    row(`${alg} JwtKeySet codec`, await measure(() => Effect.runPromise(keys.codec.verify(token, options))), raw)
    row(`${alg} jose.jwtVerify (WebCrypto)`, await measure(joseVerify), raw)
    row(`HS256 codec (vs ${alg} raw)`, await measure(() => Effect.runPromise(hmac.verify(hmacToken, options))), raw)
    console.log("")
  }

  const hashRate = (pool.done() - hashesBefore) / ((performance.now() - startedAll) / 1000)
  console.log(`argon2 hashes completed meanwhile: ${hashRate.toFixed(0)}/s (the pool stayed busy)`)
  await pool.stop()
}

main()

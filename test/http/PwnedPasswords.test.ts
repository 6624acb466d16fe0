/**
 * The breached-password check against a range server of the test's own (a real socket; never the real service):
 * what it refuses and accepts, what leaves the process, and both failure modes.
 */
import { createHash } from "node:crypto"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { FetchHttpClient } from "@effect/platform"
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted } from "effect"
import { IdParser, PasswordHasher, PasswordValidator, UserError, UserManager, UserRepository } from "effect-users"
import { PwnedPasswords } from "effect-users/http"
import { freePort } from "../utils/LocalServer.js"
import { makeFakeHasher, testConfig } from "../utils/TestUsers.js"
import { recordingTracer } from "../utils/Tracing.js"

const sha1 = (text: string) => createHash("sha1").update(text, "utf8").digest("hex").toUpperCase()

const breached = "violet kettle harbour drums"
const padded = "amber lantern orchard seventeen"
const unknown = "quiet meadow copper fiddle"

interface Seen {
  readonly url: string
  readonly method: string
  readonly headers: IncomingHttpHeaders
}

// The range server: `mode` says how it answers the next requests; `seen` records them.
let mode: "answer" | "lower" | "slow" | "error" = "answer"
const seen: Array<Seen> = []
const rangeBody = (prefix: string) =>
  [...[breached, padded].filter((text) => sha1(text).startsWith(prefix)), "not-a-password-at-all"]
    .map((text) => `${sha1(text).slice(5)}:${text === breached ? 42 : 0}`)
    .concat(["0018A45C4D1DEF81644B54AB7F969B88D65:1", "garbage line"])
    .join("\r\n")
const server = createServer((request, response) => {
  seen.push({ url: request.url ?? "", method: request.method ?? "", headers: request.headers })
  if (mode === "error") return void response.writeHead(503).end("overloaded")
  if (mode === "slow") return void setTimeout(() => response.writeHead(200).end(""), 2_000).unref()
  const prefix = /^\/range\/([0-9A-F]{5})$/.exec(request.url ?? "")?.[1]
  if (prefix === undefined) return void response.writeHead(404).end()
  const body = rangeBody(prefix)
  response.writeHead(200, { "content-type": "text/plain" }).end(mode === "lower" ? body.toLowerCase() : body)
})
let baseUrl = ""
beforeAll(
  () =>
    new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", () => {
        baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        resolve()
      })
    )
)
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
beforeEach(() => {
  mode = "answer"
  seen.length = 0
})

const owner = { email: "gawain@camelot.bt" }
const checkWith = (options: PwnedPasswords.PwnedPasswordsOptions, text: string) =>
  PwnedPasswords.make({ baseUrl, ...options }).pipe(
    Effect.flatMap((rule) => Effect.exit(rule(Redacted.make(text), owner))),
    Effect.provide(FetchHttpClient.layer)
  )
const check = (text: string) => checkWith({}, text)

const reasonOf = (exit: Exit.Exit<unknown, { readonly _tag: string }>) => {
  const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
  return error instanceof UserError.InvalidPassword ? error.reason : error?._tag
}
const diesUnavailable = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) && Cause.squash(exit.cause) instanceof UserError.ServiceUnavailable

describe("PwnedPasswords", () => {
  it.live("refuses a password the range API lists; accepts one it does not, or lists with count 0 (padding)", () =>
    Effect.gen(function* () {
      assert.strictEqual(reasonOf(yield* check(breached)), "Password has appeared in a data breach")
      assert.isTrue(Exit.isSuccess(yield* check(padded)))
      assert.isTrue(Exit.isSuccess(yield* check(unknown)))
      assert.strictEqual(seen.length, 3)
    })
  )

  it.live("reads the suffixes in any case (a mirror answering in lower case still refuses a breached password)", () =>
    Effect.gen(function* () {
      mode = "lower"
      assert.strictEqual(reasonOf(yield* check(breached)), "Password has appeared in a data breach")
      assert.isTrue(Exit.isSuccess(yield* check(padded)))
    })
  )

  it.live("sends only the first 5 hex characters of the SHA-1, with Add-Padding: true and no trace header", () =>
    Effect.gen(function* () {
      // Inside a span, as in a request: its trace context is not sent either.
      yield* check(breached).pipe(Effect.withSpan("register"))
      assert.strictEqual(seen.length, 1)
      const [request] = seen
      const hash = sha1(breached)
      assert.strictEqual(request!.method, "GET")
      assert.strictEqual(request!.url, `/range/${hash.slice(0, 5)}`)
      assert.strictEqual(request!.headers["add-padding"], "true")
      for (const name of ["traceparent", "b3", "x-b3-traceid"]) assert.notProperty(request!.headers, name)
      const sent = JSON.stringify(request).toUpperCase()
      assert.notInclude(sent, hash.slice(5))
      assert.notInclude(sent, breached.toUpperCase())
    })
  )

  it.live("no span records the prefix (the client's span, with its URL, is off); the check has a span of its own", () =>
    Effect.gen(function* () {
      const { recorded, tracer } = recordingTracer()
      yield* check(breached).pipe(Effect.withSpan("register"), Effect.withTracer(tracer))
      const spans = recorded.flatMap((entry) => ("name" in entry ? [entry] : []))
      assert.deepStrictEqual(
        spans.map((span) => span.name),
        ["PwnedPasswords.check", "register"]
      )
      assert.notInclude(JSON.stringify(recorded), `/range/${sha1(breached).slice(0, 5)}`)
    })
  )

  it.live("a base URL with a trailing slash", () =>
    Effect.gen(function* () {
      yield* checkWith({ baseUrl: `${baseUrl}/` }, unknown)
      assert.strictEqual(seen[0]!.url, `/range/${sha1(unknown).slice(0, 5)}`)
    })
  )

  describe("when the service does not answer in time, answers an error, or cannot be reached", () => {
    const failures = {
      timeout: () => {
        mode = "slow"
        return Effect.succeed(baseUrl)
      },
      "a 5xx status": () => {
        mode = "error"
        return Effect.succeed(baseUrl)
      },
      "a refused connection": () =>
        Effect.promise(() => freePort()).pipe(Effect.map((port) => `http://127.0.0.1:${port}`))
    }
    for (const [name, arrange] of Object.entries(failures)) {
      it.live(`${name}: accepted when failing open (the default)`, () =>
        Effect.gen(function* () {
          const url = yield* arrange()
          assert.isTrue(Exit.isSuccess(yield* checkWith({ baseUrl: url, timeout: "200 millis" }, breached)))
        })
      )
      it.live(`${name}: dies with ServiceUnavailable when failing closed`, () =>
        Effect.gen(function* () {
          const url = yield* arrange()
          const exit = yield* checkWith({ baseUrl: url, timeout: "200 millis", failOpen: false }, breached)
          assert.isTrue(diesUnavailable(exit))
          const error = Cause.squash((exit as Exit.Failure<void, never>).cause) as UserError.ServiceUnavailable
          assert.strictEqual(error.retryAfter, PwnedPasswords.retryAfter)
          assert.notInclude(error.reason, sha1(breached).slice(0, 5))
        })
      )
    }
  })

  describe("layer: after the policy in context", () => {
    const Validator = (options: PwnedPasswords.PwnedPasswordsOptions = {}) =>
      PwnedPasswords.layer({ baseUrl, ...options }).pipe(
        Layer.provide(PasswordValidator.layer(PasswordValidator.nist)),
        Layer.provide(FetchHttpClient.layer)
      )
    const Users = (options?: PwnedPasswords.PwnedPasswordsOptions) =>
      UserManager.layer.pipe(
        Layer.provide([
          UserRepository.layerMemory,
          testConfig(),
          IdParser.layerUuid,
          PasswordHasher.layer(makeFakeHasher().service),
          Validator(options)
        ])
      )

    it.live("a password the local rules refuse is never sent; one they accept is checked", () =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const register = (text: string) =>
          Effect.exit(users.create({ email: `lancelot.${seen.length}@joyous-gard.bt`, password: Redacted.make(text) }))
        assert.strictEqual(reasonOf(yield* register("short one")), "Password should be at least 15 characters")
        assert.strictEqual(reasonOf(yield* register("1234567890qwertyuiop")), "Password is too common")
        assert.strictEqual(seen.length, 0)
        assert.strictEqual(reasonOf(yield* register(breached)), "Password has appeared in a data breach")
        assert.isTrue(Exit.isSuccess(yield* register(unknown)))
        assert.strictEqual(seen.length, 2)
      }).pipe(Effect.provide(Users()))
    )

    it.live("failing closed, a registration during an outage dies with ServiceUnavailable and creates no user", () =>
      Effect.gen(function* () {
        mode = "error"
        const users = yield* UserManager.UserManager
        const email = "bors@corbenic.bt"
        const exit = yield* Effect.exit(users.create({ email, password: Redacted.make(unknown) }))
        assert.isTrue(Exit.isFailure(exit) && Cause.squash(exit.cause) instanceof UserError.ServiceUnavailable)
        assert.isTrue(Option.isNone(yield* Effect.option(users.getByEmail(email))))
      }).pipe(Effect.provide(Users({ failOpen: false })))
    )
  })
})

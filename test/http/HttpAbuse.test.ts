/**
 * The abuse suite (issue 8): what an attacker can send over HTTP is bounded and answered with a 4xx, never a
 * 500, a hang or an echo of a secret. Run over a real server on SQLite and PostgreSQL.
 */
import { execFile } from "node:child_process"
import { request as httpRequest, type IncomingHttpHeaders } from "node:http"
import { HttpServer } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, type Layer, Option, Redacted } from "effect"
import { UserManager } from "effect-users"
import { makeServer, nextToken, request } from "../utils/HttpTest.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"
import { freshEmail } from "../utils/TestUsers.js"

const password = "correct-horse-battery"
const limit = 64 * 1024

interface RawReply {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/**
 * A `node:http` POST whose body is `prefix` then `total` bytes of "a", written in 64 KiB chunks with
 * back-pressure until the response arrives; chunked unless `contentLength`.
 */
const streamed = (
  port: number,
  options: { readonly path: string; readonly total: number; readonly prefix?: string; readonly contentLength?: boolean }
) =>
  new Promise<RawReply>((resolve, reject) => {
    const prefix = options.prefix ?? ""
    const headers: Record<string, string> = { "content-type": "application/json" }
    if (options.contentLength) headers["content-length"] = String(Buffer.byteLength(prefix) + options.total)
    const req = httpRequest({ host: "127.0.0.1", port, method: "POST", path: options.path, headers })
    let responded = false
    req.on("response", (res) => {
      responded = true
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => {
        body += chunk
      })
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
      res.on("end", done)
      res.on("error", done)
    })
    // Writes fail once the server has answered and closed the connection: that is the point.
    req.on("error", (error) => {
      if (!responded) reject(error)
    })
    const chunk = Buffer.alloc(64 * 1024, "a")
    let written = 0
    req.write(prefix)
    const pump = () => {
      while (!responded && written < options.total) {
        const size = Math.min(chunk.length, options.total - written)
        written += size
        if (!req.write(size === chunk.length ? chunk : chunk.subarray(0, size))) {
          req.once("drain", pump)
          return
        }
      }
      if (!responded) req.end()
    }
    pump()
  })

/** A body sent in two chunks without Content-Length. */
const chunked = (port: number, path: string, body: string, contentType: string, cookie?: string) =>
  new Promise<RawReply>((resolve, reject) => {
    const headers: Record<string, string> = { "content-type": contentType }
    if (cookie !== undefined) headers.cookie = cookie
    const req = httpRequest({ host: "127.0.0.1", port, method: "POST", path, headers })
    req.on("response", (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => {
        text += chunk
      })
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on("error", reject)
    const middle = Math.floor(body.length / 2)
    req.write(body.slice(0, middle))
    req.write(body.slice(middle))
    req.end()
  })

/**
 * A Node script (argument: the port) that sends six 60 MB bodies to /auth/register at once, three chunked and
 * three with Content-Length, writing until the reply arrives, three times; prints "status body" or "ERR code" per upload.
 */
const sixUploads = `
const http = require("node:http")
const port = Number(process.argv[1])
const upload = (chunked) => new Promise((resolve) => {
  const headers = { "content-type": "application/json" }
  if (!chunked) headers["content-length"] = String(60 * 1024 * 1024)
  const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/auth/register", headers })
  let done = false
  req.on("response", (res) => {
    done = true
    let body = ""
    res.on("data", (chunk) => { body += chunk })
    res.on("end", () => resolve(res.statusCode + " " + body))
  })
  req.on("error", (error) => { if (!done) resolve("ERR " + error.code) })
  const chunk = Buffer.alloc(64 * 1024, "a")
  let sent = 0
  const pump = () => {
    while (!done && sent < 60 * 1024 * 1024) {
      sent += chunk.length
      if (!req.write(chunk)) return req.once("drain", pump)
    }
    if (!done) req.end()
  }
  pump()
})
const rounds = async () => {
  const lines = []
  for (let round = 0; round < 3; round++) lines.push(...(await Promise.all([true, false, true, false, true, false].map(upload))))
  console.log(lines.join("\\n"))
}
rounds()
`

const serverPort = Effect.map(HttpServer.HttpServer, (server) => (server.address as HttpServer.TcpAddress).port)

const multipart = (fields: Record<string, string>) => {
  const boundary = "----abuse-boundary"
  const body = `${Object.entries(fields)
    .map(([key, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${key}"\r\n\r\n${value}\r\n`)
    .join("")}--${boundary}--\r\n`
  return { body, headers: { "content-type": `multipart/form-data; boundary=${boundary}` } }
}

/** The same fields in each content type a browser sends cross-site without a preflight, and none at all. */
const hostileBodies = (fields: Record<string, string>) => [
  { body: new URLSearchParams(fields).toString(), headers: { "content-type": "application/x-www-form-urlencoded" } },
  { body: JSON.stringify(fields), headers: { "content-type": "text/plain" } },
  { body: JSON.stringify(fields), headers: { "content-type": "text/plain;charset=UTF-8" } },
  multipart(fields),
  { body: JSON.stringify(fields), headers: { "content-type": "application/jsonp" } },
  { body: JSON.stringify(fields), headers: {} as Record<string, string> }
]

const abuseSuite = (name: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const server = makeServer(client)
  const { hooks } = server

  layer(server.layer, { excludeTestServices: true })(name, (it) => {
    const login = (email: string, pass = password) =>
      Effect.map(
        request("/auth/jwt/login", { form: { username: email, password: pass } }),
        (reply) => reply.body.access_token as string
      )

    const registered = (flags: { isSuperuser?: boolean } = {}) =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const email = freshEmail("abuse")
        const user = yield* users.create({ email, password: Redacted.make(password), ...flags }).pipe(Effect.orDie)
        const token = yield* login(email)
        return { email, user, token, auth: { authorization: `Bearer ${token}` } }
      })

    const exists = (email: string) =>
      Effect.flatMap(UserManager.UserManager, (users) =>
        Effect.map(Effect.option(users.getByEmail(email)), Option.isSome)
      )

    it.effect("a Content-Length above the limit: 413 PAYLOAD_TOO_LARGE before parsing; nobody registered", () =>
      Effect.gen(function* () {
        const email = freshEmail("big")
        const body = JSON.stringify({ email, password: "p".repeat(limit) })
        const reply = yield* request("/auth/register", { body, headers: { "content-type": "application/json" } })
        assert.deepStrictEqual([reply.status, reply.body], [413, { detail: "PAYLOAD_TOO_LARGE" }])
        assert.isFalse(yield* exists(email))
        // A body that would be refused for its content type is refused for its size first.
        assert.strictEqual((yield* request("/auth/jwt/login", { body: "x".repeat(limit + 1) })).status, 413)
        // At the limit exactly, the request is handled (the password is then too long: 422).
        const filler = limit - JSON.stringify({ email, password: "" }).length
        const atLimit = yield* request("/auth/register", {
          body: JSON.stringify({ email, password: "p".repeat(filler) }),
          headers: { "content-type": "application/json" }
        })
        assert.strictEqual(atLimit.status, 422)
      })
    )

    it.effect("a chunked body is cut off once it passes the limit: 413; under it, chunked bodies work", () =>
      Effect.gen(function* () {
        const port = yield* serverPort
        const email = freshEmail("chunked")
        const prefix = `{"email":"${email}","password":"`
        const big = yield* Effect.promise(() => streamed(port, { path: "/auth/register", total: 4 * limit, prefix }))
        assert.deepStrictEqual([big.status, JSON.parse(big.body)], [413, { detail: "PAYLOAD_TOO_LARGE" }])
        assert.strictEqual(big.headers.connection, "close")
        assert.isFalse(yield* exists(email))

        const small = yield* Effect.promise(() =>
          chunked(port, "/auth/register", JSON.stringify({ email, password }), "application/json")
        )
        assert.strictEqual(small.status, 201, small.body)
        const form = new URLSearchParams({ username: email, password }).toString()
        const logged = yield* Effect.promise(() =>
          chunked(port, "/auth/jwt/login", form, "application/x-www-form-urlencoded")
        )
        assert.strictEqual(logged.status, 200, logged.body)
        assert.isString(JSON.parse(logged.body).access_token)
        const broken = yield* Effect.promise(() => chunked(port, "/auth/verify", "{not json", "application/json"))
        assert.strictEqual(broken.status, 422)
      })
    )

    it.effect("6 x 3 uploads of 60 MB from another process, 6 at once: every client reads its 413, none is reset", () =>
      Effect.gen(function* () {
        const port = yield* serverPort
        // In the server's own process the client reads the 413 before the reset lands; an outsider does not.
        const replies = yield* Effect.async<ReadonlyArray<string>>((resume) => {
          const child = execFile(process.execPath, ["-e", sixUploads, String(port)], { timeout: 30_000 }, (_, out) =>
            resume(Effect.succeed(out.trim().split("\n")))
          )
          return Effect.sync(() => child.kill())
        })
        assert.deepStrictEqual(replies, Array(18).fill(`413 ${JSON.stringify({ detail: "PAYLOAD_TOO_LARGE" })}`))
        assert.strictEqual((yield* request("/greetings/ping")).status, 200)
      })
    )

    it.effect("every JSON route answers 415 UNSUPPORTED_MEDIA_TYPE to form, text, multipart and untyped bodies", () =>
      Effect.gen(function* () {
        const { auth, user } = yield* registered({ isSuperuser: true })
        const routes = [
          { path: "/auth/register", method: "POST", fields: { email: freshEmail("form"), password } },
          { path: "/auth/forgot-password", method: "POST", fields: { email: freshEmail() } },
          { path: "/auth/request-verify-token", method: "POST", fields: { email: freshEmail() } },
          { path: "/auth/reset-password", method: "POST", fields: { token: "t", password } },
          { path: "/auth/verify", method: "POST", fields: { token: "t" } },
          { path: "/users/me", method: "PATCH", fields: { email: freshEmail("patched") } },
          { path: `/users/${user.id}`, method: "PATCH", fields: { email: freshEmail("patched") } }
        ]
        for (const route of routes) {
          for (const hostile of hostileBodies(route.fields)) {
            const reply = yield* request(route.path, {
              method: route.method,
              body: hostile.body,
              headers: { ...auth, ...hostile.headers }
            })
            const label = `${route.method} ${route.path} ${hostile.headers["content-type"]}`
            assert.deepStrictEqual([reply.status, reply.body], [415, { detail: "UNSUPPORTED_MEDIA_TYPE" }], label)
          }
        }
        assert.isFalse(yield* exists(routes[0]!.fields.email!))
        assert.strictEqual(hooks.named("onAfterForgotPassword").length, 0)
        // A charset parameter is fine.
        const typed = yield* request("/auth/register", {
          body: JSON.stringify({ email: freshEmail("charset"), password }),
          headers: { "content-type": "Application/JSON; charset=utf-8" }
        })
        assert.strictEqual(typed.status, 201)
      })
    )

    it.effect("PATCH /users/me with the cookie and a cross-site form body: 415, the e-mail stays", () =>
      Effect.gen(function* () {
        const { email } = yield* registered()
        const cookieLogin = yield* request("/auth/cookie/login", { form: { username: email, password } })
        const cookie = /^(fastapiusersauth=[^;]*)/.exec(cookieLogin.headers.get("set-cookie") ?? "")![1]!
        const attacker = freshEmail("attacker")
        for (const hostile of hostileBodies({ email: attacker })) {
          const reply = yield* request("/users/me", {
            method: "PATCH",
            body: hostile.body,
            headers: { cookie, ...hostile.headers }
          })
          assert.strictEqual(reply.status, 415)
        }
        const me = yield* request("/users/me", { headers: { cookie } })
        assert.strictEqual(me.body.email, email)
        assert.isFalse(yield* exists(attacker))
      })
    )

    it.effect("login takes the form or JSON; multipart and text are 415 and never echo the password", () =>
      Effect.gen(function* () {
        const { email } = yield* registered()
        const json = yield* request("/auth/jwt/login", { json: { username: email, password } })
        assert.strictEqual(json.status, 200)
        assert.strictEqual(json.body.token_type, "bearer")
        const me = yield* request("/users/me", { headers: { authorization: `Bearer ${json.body.access_token}` } })
        assert.strictEqual(me.body.email, email)
        const cookie = yield* request("/auth/cookie/login", { json: { username: email, password } })
        assert.strictEqual(cookie.status, 204)
        assert.match(cookie.headers.get("set-cookie") ?? "", /^fastapiusersauth=/)
        const wrong = yield* request("/auth/jwt/login", { json: { username: email, password: "wrong-password" } })
        assert.deepStrictEqual([wrong.status, wrong.body], [400, { detail: "LOGIN_BAD_CREDENTIALS" }])

        const secret = "Sw0rdfish-in-the-body"
        const hostile = [
          multipart({ username: email, password: secret }),
          { body: `username=${email}&password=${secret}`, headers: { "content-type": "text/plain" } },
          { body: `username=${email}&password=${secret}`, headers: {} }
        ]
        for (const body of hostile) {
          const reply = yield* request("/auth/jwt/login", body)
          assert.deepStrictEqual([reply.status, reply.body], [415, { detail: "UNSUPPORTED_MEDIA_TYPE" }])
        }
      })
    )

    it.effect("422 names the field and the problem, never the value: passwords, tokens, e-mails", () =>
      Effect.gen(function* () {
        const marker = "Hunter2-SECRET-marker"
        const cases = [
          { path: "/auth/register", json: { email: freshEmail(), password: [marker] }, field: "password" },
          { path: "/auth/register", json: { email: `${marker}@`, password }, field: "email" },
          { path: "/auth/jwt/login", json: { username: "a@b.c", password: { value: marker } }, field: "password" },
          { path: "/auth/jwt/login", json: marker, field: undefined },
          { path: "/auth/verify", json: { token: [marker] }, field: "token" },
          { path: "/auth/reset-password", json: { token: marker, password: 12345678 }, field: "password" },
          { path: "/auth/reset-password", json: { token: { t: marker }, password }, field: "token" },
          { path: "/auth/forgot-password", json: { email: { marker } }, field: "email" }
        ]
        for (const { field, json, path } of cases) {
          const reply = yield* request(path, { json })
          const text = JSON.stringify(reply.body)
          assert.strictEqual(reply.status, 422, `${path} ${text}`)
          assert.notInclude(text, marker, path)
          assert.notInclude(text, "12345678", path)
          assert.notInclude(text, "actual", path)
          if (field !== undefined)
            assert.deepInclude(
              // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
              reply.body.detail.map((issue: any) => issue.loc),
              ["body", field]
            )
          for (const issue of reply.body.detail) assert.isAbove(issue.msg.length, 0)
        }
      })
    )

    it.effect("deeply nested JSON is a 422 on every JSON route, not a stack overflow (500)", () =>
      Effect.gen(function* () {
        const { auth } = yield* registered()
        const deep = "[".repeat(20_000) + "]".repeat(20_000)
        const bodies = [deep, `{"email":${deep},"password":"x"}`, `{"token":{"a":${deep}}}`]
        for (const path of ["/auth/register", "/auth/jwt/login", "/auth/verify", "/auth/reset-password", "/users/me"]) {
          for (const body of bodies) {
            const reply = yield* request(path, {
              method: path === "/users/me" ? "PATCH" : "POST",
              body,
              headers: { ...auth, "content-type": "application/json" }
            })
            assert.strictEqual(reply.status, 422, path)
            assert.deepStrictEqual(reply.body.detail[0].loc, ["body"])
          }
        }
        // Brackets inside strings are text, not nesting.
        const email = freshEmail("brackets")
        const ok = yield* request("/auth/register", { json: { email, password: `${"[".repeat(100)}-horse` } })
        assert.strictEqual(ok.status, 201)
      })
    )

    it.effect("oversized fields are 422 before any work: token 8 KiB, password 4 KiB, username 320", () =>
      Effect.gen(function* () {
        const { auth, email } = yield* registered()
        const token = "t".repeat(8193)
        const long = "p".repeat(4097)
        const cases = [
          { path: "/auth/verify", json: { token }, field: "token" },
          { path: "/auth/reset-password", json: { token, password }, field: "token" },
          { path: "/auth/reset-password", json: { token: "t", password: long }, field: "password" },
          { path: "/auth/register", json: { email: freshEmail(), password: long }, field: "password" },
          { path: "/auth/jwt/login", json: { username: email, password: long }, field: "password" },
          { path: "/auth/jwt/login", json: { username: `${"u".repeat(320)}@b.c`, password }, field: "username" }
        ]
        for (const { field, json, path } of cases) {
          const reply = yield* request(path, { json })
          assert.strictEqual(reply.status, 422, path)
          assert.deepInclude(
            // biome-ignore lint/suspicious/noExplicitAny: a test helper over every user model or an untyped JSON reply
            reply.body.detail.map((issue: any) => issue.loc),
            ["body", field]
          )
          assert.notInclude(JSON.stringify(reply.body), "ttttttttt")
          assert.notInclude(JSON.stringify(reply.body), "ppppppppp")
        }
        const patched = yield* request("/users/me", { method: "PATCH", json: { password: long }, headers: auth })
        assert.strictEqual(patched.status, 422)
        // At the maximum a token is read (and refused as a token: 400).
        const atMax = yield* request("/auth/verify", { json: { token: "t".repeat(8192) } })
        assert.deepStrictEqual([atMax.status, atMax.body], [400, { detail: "VERIFY_USER_BAD_TOKEN" }])
      })
    )

    it.effect(
      "e-mails with lone surrogates, private-use, noncharacters or malformed UTF-8: 422, nobody registered",
      () =>
        Effect.gen(function* () {
          const { auth } = yield* registered()
          for (const odd of ["\ud800", "\udfff", "\ue000", "\u{f0000}", "\uffff", "\ufdd0", "\u{10ffff}", "\ufffd"]) {
            const email = freshEmail(`odd${odd}x`)
            const reply = yield* request("/auth/register", { json: { email, password } })
            assert.strictEqual(reply.status, 422, JSON.stringify(odd))
            assert.deepStrictEqual(reply.body.detail[0].loc, ["body", "email"])
            assert.isFalse(yield* exists(email), JSON.stringify(odd))
            const patched = yield* request("/users/me", { method: "PATCH", json: { email }, headers: auth })
            assert.strictEqual(patched.status, 422, JSON.stringify(odd))
          }
          // Bytes that are not UTF-8 decode to U+FFFD: the account would not hold the address that was sent.
          const email = freshEmail("bytes")
          const [local, domain] = email.split("@")
          const port = yield* serverPort
          const body = Buffer.concat([
            Buffer.from(`{"email":"${local}`),
            Buffer.from([0xff, 0xfe, 0xc3]),
            Buffer.from(`@${domain}","password":"${password}"}`)
          ])
          const reply = yield* Effect.promise(() =>
            fetch(`http://127.0.0.1:${port}/auth/register`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body
            }).then(async (response) => ({
              status: response.status,
              body: (await response.json()) as { detail: Array<{ loc: Array<string> }> }
            }))
          )
          assert.strictEqual(reply.status, 422)
          assert.deepStrictEqual(reply.body.detail[0]?.loc, ["body", "email"])
          assert.isFalse(yield* exists(`${local}\ufffd\ufffd\ufffd@${domain}`))
        })
    )

    it.effect("token-bearing and user responses carry Cache-Control: no-store", () =>
      Effect.gen(function* () {
        const noStore = (reply: { headers: Headers; status: number }, label: string) => {
          assert.isBelow(reply.status, 300, label)
          assert.strictEqual(reply.headers.get("cache-control"), "no-store", label)
        }
        const email = freshEmail("nostore")
        noStore(yield* request("/auth/register", { json: { email, password } }), "register")
        const bearer = yield* request("/auth/jwt/login", { form: { username: email, password } })
        noStore(bearer, "bearer login")
        const auth = { authorization: `Bearer ${bearer.body.access_token}` }
        const cookieLogin = yield* request("/auth/cookie/login", { form: { username: email, password } })
        noStore(cookieLogin, "cookie login")
        const cookie = /^(fastapiusersauth=[^;]*)/.exec(cookieLogin.headers.get("set-cookie") ?? "")![1]!
        noStore(yield* request("/users/me", { headers: auth }), "GET /users/me")
        noStore(yield* request("/users/me", { headers: { cookie } }), "GET /users/me (cookie)")
        noStore(
          yield* request("/users/me", { method: "PATCH", json: { is_active: true }, headers: auth }),
          "PATCH /users/me"
        )
        // Both hooks run after the 202, in the background: wait for their tokens.
        const verifyCalls = hooks.named("onAfterRequestVerify").length
        yield* request("/auth/request-verify-token", { json: { email } })
        const verifyToken = yield* nextToken(hooks, "onAfterRequestVerify", verifyCalls)
        noStore(yield* request("/auth/verify", { json: { token: verifyToken } }), "verify")
        const resetCalls = hooks.named("onAfterForgotPassword").length
        yield* request("/auth/forgot-password", { json: { email } })
        const resetToken = yield* nextToken(hooks, "onAfterForgotPassword", resetCalls)
        // Logout before the reset, which ends every session of the user.
        noStore(yield* request("/auth/cookie/logout", { method: "POST", headers: { cookie } }), "cookie logout")
        const reset = yield* request("/auth/reset-password", {
          json: { token: resetToken, password: "another-horse-battery" }
        })
        noStore(reset, "reset")

        const admin = yield* registered({ isSuperuser: true })
        const target = yield* registered()
        const path = `/users/${target.user.id}`
        noStore(yield* request(path, { headers: admin.auth }), "GET /users/{id}")
        noStore(
          yield* request(path, { method: "PATCH", json: { is_verified: true }, headers: admin.auth }),
          "PATCH /users/{id}"
        )
        noStore(yield* request(path, { method: "DELETE", headers: admin.auth }), "DELETE /users/{id}")
        noStore(yield* request("/auth/jwt/logout", { method: "POST", headers: admin.auth }), "bearer logout")
      })
    )

    it.effect(
      "while a 60 MB body is refused, another endpoint answers within 150 ms",
      () =>
        Effect.gen(function* () {
          const port = yield* serverPort
          const ping = async () => {
            const start = performance.now()
            const reply = await fetch(`http://127.0.0.1:${port}/greetings/ping`)
            await reply.text()
            assert.strictEqual(reply.status, 200)
            return performance.now() - start
          }
          /** The worst ping while one maximal body is sent and refused (at least 5 pings). */
          const attempt = (contentLength: boolean) =>
            Effect.promise(async () => {
              await ping()
              let finished = false
              const big = streamed(port, {
                path: "/auth/register",
                total: 60 * 1024 * 1024,
                prefix: `{"email":"${freshEmail("huge")}","password":"`,
                contentLength
              }).finally(() => {
                finished = true
              })
              const latencies: Array<number> = []
              while (!finished || latencies.length < 5) latencies.push(await ping())
              assert.strictEqual((await big).status, 413)
              return Math.max(...latencies)
            })
          for (const contentLength of [false, true]) {
            // A body parsed or buffered whole blocks the loop for 430-780 ms here; an idle ping is 1-20 ms, and a
            // busy shared machine stretches one attempt now and then, so the best of three must stay under 150 ms.
            const worst: Array<number> = []
            while (worst.length < 3 && !worst.some((ms) => ms < 150)) worst.push(yield* attempt(contentLength))
            const label = `worst pings ${worst.map((ms) => ms.toFixed(1)).join(", ")} ms`
            assert.isTrue(
              worst.some((ms) => ms < 150),
              `${label} (${contentLength ? "Content-Length" : "chunked"})`
            )
          }
        }),
      60_000
    )
  })
}

describe("HTTP abuse on SQLite", () => {
  abuseSuite("abuse", SqliteClient.layer({ filename: ":memory:" }))
})

describe("A body limit set by the app", () => {
  const small = makeServer(SqliteClient.layer({ filename: ":memory:" }), { maxBodySize: 1024 })
  layer(small.layer, { excludeTestServices: true })("maxBodySize: 1024", (it) => {
    it.effect("applies to our routes and the app's own: 413 past 1 KiB, handled under it", () =>
      Effect.gen(function* () {
        const email = freshEmail("small")
        const over = yield* request("/auth/register", { json: { email, password: "p".repeat(1024) } })
        assert.deepStrictEqual([over.status, over.body], [413, { detail: "PAYLOAD_TOO_LARGE" }])
        const under = yield* request("/auth/register", { json: { email, password } })
        assert.strictEqual(under.status, 201)
        const own = yield* request("/greetings/ping", { method: "POST", body: "x".repeat(1025) })
        assert.strictEqual(own.status, 413)
        const port = yield* serverPort
        const cut = yield* Effect.promise(() => streamed(port, { path: "/greetings/ping", total: 4096 }))
        assert.strictEqual(cut.status, 413)
      })
    )
  })
})

describePg("HTTP abuse on PostgreSQL", () => {
  const database = freshDatabase()
  abuseSuite("abuse", database.client)
})

/**
 * Every connection `npm start`'s server accepts is answered (`examples/server.ts`), even one made the very moment
 * its port opens: the port opens once the whole app is built (storage, migrations, routes), not before. The test
 * knocks on the port in a tight loop while the server starts and fires requests as soon as a connection is
 * accepted, on SQLite and, when a server is available, on PostgreSQL.
 */
import { connect, type Socket } from "node:net"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"
import { freePort } from "../utils/LocalServer.js"
import { describePg, freshDatabase } from "../utils/PgTest.js"

/** How long a client waits for an answer: a started server answers these in milliseconds. */
const clientTimeout = 10_000

interface Answer {
  readonly what: string
  readonly status: number
  readonly retryAfter: string | null
}

/** Resolves with the first connection the port accepts (trying again at once after each refusal). */
const firstAccepted = (port: number, deadline: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const attempt = () => {
      if (Date.now() > deadline) return reject(new Error(`port ${port} never accepted a connection`))
      const socket = connect(port, "127.0.0.1")
      socket.once("connect", () => resolve(socket))
      socket.once("error", () => {
        socket.destroy()
        setImmediate(attempt)
      })
    }
    attempt()
  })

/** Sends a request on an open socket and reads the answer's status line and `Retry-After`. */
const onSocket = (socket: Socket, what: string, head: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    let received = ""
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`${what}: no answer within ${clientTimeout} ms`))
    }, clientTimeout)
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      received += chunk
      const end = received.indexOf("\r\n\r\n")
      if (end === -1) return
      clearTimeout(timer)
      socket.destroy()
      const [statusLine = "", ...headers] = received.slice(0, end).split("\r\n")
      const retryAfter = headers.find((line) => /^retry-after:/i.test(line))?.replace(/^[^:]*:\s*/, "") ?? null
      resolve({ what, status: Number(statusLine.split(" ")[1]), retryAfter })
    })
    socket.on("close", () => {
      clearTimeout(timer)
      reject(new Error(`${what}: the connection was closed without an answer: ${JSON.stringify(received)}`))
    })
    socket.write(head)
  })

const withFetch = async (what: string, url: string, init: RequestInit = {}): Promise<Answer> => {
  try {
    const reply = await fetch(url, { ...init, signal: AbortSignal.timeout(clientTimeout) })
    await reply.arrayBuffer()
    return { what, status: reply.status, retryAfter: reply.headers.get("retry-after") }
  } catch (error) {
    throw new Error(`${what}: ${String(error)}`)
  }
}

/** Starts the server and, the moment its port accepts, fires the requests; resolves with their answers. */
const knockAtStart = async (env: Record<string, string>, started: Array<ExampleServer>) => {
  const port = await freePort()
  const server = startExampleServer({ port, env })
  server.then((running) => started.push(running)).catch(() => undefined)
  const socket = await firstAccepted(port, Date.now() + 60_000)
  const base = `http://127.0.0.1:${port}`
  const answers = await Promise.allSettled([
    onSocket(
      socket,
      "GET /users/me on the first accepted connection",
      "GET /users/me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    ),
    withFetch("GET /users/me", `${base}/users/me`),
    withFetch("GET /greetings/ping", `${base}/greetings/ping`),
    withFetch("POST /auth/register", `${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "early@example.com", password: "dawn chorus of larks" })
    }),
    withFetch("POST /auth/jwt/login", `${base}/auth/jwt/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: "nobody@example.com", password: "not-a-password" })
    })
  ])
  await server
  return answers
}

/** Each request was answered, with its usual status or with 503 and `Retry-After`. */
const assertAnswered = (answers: ReadonlyArray<PromiseSettledResult<Answer>>, expected: ReadonlyArray<number>) => {
  const failures = answers.flatMap((answer) => (answer.status === "rejected" ? [String(answer.reason)] : []))
  assert.deepStrictEqual(failures, [])
  answers.forEach((answer, index) => {
    if (answer.status !== "fulfilled") return
    const { retryAfter, status, what } = answer.value
    if (status === 503) assert.isNotNull(retryAfter, `${what}: 503 without Retry-After`)
    else assert.strictEqual(status, expected[index], what)
  })
}

// /users/me twice (no token), the ping, the register, a login with unknown credentials.
const usual = [401, 401, 200, 201, 400]

describe("npm start answers the requests made the moment its port opens", () => {
  const started: Array<ExampleServer> = []
  afterAll(async () => {
    for (const server of started) await server.stop()
  })

  it("on SQLite", async () => {
    assertAnswered(await knockAtStart({}, started), usual)
  }, 90_000)
})

describePg("npm start answers the requests made the moment its port opens, on PostgreSQL", () => {
  const db = freshDatabase()
  const started: Array<ExampleServer> = []
  afterAll(async () => {
    for (const server of started) await server.stop()
  })

  it("on PostgreSQL", async () => {
    assertAnswered(await knockAtStart({ DATABASE_URL: db.url }, started), usual)
  }, 90_000)
})

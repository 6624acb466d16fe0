/**
 * `npm start`'s HTTP server cuts off slow clients (`examples/server.ts`): headers or a body sent byte by byte are
 * answered 408 (or the connection is closed) once HTTP_HEADERS_TIMEOUT or HTTP_REQUEST_TIMEOUT has passed, instead
 * of holding the connection for Node's default 300 s. Short bounds here, so that the test is quick.
 */
import { connect } from "node:net"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ExampleServer, startExampleServer } from "../utils/ExampleServer.js"

const headersTimeout = 2000
const requestTimeout = 3000
// Node checks its timeouts every `connectionsCheckingInterval` (1 s here); plus a loaded machine.
const slack = 1000 + 2000

interface Trickle {
  /** What the server sent before it closed the connection. */
  readonly received: string
  /** From the first byte sent to the close. */
  readonly ms: number
}

/** Sends `head` at once, then `trickle` one byte every 100 ms, until the server closes the connection. */
const trickle = (port: number, head: string, trickle: string) =>
  new Promise<Trickle>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    let received = ""
    let sent = 0
    let started = 0
    let timer: NodeJS.Timeout | undefined
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      received += chunk
    })
    socket.on("error", () => undefined)
    socket.on("close", () => {
      clearInterval(timer)
      resolve({ received, ms: performance.now() - started })
    })
    socket.on("connect", () => {
      started = performance.now()
      socket.write(head)
      timer = setInterval(() => {
        if (sent >= trickle.length) {
          clearInterval(timer)
          reject(new Error("the server waited for the whole slow request"))
          socket.destroy()
          return
        }
        socket.write(trickle[sent++]!)
      }, 100)
    })
  })

const assertCutOff = (result: Trickle, bound: number, what: string) => {
  // 408 Request Timeout, or closed without an answer: either way the connection is gone.
  assert.match(result.received, /^$|^HTTP\/1\.1 408 /, `${what}: ${result.received.slice(0, 80)}`)
  assert.isAtLeast(result.ms, bound - 100, `${what} cut off after ${result.ms} ms, before its bound`)
  assert.isBelow(result.ms, bound + slack, `${what} cut off after ${result.ms} ms`)
}

describe("npm start's HTTP server timeouts", () => {
  let server: ExampleServer
  beforeAll(async () => {
    server = await startExampleServer({
      env: { HTTP_HEADERS_TIMEOUT: `${headersTimeout} millis`, HTTP_REQUEST_TIMEOUT: `${requestTimeout} millis` }
    })
  })
  afterAll(() => server?.stop())

  it("headers sent byte by byte are cut off after HTTP_HEADERS_TIMEOUT", async () => {
    const result = await trickle(
      server.port,
      "GET /users/me HTTP/1.1\r\n",
      `Host: 127.0.0.1\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`
    )
    assertCutOff(result, headersTimeout, "slow headers")
  })

  it("a body sent byte by byte is cut off after HTTP_REQUEST_TIMEOUT", async () => {
    const body = JSON.stringify({ email: "slow@example.com", password: "x".repeat(200) })
    const result = await trickle(
      server.port,
      `POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      body
    )
    assertCutOff(result, requestTimeout, "slow body")
  })

  it("a request sent at once is served as before", async () => {
    const response = await fetch(`${server.base}/openapi.json`)
    assert.strictEqual(response.status, 200)
  })
})

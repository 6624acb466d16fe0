/**
 * A real SMTP server for tests (`smtp-server` on a loopback port): it records what it accepts, parsed (headers, the
 * text and HTML parts, quoted-printable and base64 decoded). It can answer slowly, refuse for a while (451), refuse
 * for good (550), or stop listening and come back on the same port.
 */
import { SMTPServer } from "smtp-server"
import { freePort } from "./LocalServer.js"

export interface Received {
  readonly to: ReadonlyArray<string>
  readonly from: string
  readonly subject: string
  readonly text: string
  readonly html: string
  readonly raw: string
}

const unfold = (head: string) => head.replace(/\r?\n[ \t]+/g, " ")

const headersOf = (head: string): Map<string, string> => {
  const map = new Map<string, string>()
  for (const line of unfold(head).split(/\r?\n/)) {
    const colon = line.indexOf(":")
    if (colon > 0) map.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  return map
}

const split = (raw: string) => {
  const at = raw.search(/\r?\n\r?\n/)
  if (at < 0) return { head: raw, body: "" }
  const gap = raw.slice(at).startsWith("\r\n\r\n") ? 4 : 2
  return { head: raw.slice(0, at), body: raw.slice(at + gap) }
}

const decodeQuotedPrintable = (text: string) => {
  const bytes: Array<number> = []
  const soft = text.replace(/=\r?\n/g, "")
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(soft.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(...Buffer.from(soft[i]!, "utf8"))
  }
  return Buffer.from(bytes).toString("utf8")
}

const decodeBody = (body: string, encoding: string | undefined) => {
  switch ((encoding ?? "7bit").toLowerCase()) {
    case "quoted-printable":
      return decodeQuotedPrintable(body)
    case "base64":
      return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8")
    default:
      return body
  }
}

// RFC 2047 encoded words (`=?UTF-8?Q?...?=`, `=?UTF-8?B?...?=`).
const decodeWords = (value: string) =>
  value.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=\s*/g, (_, _charset, kind: string, text: string) =>
    kind.toUpperCase() === "B"
      ? Buffer.from(text, "base64").toString("utf8")
      : decodeQuotedPrintable(text.replace(/_/g, " "))
  )

/** The text and HTML parts of a message (single part or multipart, nested). */
const partsOf = (raw: string): { text: string; html: string } => {
  const { body, head } = split(raw)
  const headers = headersOf(head)
  const type = headers.get("content-type") ?? "text/plain"
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1]
  if (type.toLowerCase().startsWith("multipart/") && boundary !== undefined) {
    const found = { text: "", html: "" }
    for (const part of body.split(`--${boundary}`).slice(1)) {
      if (part.startsWith("--")) break
      const inner = partsOf(part.replace(/^\r?\n/, ""))
      found.text ||= inner.text
      found.html ||= inner.html
    }
    return found
  }
  const decoded = decodeBody(body, headers.get("content-transfer-encoding"))
  return type.toLowerCase().startsWith("text/html") ? { text: "", html: decoded } : { text: decoded, html: "" }
}

/** Parses a message as the server received it. */
export const parse = (raw: string, to: ReadonlyArray<string>, from: string): Received => {
  const headers = headersOf(split(raw).head)
  return { to, from, subject: decodeWords(headers.get("subject") ?? ""), ...partsOf(raw), raw }
}

export type Mode =
  /** Accept every message. */
  | "accept"
  /** Refuse every recipient with 451 (try again later). */
  | "busy"
  /** Refuse every recipient with 550 (for good). */
  | "refuse"

export interface SmtpServer {
  readonly port: number
  readonly url: string
  readonly received: Array<Received>
  /** How it answers recipients from now on. */
  mode: Mode
  /** Milliseconds it waits before accepting a message's data. */
  delayMillis: number
  /** Messages to this address, oldest first. */
  readonly to: (address: string) => ReadonlyArray<Received>
  /** Waits until `count` messages reached `address` (default 10 s), and returns them. */
  readonly waitFor: (address: string, count?: number, timeoutMillis?: number) => Promise<ReadonlyArray<Received>>
  /** Stops listening (and drops its connections): the server is down. */
  readonly stop: () => Promise<void>
  /** Listens again on the same port. */
  readonly restart: () => Promise<void>
}

/** Starts a server on a free loopback port. */
export const startSmtpServer = async (): Promise<SmtpServer> => {
  const port = await freePort()
  const received: Array<Received> = []
  let server: SMTPServer | undefined
  const state = {
    mode: "accept" as Mode,
    delayMillis: 0
  }
  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      closeTimeout: 50,
      onRcptTo(_address, _session, callback) {
        if (state.mode === "busy") {
          return callback(Object.assign(new Error("Try again later"), { responseCode: 451 }))
        }
        if (state.mode === "refuse") return callback(Object.assign(new Error("No such mailbox"), { responseCode: 550 }))
        callback()
      },
      onData(stream, session, callback) {
        const chunks: Array<Buffer> = []
        stream.on("data", (chunk: Buffer) => chunks.push(chunk))
        stream.on("end", () => {
          const finish = () => {
            const to = session.envelope.rcptTo.map((rcpt) => rcpt.address)
            const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address
            received.push(parse(Buffer.concat(chunks).toString("utf8"), to, from))
            callback()
          }
          if (state.delayMillis > 0) setTimeout(finish, state.delayMillis)
          else finish()
        })
      }
    })
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = make()
      server.on("error", () => {})
      server.listen(port, "127.0.0.1", () => resolve())
      server.server.once("error", reject)
    })
  await listen()
  const to = (address: string) => received.filter((message) => message.to.includes(address))
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    get mode() {
      return state.mode
    },
    set mode(mode: Mode) {
      state.mode = mode
    },
    get delayMillis() {
      return state.delayMillis
    },
    set delayMillis(millis: number) {
      state.delayMillis = millis
    },
    to,
    waitFor: async (address, count = 1, timeoutMillis = 10_000) => {
      const until = Date.now() + timeoutMillis
      while (to(address).length < count) {
        if (Date.now() > until) {
          throw new Error(`${count} mail(s) to ${address} within ${timeoutMillis} ms; got ${to(address).length}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      return to(address)
    },
    stop: () =>
      new Promise<void>((resolve) => {
        const running = server
        server = undefined
        if (running === undefined) return resolve()
        running.close(() => resolve())
      }),
    restart: listen
  }
}

/** The `token` query parameter of the first link to `path` in a text. */
export const tokenIn = (text: string, path: string): string => {
  const match = new RegExp(`https?://[^\\s"<>]*/${path}\\?token=([^\\s"<>&]+)`).exec(text)
  if (match === null) throw new Error(`no ${path} link in: ${text}`)
  return decodeURIComponent(match[1]!)
}

/** The 6-digit code of a sign-in code mail. */
export const codeIn = (text: string): string => {
  const match = /\b(\d{6})\b/.exec(text)
  if (match === null) throw new Error(`no code in: ${text}`)
  return match[1]!
}

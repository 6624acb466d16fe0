/**
 * The password of `create-superuser`: read from stdin, never from the command line (where `ps` and the shell
 * history would show it).
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

/** The first line of stdin: piped, or typed at a prompt on a terminal that does not echo it. */
const readLine = (): Promise<string> =>
  new Promise((resolve, reject) => {
    const input = process.stdin
    let text = ""
    if (!input.isTTY) {
      input.setEncoding("utf8")
      input.on("data", (chunk: string) => {
        text += chunk
      })
      input.on("end", () => resolve(text.split(/\r?\n/)[0] ?? ""))
      input.on("error", reject)
      return
    }
    process.stderr.write("Password: ")
    input.setRawMode(true)
    input.setEncoding("utf8")
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\u0003") process.exit(130)
        if (char === "\r" || char === "\n" || char === "\u0004") {
          input.setRawMode(false)
          input.pause()
          input.off("data", onData)
          process.stderr.write("\n")
          return resolve(text)
        }
        text = char === "\u007f" || char === "\b" ? text.slice(0, -1) : text + char
      }
    }
    input.on("data", onData)
  })

/** Reads the password from stdin. */
export const read: Effect.Effect<Redacted.Redacted<string>> = Effect.map(Effect.promise(readLine), (line) =>
  Redacted.make(line)
)

/**
 * What the tests that run servers of their own share: a free loopback port, and a server's lifetime bound
 * to the layer's scope and to the process, so that no server outlives its test.
 */
import { createServer } from "node:net"
import { Effect, type Scope } from "effect"

/** A loopback port nobody listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))
      )
    })
  })

/**
 * Runs `start` now and `destroy` when the scope closes, or at process exit if the scope never closes (a
 * worker that crashed still ends the server it started).
 */
export const acquireServer = (start: () => void, destroy: () => void): Effect.Effect<void, never, Scope.Scope> => {
  const onExit = () => destroy()
  return Effect.acquireRelease(
    Effect.sync(() => {
      process.once("exit", onExit)
      start()
    }),
    () =>
      Effect.sync(() => {
        process.removeListener("exit", onExit)
        destroy()
      })
  )
}

import { createServer } from "node:http"
import { FetchHttpClient, HttpClient } from "@effect/platform"
import { Effect } from "effect"
const server = createServer((req, res) => { console.log(req.headers); res.end("") }).listen(0, async () => {
  const port = (server.address() as any).port
  await Effect.runPromise(Effect.flatMap(HttpClient.HttpClient, (c) => c.get(`http://127.0.0.1:${port}/x`)).pipe(Effect.withSpan("outer"), Effect.provide(FetchHttpClient.layer)))
  server.close()
})

/**
 * The floor of the stack for `npm run bench:http`'s memory figures: a bare HttpApi server with one constant
 * endpoint (`GET /ping`) on the same server as `examples/server.ts` (`examples/nodeServer.ts`), run the same way
 * (built JavaScript, plain node). PORT sets the port.
 */
import { createServer } from "node:http"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as NodeServer from "../examples/nodeServer.js"

class Api extends HttpApi.make("floor").add(
  HttpApiGroup.make("floor").add(
    HttpApiEndpoint.get("ping", "/ping").addSuccess(Schema.Struct({ pong: Schema.Boolean }))
  )
) {}

const FloorLive = HttpApiBuilder.group(Api, "floor", (handlers) =>
  handlers.handle("ping", () => Effect.succeed({ pong: true }))
)

const Server = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(FloorLive))),
  HttpServer.withLogAddress,
  Layer.provide(NodeServer.layer(createServer, { port: Number(process.env.PORT ?? 8000), host: "127.0.0.1" }))
)

NodeRuntime.runMain(Layer.launch(Server))

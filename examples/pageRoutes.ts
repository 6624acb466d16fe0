/**
 * The sign-in page of `npm start`: `/` serves `page/index.html` and `/page.js` its module, bundled with esbuild (the
 * QR code library included) by `npm run build:start` into `build/examples/page/`. Run from the sources (`npm run dev`,
 * the tests), the module is bundled from `page/page.ts` on its first request. `/magic-link` serves the page too: the
 * sign-in mail links there (`{publicUrl}/magic-link?token=...`) and the page signs the browser in with the token.
 */
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"

// From `build/examples/` the sources are two levels up; from `examples/` they are here.
const candidates = (name: string) =>
  [new URL(`./page/${name}`, import.meta.url), new URL(`../../examples/page/${name}`, import.meta.url)].map((url) =>
    fileURLToPath(url)
  )
const firstExisting = (name: string) => candidates(name).find((path) => existsSync(path))

const pageModule = Effect.promise(async () => {
  const built = fileURLToPath(new URL("./page/page.js", import.meta.url))
  if (existsSync(built)) return readFileSync(built, "utf8")
  const source = firstExisting("page.ts")
  if (source === undefined) throw new Error("examples/page/page.ts not found")
  // Only without a build: esbuild is a development dependency.
  const esbuild = await import("esbuild")
  const bundled = await esbuild.build({
    entryPoints: [source],
    bundle: true,
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "warning"
  })
  return bundled.outputFiles[0]!.text
})

const headers = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  // The magic link's token is in the page's URL: no request of the page carries it in a Referer.
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
} as const

/** `GET /` and `GET /magic-link` (the page) and `GET /page.js` (its module). */
export const layer: Layer.Layer<never> = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const html = yield* Effect.cached(
      Effect.sync(() => {
        const path = firstExisting("index.html")
        if (path === undefined) throw new Error("examples/page/index.html not found")
        return readFileSync(path, "utf8")
      })
    )
    const script = yield* Effect.cached(pageModule)
    const page = Effect.map(html, (body) =>
      HttpServerResponse.text(body, { contentType: "text/html; charset=utf-8", headers })
    )
    yield* router.get("/", page)
    yield* router.get("/magic-link", page)
    yield* router.get(
      "/page.js",
      Effect.map(script, (body) =>
        HttpServerResponse.text(body, { contentType: "text/javascript; charset=utf-8", headers })
      )
    )
  })
)

/**
 * `npm start` with `OIDC_*` set to a running OpenID Provider: the example server mounts it, `/openapi.json`
 * (what `/docs` shows) lists its routes, and a browser logs in through it and gets a session cookie.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { makeBrowser } from "../utils/Browser.js"
import { exampleServer } from "../utils/ExampleServer.js"
import { startProviderFor, type TestAccount } from "../utils/OidcProvider.js"

class Example extends Context.Tag("test/Example")<
  Example,
  { readonly base: string; readonly accounts: Map<string, TestAccount> }
>() {}

const ExampleServer = Layer.scoped(
  Example,
  Effect.gen(function* () {
    const { port, base, accounts, op } = yield* startProviderFor(["oidc"], {
      clientId: "example",
      clientSecret: "example-secret-example-secret"
    })
    yield* exampleServer({
      port,
      env: {
        OIDC_ISSUER: op.issuer,
        OIDC_CLIENT_ID: "example",
        OIDC_CLIENT_SECRET: "example-secret-example-secret",
        OIDC_REDIRECT_URL: `${base}/auth/oidc/callback`
      }
    })
    return { base, accounts }
  })
)

layer(ExampleServer, { excludeTestServices: true, timeout: 90_000 })("npm start with OIDC_*", (it) => {
  it.effect("mounts the provider, documents its routes, and logs a browser in with a session cookie", () =>
    Effect.gen(function* () {
      const { accounts, base } = yield* Example
      const openapi = JSON.parse((yield* makeBrowser().request(`${base}/openapi.json`)).text)
      for (const path of ["/auth/oidc/authorize", "/auth/oidc/callback", "/auth/oidc/associate/callback"]) {
        assert.property(openapi.paths, path)
      }
      accounts.set("percival", { email: `percival.${Date.now()}@camelot.bt`, email_verified: true })
      const browser = makeBrowser()
      const page = yield* browser.request(`${base}/auth/oidc/authorize`)
      const callback = yield* browser.signIn(JSON.parse(page.text).authorization_url, "percival", `${base}/auth/oidc/`)
      const reply = yield* browser.request(callback)
      assert.strictEqual(reply.status, 204, reply.text)
      const session = browser.cookies(new URL(base).host).get("fastapiusersauth")!
      const me = yield* makeBrowser().request(`${base}/users/me`, {
        headers: { cookie: `fastapiusersauth=${session}` }
      })
      assert.strictEqual(me.status, 200, me.text)
      assert.strictEqual(JSON.parse(me.text).email, accounts.get("percival")!.email)
    })
  )
})

/**
 * A real OpenID Provider for tests: panva's `oidc-provider` on a free loopback port, with one confidential
 * client registered, PKCE required, its development login and consent pages on, and accounts whose claims
 * the test decides. Its signing key is the test's, so a test can also sign id_tokens the provider never issued.
 */
import { createServer, type Server } from "node:http"
import { Effect } from "effect"
import * as jose from "jose"
import Provider from "oidc-provider"
import * as LocalServer from "./LocalServer.js"

/** The claims of a test account (`sub` is its login name on the provider's login page). */
export interface TestAccount {
  readonly email?: string
  readonly email_verified?: boolean
  /** The `profile` scope's display name. */
  readonly name?: string
}

/** A port nobody listens on right now, as an effect. */
export const freePort: Effect.Effect<number> = Effect.promise(LocalServer.freePort)

/** Starts the provider for the scope; `redirectUris` are the client's registered callbacks. */
export const startOidcProvider = (options: {
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUris: ReadonlyArray<string>
  readonly accounts: Map<string, TestAccount>
}) =>
  Effect.gen(function* () {
    const port = yield* freePort
    const issuer = `http://127.0.0.1:${port}`
    const { privateKey } = yield* Effect.promise(() => jose.generateKeyPair("RS256", { extractable: true }))
    const jwk = {
      ...(yield* Effect.promise(() => jose.exportJWK(privateKey))),
      kid: "test-key",
      alg: "RS256",
      use: "sig"
    }
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: options.clientId,
          client_secret: options.clientSecret,
          redirect_uris: options.redirectUris,
          response_types: ["code"],
          grant_types: ["authorization_code", "refresh_token"],
          token_endpoint_auth_method: "client_secret_post"
        }
      ],
      jwks: { keys: [jwk] },
      cookies: { keys: ["test-cookie-key-test-cookie-key"] },
      claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
      pkce: { required: () => true },
      ttl: { AccessToken: 3600, AuthorizationCode: 60, Grant: 3600, IdToken: 3600, Interaction: 600, Session: 3600 },
      features: { devInteractions: { enabled: true } },
      findAccount: (_context: unknown, sub: string) => ({
        accountId: sub,
        claims: () => ({ sub, ...options.accounts.get(sub) })
      })
    })
    const server: Server = createServer(provider.callback())
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        server.listen(port, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    return { issuer, privateKey, kid: jwk.kid }
  })

/**
 * An app's port and base URL, and a provider (with an empty account map) whose client may call back to
 * `/auth/{name}/callback` and `/auth/{name}/associate/callback` there for each of `names`.
 *
 * @since 0.2.0
 */
export const startProviderFor = (
  names: ReadonlyArray<string>,
  client: { readonly clientId: string; readonly clientSecret: string }
) =>
  Effect.gen(function* () {
    const port = yield* freePort
    const base = `http://127.0.0.1:${port}`
    const accounts = new Map<string, TestAccount>()
    const op = yield* startOidcProvider({
      ...client,
      accounts,
      redirectUris: names.flatMap((name) => [
        `${base}/auth/${name}/callback`,
        `${base}/auth/${name}/associate/callback`
      ])
    })
    return { port, base, accounts, op }
  })

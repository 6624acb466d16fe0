/**
 * A local OpenID Provider for development: panva's `oidc-provider` with one confidential client, PKCE required,
 * and its development login and consent pages, on which any login name signs in. Never expose it: its keys are
 * made at start-up and anyone may sign in as anyone.
 *
 *   npx tsx examples/dev-oidc-provider.ts
 *
 * The login name becomes the account: `alice` has the e-mail `alice@example.com` (verified) and the name `alice`;
 * a login name with an `@` is the e-mail itself. Settings (environment, with their defaults):
 *   DEV_OIDC_PORT=9000                      the provider listens on http://127.0.0.1:{port}, its issuer URL
 *   DEV_OIDC_CLIENT_ID=notes                the client the app signs in with
 *   DEV_OIDC_CLIENT_SECRET=notes-dev-secret its secret
 *   DEV_OIDC_APP_URL=http://127.0.0.1:8000  the app's public URL: {url}/auth/oidc/callback and
 *                                           {url}/auth/oidc/associate/callback are the client's redirect URIs
 */
import { createServer } from "node:http"
import * as jose from "jose"
import Provider from "oidc-provider"

const port = Number(process.env.DEV_OIDC_PORT ?? 9000)
const clientId = process.env.DEV_OIDC_CLIENT_ID ?? "notes"
const clientSecret = process.env.DEV_OIDC_CLIENT_SECRET ?? "notes-dev-secret"
const appUrl = process.env.DEV_OIDC_APP_URL ?? "http://127.0.0.1:8000"
const issuer = `http://127.0.0.1:${port}`

const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true })
const signingKey = { ...(await jose.exportJWK(privateKey)), kid: "dev", alg: "RS256", use: "sig" }

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [`${appUrl}/auth/oidc/callback`, `${appUrl}/auth/oidc/associate/callback`],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_post"
    }
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomUUID()] },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  findAccount: (_context: unknown, login: string) => ({
    accountId: login,
    claims: () => ({
      sub: login,
      email: login.includes("@") ? login : `${login}@example.com`,
      email_verified: true,
      name: login
    })
  })
})

const server = createServer(provider.callback())
server.listen(port, "127.0.0.1", () => {
  console.log(`OpenID Provider at ${issuer} (client ${clientId}, redirects to ${appUrl}/auth/oidc/...)`)
})
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.closeAllConnections()
    server.close()
  })
}

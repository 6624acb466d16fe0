/**
 * The OAuth providers `examples/server.ts` mounts, from the environment: a generic OpenID Provider
 * (`OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`, `OIDC_REDIRECT_URL`), Google (`GOOGLE_*`) and GitHub
 * (`GITHUB_*`), each when its client ID is set. `*_REDIRECT_URL` is the login callback registered with the
 * provider (`https://your.host/auth/{name}/callback`); the association callback is its sibling
 * `.../associate/callback`, to register as well.
 */
import * as Config from "effect/Config"
import * as Redacted from "effect/Redacted"
import { OAuthProvider } from "effect-users"
import type { MountedProvider } from "./app.js"

const secret = (name: string) => Config.redacted(name)

const callbacks = (env: Record<string, string | undefined>, prefix: string, name: string) => {
  const redirectUrl = env[`${prefix}_REDIRECT_URL`] || `http://127.0.0.1:${env.PORT || 8000}/auth/${name}/callback`
  return { redirectUrl, associateRedirectUrl: redirectUrl.replace(/\/callback$/, "/associate/callback") }
}

/** The providers whose client ID is set in `env`. */
export const providersFromEnv = (env: Record<string, string | undefined>): ReadonlyArray<MountedProvider> => {
  const mounted: Array<MountedProvider> = []
  if (env.OIDC_CLIENT_ID) {
    mounted.push({
      provider: OAuthProvider.oidc({
        name: "oidc",
        issuer: Config.string("OIDC_ISSUER"),
        clientId: env.OIDC_CLIENT_ID,
        clientSecret: secret("OIDC_CLIENT_SECRET").pipe(Config.withDefault(Redacted.make("")))
      }),
      ...callbacks(env, "OIDC", "oidc")
    })
  }
  if (env.GOOGLE_CLIENT_ID) {
    mounted.push({
      provider: OAuthProvider.google({ clientId: env.GOOGLE_CLIENT_ID, clientSecret: secret("GOOGLE_CLIENT_SECRET") }),
      ...callbacks(env, "GOOGLE", "google")
    })
  }
  if (env.GITHUB_CLIENT_ID) {
    mounted.push({
      provider: OAuthProvider.github({ clientId: env.GITHUB_CLIENT_ID, clientSecret: secret("GITHUB_CLIENT_SECRET") }),
      ...callbacks(env, "GITHUB", "github")
    })
  }
  return mounted
}

/**
 * The example server's development secrets, and when it may use them: only on a loopback address, where no
 * one else can reach it. `examples/server.ts` refuses to start with them on any other `HOST`.
 */
import { isIPv4 } from "node:net"

/** Public, well-known secrets: anyone can forge tokens signed with them. */
export const devSecrets = {
  USERS_AUTH_SECRET: "development-auth-secret-CHANGE-ME-0123456789",
  USERS_VERIFICATION_TOKEN_SECRET: "development-verify-secret-CHANGE-ME-0123456789",
  USERS_RESET_PASSWORD_TOKEN_SECRET: "development-reset-secret-CHANGE-ME-0123456789",
  USERS_MFA_ENCRYPTION_KEY: "development-mfa-encryption-key-CHANGE-ME-01234",
  /** Encrypts the mails waiting in the outbox (they hold tokens). */
  USERS_OUTBOX_SECRET: "development-outbox-secret-CHANGE-ME-012345678"
}

/** Development secrets of optional features, required only when the feature is on. */
export const optionalDevSecrets = {
  USERS_OAUTH_STATE_SECRET: "development-oauth-state-secret-CHANGE-ME-0123"
}

/** 127.0.0.0/8, ::1 and localhost. */
export const isLoopback = (host: string): boolean => {
  const name = host.trim().toLowerCase()
  if (name === "localhost" || name === "::1" || name === "[::1]") return true
  return isIPv4(name) && name.startsWith("127.")
}

/**
 * What the server does about secrets: which are missing, and the error that stops it, if any. With
 * `JWT_PRIVATE_KEY` the access tokens are signed with that key, so `USERS_AUTH_SECRET` is not needed;
 * `alsoNeeded` names the secrets of optional features that are on (OAuth's state secret).
 */
export const checkSecrets = (
  env: Record<string, string | undefined>,
  host: string,
  alsoNeeded: ReadonlyArray<keyof typeof optionalDevSecrets> = []
) => {
  const needed = Object.keys(devSecrets).filter((name) => !(name === "USERS_AUTH_SECRET" && env.JWT_PRIVATE_KEY))
  const missing = [...needed, ...alsoNeeded].filter((name) => !env[name])
  const refusal =
    missing.length > 0 && !isLoopback(host)
      ? `Refusing to serve on HOST=${host} with development secrets: set ${missing.join(", ")} ` +
        "(at least 32 bytes each), or serve on 127.0.0.1."
      : undefined
  return { missing, refusal }
}

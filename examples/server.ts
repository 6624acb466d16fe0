/**
 * The full effect-users API (`npm start`): register, bearer-JWT and cookie-database login, verify, reset,
 * users, Swagger UI at /docs, on http://127.0.0.1:8000 (PORT and HOST override). Without its secrets it runs
 * with development ones, on a loopback HOST only.
 *
 * Access tokens are HS256 JWTs signed with USERS_AUTH_SECRET; with JWT_PRIVATE_KEY (a P-256 or Ed25519 private
 * key, PKCS#8 PEM or JWK) they are ES256/EdDSA JWTs instead and /.well-known/jwks.json serves the public keys
 * (JWT_KEY_ID, and JWT_PREVIOUS_KEY / JWT_PREVIOUS_KEY_ID / JWT_PREVIOUS_KEY_UNTIL for a rotation).
 *
 * Storage (`storage.ts`): an SQLite file (`effect-users.db`, or SQLITE_FILE), created and migrated on first
 * start; PostgreSQL when DATABASE_URL is set. Cookie sessions are kept in a Redis Cluster when REDIS_CLUSTER_NODES
 * (`host:port,...`) is set, else in Redis when REDIS_URL is set (keys under
 * REDIS_KEY_PREFIX, default `effect-users:`), else in the database.
 *
 * Mail (docs/mail.md): verification, reset and notice mails and the sign-in links and codes go through the outbox
 * (in the database, encrypted with USERS_OUTBOX_SECRET) to the SMTP server of SMTP_URL
 * (`smtp://user:pass@host:587`), from MAIL_FROM; without SMTP_URL they are printed to the console. Links start with
 * PUBLIC_URL (default this server's own address). Sign-in by e-mail link (`POST /auth/magic-link`) and by code
 * (`POST /auth/email-code`) are mounted; USERS_MAGIC_LINK_SIGN_UP=true lets an unknown address sign up by its link.
 *
 * OAuth (`oauth.ts`): an OpenID Provider with OIDC_ISSUER + OIDC_CLIENT_ID (+ OIDC_CLIENT_SECRET,
 * OIDC_REDIRECT_URL), Google with GOOGLE_*, GitHub with GITHUB_*; the state cookies are encrypted with
 * USERS_OAUTH_STATE_SECRET. OAUTH_POST_LOGIN_REDIRECTS (comma-separated URLs) may follow a login.
 *
 * Throttling (docs/throttling.md): in memory, or in Redis (Cluster) when REDIS_CLUSTER_NODES or REDIS_URL is set (every process on it
 * shares the counts; keys start with USERS_THROTTLE_PREFIX). Behind proxies, USERS_TRUSTED_PROXIES lists their
 * addresses and CIDR ranges (comma-separated) or USERS_PROXY_HOPS counts them. USERS_RATE_LIMITS=off turns the
 * per-client and per-address limits off (the per-account back-off stays). Device tokens (known clients are
 * throttled per device) are signed with USERS_DEVICE_TOKEN_SECRET, else with a key derived from USERS_AUTH_SECRET.
 *
 * CSRF (docs/sessions.md, "CSRF"): a cookie request that changes something (and the cookie login) is refused with 403
 * CSRF_REJECTED when it comes from another site's page. Pages on the server's own origin (the Host it is reached
 * at, and the origin of the OAuth callback URLs) are allowed; USERS_ALLOWED_ORIGINS (comma-separated origins,
 * `https://app.example.com`) lists the others, e.g. a front end on another host or a proxy that rewrites Host.
 *
 * Passwords (`passwordPolicy.ts`): NIST SP 800-63B-4's policy, 15 characters at least (8 for an account with a
 * second factor), unless USERS_PASSWORD_POLICY=compat (8, for FastAPI Users' front ends); both refuse common
 * passwords.
 *
 * Second factors (docs/second-factor.md): TOTP and recovery codes at /users/me/mfa, two-step logins at
 * /auth/{backend}/login/mfa; the TOTP secrets are sealed with USERS_MFA_ENCRYPTION_KEY.
 *
 * OpenTelemetry (docs/telemetry.md): with OTEL_EXPORTER_OTLP_ENDPOINT set, spans and metrics are exported by
 * OTLP over HTTP (the standard OTEL_* variables apply: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_BSP_SCHEDULE_DELAY, OTEL_METRIC_EXPORT_INTERVAL, ...); without it nothing of OpenTelemetry is loaded.
 *
 * Passkeys (docs/passkeys.md): the relying party ID is USERS_WEBAUTHN_RP_ID and the origins allowed to use it are
 * USERS_WEBAUTHN_ORIGINS (comma-separated). On a loopback HOST they default to `localhost` and
 * `http://localhost:PORT`: open the sign-in page at http://localhost:8000/ (browsers refuse an IP address as an RP
 * ID). Elsewhere passkeys are off until both are set (HTTPS origins in production).
 *
 * The sign-in page (`pageRoutes.ts`): `/` serves a small page that registers, logs in (password or passkey), adds
 * and removes passkeys, lists and ends sessions, through the cookie backend's JSON API.
 *
 * Slow clients: a request's headers must arrive within HTTP_HEADERS_TIMEOUT (default 10 seconds) and the whole
 * request within HTTP_REQUEST_TIMEOUT (30 seconds), else Node answers 408 and closes the connection; an idle
 * kept-alive connection is closed after HTTP_KEEP_ALIVE_TIMEOUT (5 seconds).
 */
import { createServer } from "node:http"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  Argon2Workers,
  AuditLog,
  JwtKeySet,
  Mail,
  Mailer,
  Outbox,
  UserHooks,
  UserManager,
  UserManagerConfig
} from "effect-users"
import type { ClientAddress } from "effect-users/http"
import { CrossSite } from "effect-users/http"
import { Migrations, SqlOutbox, SqlPasskeyStore, SqlUserRepository } from "effect-users/sql"
import { layerAudit, layerSecondFactor, makeApp } from "./app.js"
import { checkSecrets } from "./devSecrets.js"
import * as Docs from "./docs.js"
import * as NodeServer from "./nodeServer.js"
import { providersFromEnv } from "./oauth.js"
import * as PageRoutes from "./pageRoutes.js"
import { PasswordPolicy } from "./passwordPolicy.js"
import { SessionStore, ThrottleStore } from "./sessionStore.js"
import { configProvider, Database } from "./storage.js"

const host = process.env.HOST || "127.0.0.1"
const oauth = providersFromEnv(process.env)
const { missing, refusal } = checkSecrets(process.env, host, oauth.length > 0 ? ["USERS_OAUTH_STATE_SECRET"] : [])
if (refusal !== undefined) {
  console.error(refusal)
  process.exit(1)
}
if (missing.length > 0) {
  const line = "!".repeat(78)
  console.warn(
    `${line}\n!!! DEVELOPMENT SECRETS IN USE for ${missing.join(", ")}.\n` +
      "!!! Anyone can forge logins and tokens. Set these variables before exposing this server.\n" +
      `${line}`
  )
}

// FastAPI Users' example hooks, without the tokens: `Mail` sends them (printed below when SMTP_URL is unset).
const Hooks = UserHooks.layer({
  onAfterRegister: (user) => Effect.log(`User ${user.id} has registered.`),
  onAfterForgotPassword: (user) => Effect.log(`User ${user.id} has forgot their password.`),
  onAfterRequestVerify: (user) => Effect.log(`Verification requested for user ${user.id}.`)
})

// The mails: written to the outbox in the database with the change that causes them, delivered by its worker to
// SMTP_URL's server, or printed (with their links and codes) when SMTP_URL is unset.
const smtp = process.env.SMTP_URL !== undefined && process.env.SMTP_URL !== ""
if (!smtp && process.env.USERS_MAIL !== "off")
  console.warn("Mail: SMTP_URL is unset; mails (with their links and codes) are printed to the console.")
const publicUrl =
  process.env.PUBLIC_URL || `http://${host.includes(":") ? `[${host}]` : host}:${process.env.PORT || 8000}`
const MailLive = Mail.layer({ publicUrl }).pipe(
  Layer.provideMerge(Outbox.layerConfig()),
  Layer.provide(SqlOutbox.layer()),
  Layer.provide(
    smtp
      ? Mailer.layerSmtpConfig(
          Config.all({
            url: Config.redacted("SMTP_URL"),
            from: Config.string("MAIL_FROM").pipe(Config.withDefault("effect-users <no-reply@localhost>"))
          })
        )
      : Mailer.layerConsole
  )
)

const Users = UserManager.layer.pipe(
  Layer.provide([
    SqlUserRepository.layer(),
    // A deleted user's passkeys are deleted with them.
    SqlPasskeyStore.layer(),
    UserManagerConfig.layerConfig(),
    Hooks,
    PasswordPolicy,
    // Argon2id on niced worker threads: logins use the idle CPU, token checks keep their latency. The threads start
    // once hashes overlap; a lone one (the manager's start-up hash, a login on a quiet server) runs on libuv's pool.
    Argon2Workers.layer({ lazyThreads: true })
  ]),
  // Second factors (TOTP, recovery codes), offered by default: USERS_MFA_ENCRYPTION_KEY seals the TOTP secrets.
  Layer.provideMerge(layerSecondFactor),
  // USERS_MAIL=off: no mail at all (`npm run bench:http` compares both).
  Layer.provideMerge(process.env.USERS_MAIL === "off" ? Layer.empty : MailLive),
  // Security events, kept in the database's audit log (`GET /admin/events`, `GET /users/me/events`); with
  // USERS_AUDIT_LOG=off none are emitted and the routes read an empty log (`npm run bench:http` compares both).
  Layer.provideMerge(process.env.USERS_AUDIT_LOG === "off" ? AuditLog.layerMemory : layerAudit()),
  Layer.provideMerge(Migrations.layer()),
  Layer.provideMerge(Database)
)

const trustedProxies = (): ClientAddress.TrustedProxies | undefined => {
  const list = process.env.USERS_TRUSTED_PROXIES?.split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry)
  if (list !== undefined && list.length > 0) return { addresses: list }
  const hops = Number(process.env.USERS_PROXY_HOPS ?? "")
  return Number.isInteger(hops) && hops > 0 ? { hops } : undefined
}

// The server's own public origin, where it is configured: the OAuth callbacks are registered at it.
const allowedOrigins = [
  ...(process.env.USERS_ALLOWED_ORIGINS ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== ""),
  ...oauth.map(({ redirectUrl }) => (URL.canParse(redirectUrl) ? new URL(redirectUrl).origin : redirectUrl))
]
try {
  CrossSite.origins(allowedOrigins)
} catch (error) {
  console.error(`USERS_ALLOWED_ORIGINS: ${(error as Error).message}`)
  process.exit(1)
}

// Passkeys: the RP ID and origins, by default the loopback name this server answers on.
const port = Number(process.env.PORT || 8000)
const loopback = host === "localhost" || host === "::1" || host.startsWith("127.")
const listed = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
const rpId = process.env.USERS_WEBAUTHN_RP_ID || (loopback ? "localhost" : "")
const webauthnOrigins = listed(process.env.USERS_WEBAUTHN_ORIGINS)
const passkeyOrigins = webauthnOrigins.length > 0 ? webauthnOrigins : loopback ? [`http://localhost:${port}`] : []
const webauthn = rpId !== "" && passkeyOrigins.length > 0 ? { rpId, origins: passkeyOrigins } : undefined
if (webauthn === undefined) {
  console.warn("Passkeys are off: set USERS_WEBAUTHN_RP_ID and USERS_WEBAUTHN_ORIGINS to turn them on.")
} else {
  console.log(`Passkeys: RP ID ${webauthn.rpId}, origins ${webauthn.origins.join(", ")}`)
}

const app = makeApp({
  webauthn,
  secureCookie: process.env.COOKIE_SECURE !== "false",
  ...(process.env.JWT_PRIVATE_KEY ? { keySet: JwtKeySet.layerConfig() } : {}),
  // USERS_REQUIRE_CURRENT_PASSWORD=false: FastAPI Users' PATCH /users/me (a token alone changes password/e-mail).
  requireCurrentPassword: process.env.USERS_REQUIRE_CURRENT_PASSWORD !== "false",
  oauth,
  postLoginRedirects: (process.env.OAUTH_POST_LOGIN_REDIRECTS ?? "").split(",").filter((url) => url !== ""),
  trustedProxies: trustedProxies(),
  allowedOrigins,
  emailSignIn: { signUp: process.env.USERS_MAGIC_LINK_SIGN_UP === "true" }
})
if (oauth.length > 0) console.log(`OAuth providers: ${oauth.map(({ provider }) => provider.name).join(", ")}`)

const millis = (name: string, fallback: Duration.DurationInput) =>
  Config.duration(name).pipe(
    Config.withDefault(Duration.decode(fallback)),
    Config.map((duration) => Math.max(1, Math.round(Duration.toMillis(duration))))
  )

// Node's defaults let a client that sends its request slowly hold a connection for 300 s (`requestTimeout`),
// checked every 30 s: a cheap way to use up connections. Our bodies are at most 64 KiB.
const httpTimeouts = Effect.map(
  Config.all({
    headersTimeout: millis("HTTP_HEADERS_TIMEOUT", "10 seconds"),
    requestTimeout: millis("HTTP_REQUEST_TIMEOUT", "30 seconds"),
    keepAliveTimeout: millis("HTTP_KEEP_ALIVE_TIMEOUT", "5 seconds")
  }),
  (timeouts) => ({
    ...timeouts,
    // Node refuses a headers timeout longer than the request's.
    headersTimeout: Math.min(timeouts.headersTimeout, timeouts.requestTimeout),
    connectionsCheckingInterval: Math.min(1000, timeouts.headersTimeout)
  })
)

const Server = HttpApiBuilder.serve().pipe(
  Layer.provide(Docs.layerLazy({ swagger: "/docs", openApi: "/openapi.json" })),
  Layer.provide(PageRoutes.layer),
  Layer.provide(app.ApiLiveWith(SessionStore)),
  Layer.provide(ThrottleStore),
  Layer.provide(Users),
  HttpServer.withLogAddress,
  Layer.provide(
    Layer.unwrapEffect(
      Effect.map(httpTimeouts, (timeouts) =>
        NodeServer.layerConfig(() => createServer(timeouts), {
          port: Config.port("PORT").pipe(Config.withDefault(8000)),
          host: Config.succeed(host)
        })
      )
    )
  ),
  Layer.provide(Layer.setConfigProvider(configProvider))
)

// Loaded only when asked for: `effect-users/otel` and the OpenTelemetry SDK stay out of memory otherwise.
const Telemetry = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
  ? Layer.unwrapEffect(
      Effect.map(
        Effect.promise(() => import("effect-users/otel")),
        ({ Telemetry }) => Telemetry.layerOtlp()
      )
    )
  : Layer.empty

NodeRuntime.runMain(Layer.launch(Server.pipe(Layer.provide(Telemetry))))

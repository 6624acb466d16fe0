/**
 * The error bodies FastAPI Users sends: `{"detail": CODE}`, `{"detail": {"code": CODE, "reason": text}}`, and
 * 422 `{"detail": [...]}` for malformed requests. Each schema carries its status and an example for OpenAPI.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * The error codes of FastAPI Users' `ErrorCode`.
 *
 * @since 0.1.0
 */
export const ErrorCode = {
  REGISTER_INVALID_PASSWORD: "REGISTER_INVALID_PASSWORD",
  REGISTER_USER_ALREADY_EXISTS: "REGISTER_USER_ALREADY_EXISTS",
  OAUTH_NOT_AVAILABLE_EMAIL: "OAUTH_NOT_AVAILABLE_EMAIL",
  OAUTH_USER_ALREADY_EXISTS: "OAUTH_USER_ALREADY_EXISTS",
  OAUTH_INVALID_STATE: "OAUTH_INVALID_STATE",
  LOGIN_BAD_CREDENTIALS: "LOGIN_BAD_CREDENTIALS",
  LOGIN_USER_NOT_VERIFIED: "LOGIN_USER_NOT_VERIFIED",
  RESET_PASSWORD_BAD_TOKEN: "RESET_PASSWORD_BAD_TOKEN",
  RESET_PASSWORD_INVALID_PASSWORD: "RESET_PASSWORD_INVALID_PASSWORD",
  VERIFY_USER_BAD_TOKEN: "VERIFY_USER_BAD_TOKEN",
  VERIFY_USER_ALREADY_VERIFIED: "VERIFY_USER_ALREADY_VERIFIED",
  UPDATE_USER_EMAIL_ALREADY_EXISTS: "UPDATE_USER_EMAIL_ALREADY_EXISTS",
  UPDATE_USER_INVALID_PASSWORD: "UPDATE_USER_INVALID_PASSWORD",
  /** Ours: `PATCH /users/me` changes `password` or `email` without `current_password`. */
  CURRENT_PASSWORD_REQUIRED: "CURRENT_PASSWORD_REQUIRED",
  /** Ours: `PATCH /users/me` with a wrong `current_password`. */
  CURRENT_PASSWORD_INVALID: "CURRENT_PASSWORD_INVALID",
  /** Ours: `DELETE /users/me/sessions/{id}` names no session of the caller. */
  SESSION_NOT_FOUND: "SESSION_NOT_FOUND",
  /** Ours: the provider account is already linked to another user. */
  OAUTH_ACCOUNT_ALREADY_LINKED: "OAUTH_ACCOUNT_ALREADY_LINKED",
  /** Ours: unlinking this OAuth account would leave the user no way to sign in. */
  OAUTH_LAST_LOGIN_METHOD: "OAUTH_LAST_LOGIN_METHOD",
  /** Ours: `DELETE /users/me/oauth-accounts/...` names no link of the caller. */
  OAUTH_ACCOUNT_NOT_FOUND: "OAUTH_ACCOUNT_NOT_FOUND",
  /** Ours: the user model refused the fields an OAuth sign-up made from the provider's profile. */
  OAUTH_PROFILE_REJECTED: "OAUTH_PROFILE_REJECTED",
  /** Ours: linking or unlinking an OAuth account needs a recent sign-in. */
  REAUTHENTICATION_REQUIRED: "REAUTHENTICATION_REQUIRED",
  /** Ours: a post-login redirect that is not on the app's allow-list. */
  OAUTH_INVALID_REDIRECT: "OAUTH_INVALID_REDIRECT",
  /** Ours: an `onBeforeDelete` hook refused the deletion (FastAPI Users answers 500). */
  DELETE_USER_ABORTED: "DELETE_USER_ABORTED",
  /** Ours: an unknown, expired, revoked or malformed refresh token. */
  REFRESH_TOKEN_INVALID: "REFRESH_TOKEN_INVALID",
  /** Ours: a refresh token that was spent already; its whole session has been ended. */
  REFRESH_TOKEN_REUSED: "REFRESH_TOKEN_REUSED",
  /** Ours: `POST /users/{id}/deactivate` with an `until` that is not in the future. */
  DEACTIVATE_USER_UNTIL_PAST: "DEACTIVATE_USER_UNTIL_PAST",
  /** Ours: a cross-site request authenticated by cookie, or a cross-site cookie login. */
  CSRF_REJECTED: "CSRF_REJECTED",
  /** Ours: the right password (or provider) of a user with a second factor; the body carries an `mfa_token`. */
  LOGIN_MFA_REQUIRED: "LOGIN_MFA_REQUIRED",
  /** Ours: the second step's code is wrong, replayed or already used. */
  LOGIN_MFA_BAD_CODE: "LOGIN_MFA_BAD_CODE",
  /** Ours: the `mfa_token` is unknown, expired, spent, dead after wrong codes, or of another backend. */
  LOGIN_MFA_TOKEN_INVALID: "LOGIN_MFA_TOKEN_INVALID",
  /** Ours: a wrong, replayed or used code (enrolment, step-up). */
  MFA_BAD_CODE: "MFA_BAD_CODE",
  /** Ours: a TOTP confirmation without an enrolment pending. */
  MFA_NOT_PENDING: "MFA_NOT_PENDING",
  /** Ours: a change that needs a current code (or recovery code) of the user's second factor, sent without one. */
  MFA_CODE_REQUIRED: "MFA_CODE_REQUIRED",
  /** Ours: turning off, or renewing the recovery codes of, a TOTP the user does not have. */
  MFA_NOT_ENABLED: "MFA_NOT_ENABLED",
  /** Ours: a passkey ceremony failed (origin, RP ID, challenge, signature, user verification, counter, credential). */
  PASSKEY_INVALID: "PASSKEY_INVALID",
  /** Ours: removing this passkey would leave the user no way to sign in. */
  PASSKEY_LAST_LOGIN_METHOD: "PASSKEY_LAST_LOGIN_METHOD",
  /** Ours: the caller has no passkey with this ID. */
  PASSKEY_NOT_FOUND: "PASSKEY_NOT_FOUND"
} as const

/**
 * A `{"detail": code}` error body with its HTTP status.
 *
 * @since 0.1.0
 */
export const detail = <const Code extends string>(code: Code, status: number, description?: string) =>
  Schema.Struct({ detail: Schema.Literal(code) }).annotations({
    ...HttpApiSchema.annotations({ status }),
    identifier: `Error.${code.replaceAll(" ", "")}`,
    description: description ?? code,
    examples: [{ detail: code }]
  })

/**
 * A `{"detail": {"code": code, "reason": text}}` error body (status 400 unless given), as for rejected passwords.
 *
 * @since 0.1.0
 */
export const detailWithReason = <const Code extends string>(code: Code, status = 400, description?: string) =>
  Schema.Struct({ detail: Schema.Struct({ code: Schema.Literal(code), reason: Schema.String }) }).annotations({
    ...HttpApiSchema.annotations({ status }),
    identifier: `Error.${code}`,
    description: description ?? `${code}: the password was rejected; \`reason\` says why`,
    examples: [{ detail: { code, reason: "Password should be at least 8 characters" } }]
  })

/**
 * One row of an error table: the status and code a typed error answers with.
 *
 * @since 0.1.0
 */
export interface ErrorEntry<Code extends string = string> {
  readonly status: number
  readonly code: Code
  /** The OpenAPI description of the error; default the code. */
  readonly description?: string | undefined
  /** The body carries the error's `reason` (`{"detail": {"code", "reason"}}`), as for rejected passwords. */
  readonly reason?: true | undefined
}

/**
 * A route's error table: typed errors (by `_tag`) to the status and code each answers with.
 *
 * @since 0.1.0
 */
export type ErrorTable = Readonly<Record<string, ErrorEntry>>

/**
 * The body an entry answers with.
 *
 * @since 0.1.0
 */
export type EntryBody<E> = E extends { readonly code: infer Code; readonly reason: true }
  ? { readonly detail: { readonly code: Code; readonly reason: string } }
  : E extends { readonly code: infer Code }
    ? { readonly detail: Code }
    : never

/**
 * The bodies a table answers with.
 *
 * @since 0.1.0
 */
export type TableBody<T extends ErrorTable> = EntryBody<T[keyof T]>

/**
 * A table's errors: the schema the endpoint declares (`.addError(errors.schema)`) and the handler's mapping.
 *
 * @since 0.1.0
 */
export interface Errors<T extends ErrorTable> {
  readonly table: T
  /** Every body of the table, each member annotated with its status. */
  readonly schema: Schema.Schema<TableBody<T>>
  /** The body of a typed error the table lists. */
  readonly body: (error: { readonly _tag: keyof T & string; readonly reason?: string }) => TableBody<T>
  /** Fails with the body of an entry, for failures the handler decides itself (an inactive user at login). */
  readonly fail: (tag: keyof T & string) => Effect.Effect<never, TableBody<T>>
}

const entrySchema = (entry: ErrorEntry) =>
  entry.reason
    ? detailWithReason(entry.code, entry.status, entry.description)
    : detail(entry.code, entry.status, entry.description)

/**
 * A route's error table; each code is written once, and feeds both the endpoint's declared errors and the
 * handler's mapping. Entries sharing a code share one schema (several manager errors, one answer).
 *
 * @since 0.1.0
 */
export function errorTable<const T extends ErrorTable>(table: T): Errors<T>
// The union is assembled from the rows at run time; the signature above states its type.
export function errorTable(table: ErrorTable): {
  readonly table: ErrorTable
  readonly schema: Schema.Schema.AnyNoContext
  readonly body: (error: { readonly _tag: string; readonly reason?: string }) => unknown
  readonly fail: (tag: string) => Effect.Effect<never, unknown>
} {
  const byCode = new Map<string, ErrorEntry>()
  for (const entry of Object.values(table)) if (!byCode.has(entry.code)) byCode.set(entry.code, entry)
  const members = [...byCode.values()].map(entrySchema)
  const bodyOf = (tag: string, reason: string) => {
    const entry = table[tag]!
    return entry.reason ? { detail: { code: entry.code, reason } } : { detail: entry.code }
  }
  return {
    table,
    schema: members.length === 1 ? members[0]! : Schema.Union(...members),
    body: (error) => bodyOf(error._tag, error.reason ?? ""),
    fail: (tag) => Effect.fail(bodyOf(tag, ""))
  }
}

/**
 * 401: no user, a missing or invalid token, or an inactive user.
 *
 * @since 0.1.0
 */
export const Unauthorized = detail("Unauthorized", 401, "Missing token, invalid token or inactive user")
/**
 * 401 body.
 *
 * @since 0.1.0
 */
export type Unauthorized = typeof Unauthorized.Type

/**
 * 403: the user is not verified or not a superuser where that is required.
 *
 * @since 0.1.0
 */
export const Forbidden = detail("Forbidden", 403, "Not verified, or not a superuser, where that is required")
/**
 * 403 body.
 *
 * @since 0.1.0
 */
export type Forbidden = typeof Forbidden.Type

/**
 * 403: a cross-site request (an `Origin` not allowed, or `Sec-Fetch-Site: cross-site`) authenticated by cookie,
 * or a cross-site cookie login. Ours: FastAPI Users has no CSRF check.
 *
 * @since 0.2.0
 */
export const CsrfRejected = detail(
  ErrorCode.CSRF_REJECTED,
  403,
  "Cross-site request refused: a cookie counts only on requests from the server's own or an allowed origin"
)
/**
 * 403 CSRF body.
 *
 * @since 0.2.0
 */
export type CsrfRejected = typeof CsrfRejected.Type

/**
 * The 403 `CSRF_REJECTED` answer, for a handler that decides it itself (the cookie login).
 *
 * @since 0.2.0
 */
export const csrfRejectedResponse: HttpServerResponse.HttpServerResponse = HttpServerResponse.unsafeJson(
  { detail: ErrorCode.CSRF_REJECTED },
  { status: 403, headers: { "cache-control": "no-store" } }
)

/**
 * 404: unknown user, or an ID that does not parse.
 *
 * @since 0.1.0
 */
export const NotFound = detail("Not Found", 404, "No user with this ID")
/**
 * 404 body.
 *
 * @since 0.1.0
 */
export type NotFound = typeof NotFound.Type

/**
 * 429: too many requests from this client, for this address, or wrong passwords for this account; the response
 * carries `Retry-After` (seconds). Ours: FastAPI Users has no rate limiting.
 *
 * @since 0.1.0
 */
export const TooManyRequests = detail(
  "TOO_MANY_REQUESTS",
  429,
  "Too many requests, or too many failed logins for this account: retry after `Retry-After` seconds"
)
/**
 * 429 body.
 *
 * @since 0.1.0
 */
export type TooManyRequests = typeof TooManyRequests.Type

/**
 * The 429 answer: `{"detail": "TOO_MANY_REQUESTS"}` with `Retry-After` in whole seconds (at least 1).
 *
 * @since 0.1.0
 */
export const tooManyRequestsResponse = (retryAfterMillis: number): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    { detail: "TOO_MANY_REQUESTS" },
    {
      status: 429,
      headers: { "retry-after": String(Math.max(1, Math.ceil(retryAfterMillis / 1000))), "cache-control": "no-store" }
    }
  )

/**
 * One problem with a malformed request, in the shape FastAPI (pydantic) reports it.
 *
 * @since 0.1.0
 */
export const ValidationIssue = Schema.Struct({
  loc: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  msg: Schema.String,
  type: Schema.String
})

/**
 * 422: the request body, path or query did not decode.
 *
 * @since 0.1.0
 */
export const ValidationError = Schema.Struct({ detail: Schema.Array(ValidationIssue) }).annotations({
  ...HttpApiSchema.annotations({ status: 422 }),
  identifier: "ValidationError",
  description: "Malformed request: bad JSON, a missing field, an invalid e-mail or a wrong type",
  examples: [{ detail: [{ loc: ["body", "email"], msg: "value is not a valid email address", type: "Type" }] }]
})
/**
 * 422 body.
 *
 * @since 0.1.0
 */
export type ValidationError = typeof ValidationError.Type

const validationResponse = (detail: ReadonlyArray<typeof ValidationIssue.Type>) =>
  HttpServerResponse.unsafeJson({ detail }, { status: 422 })

interface DecodeError {
  readonly _tag: "HttpApiDecodeError"
  readonly issues: ReadonlyArray<{
    readonly _tag: string
    readonly path: ReadonlyArray<PropertyKey>
    readonly message: string
  }>
}

const isDecodeError = (u: unknown): u is DecodeError => Predicate.isTagged(u, "HttpApiDecodeError")

// Schema's messages end with the submitted value (`Expected string, actual "hunter2"`): never send it back.
const withoutValue = (message: string) => {
  const actual = message.indexOf(", actual ")
  return actual === -1 ? message : message.slice(0, actual)
}

const issuesOf = (error: DecodeError): Array<typeof ValidationIssue.Type> => {
  const seen = new Set<string>()
  const issues: Array<typeof ValidationIssue.Type> = []
  for (const issue of error.issues) {
    const loc = ["body", ...issue.path.map((key) => (typeof key === "number" ? key : String(key)))]
    const entry = { loc, msg: withoutValue(issue.message), type: issue._tag }
    // A union payload (the login's form or JSON) reports each problem once per member.
    const key = JSON.stringify(entry)
    if (seen.has(key)) continue
    seen.add(key)
    issues.push(entry)
  }
  return issues
}
const isBodyReadError = (u: unknown) =>
  Predicate.isTagged(u, "RequestError") && Predicate.hasProperty(u, "reason") && u.reason === "Decode"

/**
 * An API-level middleware that answers malformed requests with 422 and a `detail` list, as FastAPI does,
 * instead of @effect/platform's 400 `HttpApiDecodeError`; a body that is not valid JSON is a 422 too, not a 500.
 * Each issue names the field (`loc`) and the problem, never the submitted value.
 *
 * @since 0.1.0
 */
export const layerValidationErrors: Layer.Layer<never> = HttpApiBuilder.middleware((app) =>
  Effect.catchAllCause(app, (cause) => {
    const error = Cause.squash(cause)
    if (isDecodeError(error)) {
      return Effect.succeed(validationResponse(issuesOf(error)))
    }
    if (isBodyReadError(error)) {
      return Effect.succeed(validationResponse([{ loc: ["body"], msg: "JSON decode error", type: "json_invalid" }]))
    }
    return Effect.failCause(cause)
  })
)

const decodeErrorRef = "#/components/schemas/HttpApiDecodeError"

type JsonObject = Record<string, unknown>
const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)
const empty: JsonObject = {}
const asObject = (u: unknown): JsonObject => (isObject(u) ? u : empty)
const objectAt = (parent: JsonObject, key: string): JsonObject => asObject(parent[key])

/**
 * An `OpenApi.Transform` that removes @effect/platform's 400 `HttpApiDecodeError` from every response
 * (`layerValidationErrors` answers 422 instead) and lists each tag once. `UsersApi.make(...).addTo(api)` installs it; an app
 * that sets its own transform can call this one from it.
 *
 * @since 0.1.0
 */
export const openApiTransform = (spec: Record<string, unknown>): Record<string, unknown> => {
  for (const operations of Object.values(objectAt(spec, "paths"))) {
    for (const operation of Object.values(asObject(operations))) {
      const responses = objectAt(asObject(operation), "responses")
      for (const [status, response] of Object.entries(responses)) {
        const content = objectAt(objectAt(asObject(response), "content"), "application/json")
        const schema = content.schema
        if (!isObject(schema)) continue
        if (schema.$ref === decodeErrorRef) {
          delete responses[status]
        } else if (Array.isArray(schema.anyOf)) {
          const members: ReadonlyArray<unknown> = schema.anyOf
          const rest = members.filter((member) => asObject(member).$ref !== decodeErrorRef)
          if (rest.length === members.length) continue
          content.schema = rest.length === 1 ? rest[0] : { anyOf: rest }
          const names = rest.map((member) =>
            String(asObject(member).$ref ?? "").replace("#/components/schemas/Error.", "")
          )
          asObject(response).description = names.join(" | ")
        }
      }
    }
  }
  // A backend's refresh group shares its auth group's tag: list each tag once.
  if (Array.isArray(spec.tags)) {
    const tags = new Map<unknown, JsonObject>()
    for (const tag of spec.tags as ReadonlyArray<unknown>) {
      const name = asObject(tag).name
      tags.set(name, { ...asObject(tag), ...tags.get(name) })
    }
    spec.tags = [...tags.values()]
  }
  const schemas = objectAt(objectAt(spec, "components"), "schemas")
  if (!JSON.stringify(spec.paths ?? {}).includes(decodeErrorRef)) {
    delete schemas.HttpApiDecodeError
    delete schemas.Issue
    delete schemas.PropertyKey
  }
  return spec
}

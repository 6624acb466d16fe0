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

/** The error codes of FastAPI Users' `ErrorCode`. */
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
  /** Ours: an `onBeforeDelete` hook refused the deletion (FastAPI Users answers 500). */
  DELETE_USER_ABORTED: "DELETE_USER_ABORTED"
} as const

/** A `{"detail": code}` error body with its HTTP status. */
export const detail = <const Code extends string>(code: Code, status: number, description?: string) =>
  Schema.Struct({ detail: Schema.Literal(code) }).annotations({
    ...HttpApiSchema.annotations({ status }),
    identifier: `Error.${code.replaceAll(" ", "")}`,
    description: description ?? code,
    examples: [{ detail: code }]
  })

/** A `{"detail": {"code": code, "reason": text}}` error body (status 400), as for rejected passwords. */
export const detailWithReason = <const Code extends string>(code: Code) =>
  Schema.Struct({ detail: Schema.Struct({ code: Schema.Literal(code), reason: Schema.String }) }).annotations({
    ...HttpApiSchema.annotations({ status: 400 }),
    identifier: `Error.${code}`,
    description: `${code}: the password was rejected; \`reason\` says why`,
    examples: [{ detail: { code, reason: "Password should be at least 8 characters" } }]
  })

/** 401: no user, a missing or invalid token, or an inactive user. */
export const Unauthorized = detail("Unauthorized", 401, "Missing token, invalid token or inactive user")
/** 401 body. */
export type Unauthorized = typeof Unauthorized.Type

/** 403: the user is not verified or not a superuser where that is required. */
export const Forbidden = detail("Forbidden", 403, "Not verified, or not a superuser, where that is required")
/** 403 body. */
export type Forbidden = typeof Forbidden.Type

/** 404: unknown user, or an ID that does not parse. */
export const NotFound = detail("Not Found", 404, "No user with this ID")
/** 404 body. */
export type NotFound = typeof NotFound.Type

/** One problem with a malformed request, in the shape FastAPI (pydantic) reports it. */
export const ValidationIssue = Schema.Struct({
  loc: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  msg: Schema.String,
  type: Schema.String
})

/** 422: the request body, path or query did not decode. */
export const ValidationError = Schema.Struct({ detail: Schema.Array(ValidationIssue) }).annotations({
  ...HttpApiSchema.annotations({ status: 422 }),
  identifier: "ValidationError",
  description: "Malformed request: bad JSON, a missing field, an invalid e-mail or a wrong type",
  examples: [{ detail: [{ loc: ["body", "email"], msg: "value is not a valid email address", type: "Type" }] }]
})
/** 422 body. */
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

/**
 * An `OpenApi.Transform` that removes @effect/platform's 400 `HttpApiDecodeError` from every response
 * (`layerValidationErrors` answers 422 instead). `UsersApi.make(...).addTo(api)` installs it; an app
 * that sets its own transform can call this one from it.
 */
export const openApiTransform = (spec: Record<string, any>): Record<string, any> => {
  for (const operations of Object.values<Record<string, any>>(spec.paths ?? {})) {
    for (const operation of Object.values<Record<string, any>>(operations)) {
      const responses: Record<string, any> = operation?.responses ?? {}
      for (const [status, response] of Object.entries<any>(responses)) {
        const schema = response?.content?.["application/json"]?.schema
        if (schema === undefined) continue
        if (schema.$ref === decodeErrorRef) {
          delete responses[status]
        } else if (Array.isArray(schema.anyOf)) {
          const rest = schema.anyOf.filter((member: any) => member.$ref !== decodeErrorRef)
          if (rest.length === schema.anyOf.length) continue
          response.content["application/json"].schema = rest.length === 1 ? rest[0] : { anyOf: rest }
          const names = rest.map((member: any) => String(member.$ref ?? "").replace("#/components/schemas/Error.", ""))
          response.description = names.join(" | ")
        }
      }
    }
  }
  const schemas = spec.components?.schemas
  if (schemas !== undefined && !JSON.stringify(spec.paths).includes(decodeErrorRef)) {
    delete schemas.HttpApiDecodeError
    delete schemas.Issue
    delete schemas.PropertyKey
  }
  return spec
}

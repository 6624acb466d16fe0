/**
 * The JSON shapes of users over HTTP, as FastAPI Users sends and reads them: snake_case fields
 * (`is_active`, …), never the password hash. Built from a `UserModel`, so an app's own fields and ID type
 * appear in the API too (`first_name` for a `firstName` field).
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { AuthenticationResponse } from "../Passkeys.js"
import { Email } from "../User.js"
import * as UserModel from "../UserModel.js"
import { maxListLimit } from "../UserRepository.js"

const snake = (key: string) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)

/**
 * A camelCase key in snake_case, as `snake` writes it at run time (`firstName` → `first_name`).
 *
 * @since 0.1.0
 */
export type Snake<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${Snake<Tail>}`
  : S

/**
 * An object type with its keys in snake_case.
 *
 * @since 0.1.0
 */
export type Snaked<A> = { readonly [K in keyof A as K extends string ? Snake<K> : K]: A[K] }

const renamed = (fields: Schema.Struct.Fields, optional: boolean): Schema.Struct.Fields =>
  Object.fromEntries(
    Object.entries(fields).map(([key, schema]) => {
      // A model's fields are plain schemas (`UserModel` builds them so); `Struct.Fields` also admits signatures.
      const field = optional
        ? Schema.optionalWith(schema as Schema.Schema.Any, { exact: true })
        : Schema.propertySignature(schema as Schema.Schema.Any)
      return [key, snake(key) === key ? field : field.pipe(Schema.fromKey(snake(key)))]
    })
  )

/**
 * The longest password accepted, in UTF-16 units: refused in O(1) before hashing or counting characters.
 *
 * @since 0.1.0
 */
export const maxPasswordLength = 4096

/**
 * The longest token accepted (verify, reset, OAuth parameters), in characters.
 *
 * @since 0.1.0
 */
export const maxTokenLength = 8192

/**
 * The longest login username (an e-mail address) accepted.
 *
 * @since 0.1.0
 */
export const maxUsernameLength = 320

const Password = Schema.Redacted(Schema.String.pipe(Schema.maxLength(maxPasswordLength))).annotations({
  title: "Password"
})

/**
 * A code of a second factor (TOTP or recovery), redacted: at most 64 characters.
 *
 * @since 0.3.0
 */
export const Code = Schema.Redacted(Schema.String.pipe(Schema.maxLength(64)))

/**
 * A token as a request carries it: a string of at most `maxTokenLength` characters.
 *
 * @since 0.1.0
 */
export const Token = Schema.String.pipe(Schema.maxLength(maxTokenLength))

interface Flags {
  readonly isActive: boolean
  readonly isSuperuser: boolean
  readonly isVerified: boolean
}

/**
 * A user as the API returns it: the model's user without its password hash.
 *
 * @since 0.1.0
 */
export type ReadType<Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields> = {
  readonly id: Schema.Schema.Type<Id>
  readonly email: string
} & Flags &
  Schema.Struct.Type<Fields>

/**
 * The JSON of `ReadType`: snake_case keys.
 *
 * @since 0.1.0
 */
export type ReadEncoded<Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields> = {
  readonly id: Schema.Schema.Encoded<Id>
  readonly email: string
} & Snaked<Flags> &
  Snaked<Schema.Struct.Encoded<Fields>>

/**
 * The body of `POST /auth/register`: e-mail, password, the flags (ignored unless by an admin), the model's fields.
 *
 * @since 0.1.0
 */
export type CreateType<Fields extends Schema.Struct.Fields> = {
  readonly email: string
  readonly password: Redacted.Redacted<string>
} & Partial<Flags> &
  Schema.Struct.Type<Fields>

/**
 * The JSON of `CreateType`.
 *
 * @since 0.1.0
 */
export type CreateEncoded<Fields extends Schema.Struct.Fields> = {
  readonly email: string
  readonly password: string
} & Partial<Snaked<Flags>> &
  Snaked<Schema.Struct.Encoded<Fields>>

/**
 * The body of the `PATCH` routes: every field optional; a null password leaves it unchanged. `current_password`
 * is read on the caller's own account only (`PATCH /users/me`, and `PATCH /users/{id}` on a superuser's own ID:
 * required there to change `password` or `email`), never stored.
 *
 * @since 0.1.0
 */
export type UpdateType<Fields extends Schema.Struct.Fields> = {
  readonly email?: string
  readonly password?: Redacted.Redacted<string> | null
  readonly currentPassword?: Redacted.Redacted<string>
  /** A current code of the user's second factor (the step-up of a user who has one). @since 0.3.0 */
  readonly code?: Redacted.Redacted<string>
  /** A recovery code instead of `code`. @since 0.3.0 */
  readonly recoveryCode?: Redacted.Redacted<string>
} & Partial<Flags> &
  Partial<Schema.Struct.Type<Fields>>

/**
 * The JSON of `UpdateType`.
 *
 * @since 0.1.0
 */
export type UpdateEncoded<Fields extends Schema.Struct.Fields> = {
  readonly email?: string
  readonly password?: string | null
  readonly current_password?: string
  readonly code?: string
  readonly recovery_code?: string
} & Partial<Snaked<Flags>> &
  Partial<Snaked<Schema.Struct.Encoded<Fields>>>

/**
 * The schemas of a model's HTTP bodies, typed by its ID schema and fields.
 *
 * @since 0.1.0
 */
export interface UserSchemas<Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields> {
  /** A user as the API returns it. */
  readonly UserRead: Schema.Schema<ReadType<Id, Fields>, ReadEncoded<Id, Fields>, Schema.Schema.Context<Id>>
  /** The body of `POST /auth/register`. */
  readonly UserCreate: Schema.Schema<CreateType<Fields>, CreateEncoded<Fields>, Schema.Struct.Context<Fields>>
  /** The body of `PATCH /users/me` and `PATCH /users/{id}`. */
  readonly UserUpdate: Schema.Schema<UpdateType<Fields>, UpdateEncoded<Fields>, Schema.Struct.Context<Fields>>
}

/**
 * The schemas of a model.
 *
 * @since 0.1.0
 */
export type Of<M> = M extends UserModel.UserModel<infer Id, infer Fields> ? UserSchemas<Id, Fields> : never

/**
 * Builds the read, create and update schemas of a user model (FastAPI Users' `schemas.BaseUser*`).
 *
 * @since 0.1.0
 */
export function make<Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields>(
  model: UserModel.UserModel<Id, Fields>
): UserSchemas<Id, Fields>
// The struct is built field by field, so its type is known only as the signature above states it.
export function make(model: UserModel.UserModel<Schema.Schema.Any, Schema.Struct.Fields>): {
  readonly [K in keyof UserSchemas<Schema.Schema.Any, {}>]: Schema.Schema.Any
} {
  const flags = { isActive: Schema.Boolean, isSuperuser: Schema.Boolean, isVerified: Schema.Boolean }
  return {
    UserRead: Schema.Struct({
      id: model.id,
      email: Schema.String,
      ...renamed(flags, false),
      ...renamed(model.fields, false)
    }).annotations({ identifier: "UserRead" }),
    UserCreate: Schema.Struct({
      email: Email,
      password: Password,
      ...renamed(flags, true),
      ...renamed(model.fields, false)
    }).annotations({ identifier: "UserCreate" }),
    UserUpdate: Schema.Struct({
      ...renamed(
        { email: Email, password: Schema.NullOr(Password), currentPassword: Password, code: Code, recoveryCode: Code },
        true
      ),
      ...renamed(flags, true),
      ...renamed(model.fields, true)
    }).annotations({ identifier: "UserUpdate" })
  }
}

/**
 * The schemas of the default model (UUID IDs, no extra fields).
 *
 * @since 0.1.0
 */
export const Default = make(UserModel.Default)

/**
 * A bearer login's body: `{"access_token": ..., "token_type": "bearer"}`.
 *
 * @since 0.1.0
 */
export const BearerResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.Literal("bearer")
}).annotations({ identifier: "BearerResponse" })

/**
 * What login and refresh answer on a bearer backend with refresh tokens: the pair.
 *
 * @since 0.1.0
 */
export const BearerRefreshResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.Literal("bearer"),
  refresh_token: Schema.String
}).annotations({ identifier: "BearerRefreshResponse" })

/**
 * The longest refresh token a request may carry (ours are 43 characters); longer is a 422.
 *
 * @since 0.1.0
 */
export const maxRefreshTokenLength = 1024

/**
 * `{"refresh_token": ...}`, the body of `POST /auth/{backend}/refresh`.
 *
 * @since 0.1.0
 */
export const RefreshBody = Schema.Struct({
  refresh_token: Schema.String.pipe(Schema.maxLength(maxRefreshTokenLength))
}).annotations({ identifier: "RefreshBody" })

const loginFields = { username: Schema.String.pipe(Schema.maxLength(maxUsernameLength)), password: Password }

/**
 * A session as `GET /users/me/sessions` lists it: never the token or its digest.
 *
 * @since 0.1.0
 */
export const SessionRead = Schema.Struct({
  id: Schema.String,
  created_at: Schema.Date,
  last_used_at: Schema.Date,
  backend: Schema.NullOr(Schema.String),
  user_agent: Schema.NullOr(Schema.String),
  /** How the session was started: `password`, `oauth:<provider>`; null for sessions stored before 0.2. */
  method: Schema.NullOr(Schema.String),
  /** How the sign-in was proven (RFC 8176: `pwd`, `oauth`, `otp`, `mfa`); null for sessions stored before 0.3. */
  amr: Schema.NullOr(Schema.Array(Schema.String)),
  current: Schema.Boolean
}).annotations({ identifier: "SessionRead" })

/**
 * An OAuth account linked to the user, as `GET /users/me/oauth-accounts` lists it: never a provider token.
 *
 * @since 0.2.0
 */
export const OAuthAccountRead = Schema.Struct({
  oauth_name: Schema.String,
  account_id: Schema.String,
  account_email: Schema.String,
  /** When it was linked; null for a link another program stored without one. */
  created_at: Schema.NullOr(Schema.Date)
}).annotations({ identifier: "OAuthAccountRead" })

/**
 * The longest deactivation reason accepted, in characters.
 *
 * @since 0.2.0
 */
export const maxDeactivationReasonLength = 500

// Control, format (zero-width, bidi), surrogate and line or paragraph separator characters: a reason an admin UI
// shows must read as it was written.
const unprintable = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u

const DeactivationReason = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(maxDeactivationReasonLength),
  Schema.filter((reason) => !unprintable.test(reason), {
    message: () => "value must not contain control, format or separator characters",
    jsonSchema: {}
  })
).annotations({
  title: "Reason",
  description: "Why the user is deactivated: for admins only, never shown to the user"
})

/**
 * An RFC 3339 date-time with its offset (`2026-05-01T00:00:00Z`), as a `Date`.
 *
 * @since 0.2.0
 */
export const DateTime = Schema.compose(
  Schema.String.pipe(
    Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i, {
      message: () => "value must be an RFC 3339 date-time with an offset, e.g. 2026-05-01T00:00:00Z"
    })
  ),
  Schema.Date
).annotations({ jsonSchema: { type: "string", format: "date-time" } })

/**
 * The body of `POST /users/{id}/deactivate`: why (never shown to the user) and, optionally, when the deactivation
 * lifts itself (`until`, in the future; absent or null for one that lasts until `POST /users/{id}/activate`).
 *
 * @since 0.2.0
 */
export const DeactivateBody = Schema.Struct({
  reason: DeactivationReason,
  until: Schema.optionalWith(Schema.NullOr(DateTime), { default: () => null })
}).annotations({ identifier: "DeactivateBody" })

/**
 * What `GET /users/{id}/deactivation` answers for an inactive user (both null when deactivated without them, e.g.
 * through `PATCH /users/{id}`); the route answers `null` for an active user.
 *
 * @since 0.2.0
 */
export const DeactivationRead = Schema.Struct({
  reason: Schema.NullOr(Schema.String),
  until: Schema.NullOr(Schema.Date)
}).annotations({ identifier: "DeactivationRead" })

/**
 * The path of one linked account: `/users/me/oauth-accounts/{oauth_name}/{account_id}`.
 *
 * @since 0.2.0
 */
export const OAuthAccountPath = Schema.Struct({
  oauth_name: Schema.String.pipe(Schema.maxLength(100)),
  account_id: Schema.String.pipe(Schema.maxLength(320))
})

/**
 * The login form: `application/x-www-form-urlencoded` `username` (the e-mail) and `password`.
 *
 * @since 0.1.0
 */
export const LoginForm = Schema.Struct(loginFields).annotations({ identifier: "LoginForm" })

/**
 * The login body: FastAPI Users' urlencoded form, or the same fields as JSON (ours).
 *
 * @since 0.1.0
 */
export const LoginBody = Schema.Union(
  LoginForm.pipe(HttpApiSchema.withEncoding({ kind: "UrlParams" })),
  Schema.Struct(loginFields).annotations({ identifier: "LoginJson" })
)

/**
 * `{"email": ...}`, the body of forgot-password and request-verify-token.
 *
 * @since 0.1.0
 */
export const EmailBody = Schema.Struct({ email: Email })

/**
 * `{"token": ...}`, the body of verify.
 *
 * @since 0.1.0
 */
export const TokenBody = Schema.Struct({ token: Token })

/**
 * `{"token": ..., "password": ...}`, the body of reset-password.
 *
 * @since 0.1.0
 */
export const ResetPasswordBody = Schema.Struct({ token: Token, password: Password })

// A query flag: exactly "true" or "false" (anything else is a 422).
const Flag = Schema.transform(Schema.Literal("true", "false"), Schema.Boolean, {
  strict: true,
  decode: (text) => text === "true",
  encode: (flag) => (flag ? "true" : "false")
})

/**
 * The query of `GET /users`: a page (`limit` 1..100, default 50; `offset` from 0) and the filters.
 *
 * @since 0.1.0
 */
export const ListQuery = Schema.Struct({
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, maxListLimit))),
  offset: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, Number.MAX_SAFE_INTEGER))),
  email: Schema.optional(
    Schema.String.pipe(Schema.maxLength(maxUsernameLength)).annotations({
      description: "E-mail prefix, case-insensitive; % and _ are plain characters"
    })
  ),
  is_active: Schema.optional(Flag),
  is_verified: Schema.optional(Flag),
  is_superuser: Schema.optional(Flag)
})

/**
 * A page of users: `items` in ID order, `total` users matching the filters, and the page asked for.
 *
 * @since 0.1.0
 */
export const UserPage = <Read extends Schema.Schema.Any>(UserRead: Read) =>
  Schema.Struct({ items: Schema.Array(UserRead), total: Schema.Int, limit: Schema.Int, offset: Schema.Int })

/**
 * An `mfa_token`: at most 128 characters.
 *
 * @since 0.3.0
 */
export const MfaToken = Schema.String.pipe(Schema.maxLength(128))

/**
 * The body of `POST /auth/{backend}/login/mfa`: the `mfa_token` and one proof (`code`, `recovery_code`, or
 * `webauthn`: a passkey's `AuthenticationResponseJSON` to the options of `/login/mfa/webauthn/options`).
 *
 * @since 0.3.0
 */
export const LoginMfaBody = Schema.Struct({
  mfa_token: MfaToken,
  code: Schema.optional(Code),
  recovery_code: Schema.optional(Code),
  webauthn: Schema.optional(AuthenticationResponse)
}).annotations({ identifier: "LoginMfaBody" })

/**
 * `{"current_password"}` and, once the user has a factor, one proof of it (`code`, `recovery_code`, or `webauthn`:
 * a passkey's `AuthenticationResponseJSON` to the options of `POST /users/me/mfa/webauthn/options`).
 *
 * @since 0.3.0
 */
export const StepUpBody = Schema.Struct({
  current_password: Schema.optional(Password),
  code: Schema.optional(Code),
  recovery_code: Schema.optional(Code),
  webauthn: Schema.optional(AuthenticationResponse)
}).annotations({ identifier: "StepUpBody" })

/**
 * `{"code"}`: the body of `POST /users/me/mfa/totp/confirm`.
 *
 * @since 0.3.0
 */
export const CodeBody = Schema.Struct({ code: Code }).annotations({ identifier: "CodeBody" })

/**
 * A new TOTP enrolment: the base32 secret and the `otpauth://` URI (for a QR code).
 *
 * @since 0.3.0
 */
export const TotpEnrolmentRead = Schema.Struct({ secret: Schema.String, otpauth_uri: Schema.String }).annotations({
  identifier: "TotpEnrolmentRead"
})

/**
 * New recovery codes, shown this once.
 *
 * @since 0.3.0
 */
export const RecoveryCodesRead = Schema.Struct({ recovery_codes: Schema.Array(Schema.String) }).annotations({
  identifier: "RecoveryCodesRead"
})

/**
 * The user's second factors, as `GET /users/me/mfa` shows them.
 *
 * @since 0.3.0
 */
export const MfaStatusRead = Schema.Struct({ totp: Schema.Boolean, recovery_codes_left: Schema.Number }).annotations({
  identifier: "MfaStatusRead"
})

/**
 * The JSON shapes of users over HTTP, as FastAPI Users sends and reads them: snake_case fields
 * (`is_active`, …), never the password hash. Built from a `UserModel`, so an app's own fields and ID type
 * appear in the API too (`first_name` for a `firstName` field).
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { Email } from "../User.js"
import * as UserModel from "../UserModel.js"

const snake = (key: string) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)

const renamed = (fields: Schema.Struct.Fields, optional: boolean): Schema.Struct.Fields =>
  Object.fromEntries(
    Object.entries(fields).map(([key, schema]) => {
      const field = optional
        ? Schema.optionalWith(schema as Schema.Schema.Any, { exact: true })
        : Schema.propertySignature(schema as Schema.Schema.Any)
      return [key, snake(key) === key ? field : field.pipe(Schema.fromKey(snake(key)))]
    })
  )

/** The longest password accepted, in UTF-16 units: refused in O(1) before any hashing or character counting. */
export const maxPasswordLength = 4096

/** The longest token accepted (verify, reset, OAuth parameters), in characters. */
export const maxTokenLength = 8192

/** The longest login username (an e-mail address) accepted. */
export const maxUsernameLength = 320

const Password = Schema.Redacted(Schema.String.pipe(Schema.maxLength(maxPasswordLength))).annotations({
  title: "Password"
})

/** A token as a request carries it: a string of at most `maxTokenLength` characters. */
export const Token = Schema.String.pipe(Schema.maxLength(maxTokenLength))

/** The schemas of a model's HTTP bodies. */
export interface UserSchemas {
  /** A user as the API returns it. */
  readonly UserRead: Schema.Schema<any, any>
  /** The body of `POST /auth/register`. */
  readonly UserCreate: Schema.Schema<any, any>
  /** The body of `PATCH /users/me` and `PATCH /users/{id}`. */
  readonly UserUpdate: Schema.Schema<any, any>
}

/** Builds the read, create and update schemas of a user model (FastAPI Users' `schemas.BaseUser*`). */
export const make = (model: UserModel.UserModel<any, any>): UserSchemas => {
  const flags = { isActive: Schema.Boolean, isSuperuser: Schema.Boolean, isVerified: Schema.Boolean }
  return {
    UserRead: Schema.Struct({
      id: model.id,
      email: Schema.String,
      ...renamed(flags, false),
      ...renamed(model.fields, false)
    }).annotations({ identifier: "UserRead" }) as unknown as Schema.Schema<any, any>,
    UserCreate: Schema.Struct({
      email: Email,
      password: Password,
      ...renamed(flags, true),
      ...renamed(model.fields, false)
    }).annotations({ identifier: "UserCreate" }) as unknown as Schema.Schema<any, any>,
    UserUpdate: Schema.Struct({
      ...renamed({ email: Email, password: Schema.NullOr(Password) }, true),
      ...renamed(flags, true),
      ...renamed(model.fields, true)
    }).annotations({ identifier: "UserUpdate" }) as unknown as Schema.Schema<any, any>
  }
}

/** The schemas of the default model (UUID IDs, no extra fields). */
export const Default: UserSchemas = make(UserModel.Default)

/** A bearer login's body: `{"access_token": ..., "token_type": "bearer"}`. */
export const BearerResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.Literal("bearer")
}).annotations({ identifier: "BearerResponse" })

const loginFields = { username: Schema.String.pipe(Schema.maxLength(maxUsernameLength)), password: Password }

/** The login form: `application/x-www-form-urlencoded` `username` (the e-mail) and `password`. */
export const LoginForm = Schema.Struct(loginFields).annotations({ identifier: "LoginForm" })

/** The login body: FastAPI Users' urlencoded form, or the same fields as JSON (ours). */
export const LoginBody = Schema.Union(
  LoginForm.pipe(HttpApiSchema.withEncoding({ kind: "UrlParams" })),
  Schema.Struct(loginFields).annotations({ identifier: "LoginJson" })
)

/** `{"email": ...}`, the body of forgot-password and request-verify-token. */
export const EmailBody = Schema.Struct({ email: Email })

/** `{"token": ...}`, the body of verify. */
export const TokenBody = Schema.Struct({ token: Token })

/** `{"token": ..., "password": ...}`, the body of reset-password. */
export const ResetPasswordBody = Schema.Struct({ token: Token, password: Password })

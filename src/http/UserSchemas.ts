/**
 * The JSON shapes of users over HTTP, as FastAPI Users sends and reads them: snake_case fields
 * (`is_active`, …), never the password hash. Built from a `UserModel`, so an app's own fields and ID type
 * appear in the API too (`first_name` for a `firstName` field).
 */
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

const Password = Schema.Redacted(Schema.String).annotations({ title: "Password" })

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

/** The login form: `application/x-www-form-urlencoded` `username` (the e-mail) and `password`. */
export const LoginForm = Schema.Struct({
  username: Schema.String,
  password: Schema.Redacted(Schema.String)
}).annotations({ identifier: "LoginForm" })

/** `{"email": ...}`, the body of forgot-password and request-verify-token. */
export const EmailBody = Schema.Struct({ email: Email })

/** `{"token": ...}`, the body of verify. */
export const TokenBody = Schema.Struct({ token: Schema.String })

/** `{"token": ..., "password": ...}`, the body of reset-password. */
export const ResetPasswordBody = Schema.Struct({ token: Schema.String, password: Password })

/**
 * An app's user model: its ID schema and the fields it adds to FastAPI Users' six. The model types
 * every service through `UserManager.forModel(model)` and `UserRepository.forModel(model)`, and gives
 * storage and HTTP code the schemas they decode with.
 */
import * as Schema from "effect/Schema"
import { type BaseUser, UserId } from "./User.js"

/**
 * The schema of a model's stored user.
 *
 * @since 0.1.0
 */
export type UserSchema<Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields> = Schema.Struct<
  {
    id: Id
    email: typeof Schema.String
    hashedPassword: typeof Schema.String
    isActive: typeof Schema.Boolean
    isSuperuser: typeof Schema.Boolean
    isVerified: typeof Schema.Boolean
  } & Fields
>

/**
 * A user model: `User` decodes stored users; `id` decodes IDs; `fields` are the app's own.
 *
 * @since 0.1.0
 */
export interface UserModel<Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields> {
  readonly id: Id
  readonly fields: Fields
  readonly User: UserSchema<Id, Fields>
}

/**
 * Any user model: what code generic in the model accepts.
 *
 * @since 0.2.0
 */
export interface Any {
  readonly id: Schema.Schema.Any
  readonly fields: Schema.Struct.Fields
  readonly User: Schema.Schema.Any
}

/**
 * The user type of a model.
 *
 * @since 0.1.0
 */
export type UserOf<M> =
  M extends UserModel<infer Id, infer Fields> ? BaseUser<Schema.Schema.Type<Id>> & Schema.Struct.Type<Fields> : never

/**
 * Builds a model from an ID schema and the app's extra fields.
 *
 * @since 0.1.0
 */
export const make = <Id extends Schema.Schema.Any, Fields extends Schema.Struct.Fields = {}>(options: {
  readonly id: Id
  readonly fields?: Fields | undefined
}): UserModel<Id, Fields> => {
  const fields = options.fields ?? ({} as Fields)
  return {
    id: options.id,
    fields,
    User: Schema.Struct({
      id: options.id,
      email: Schema.String,
      hashedPassword: Schema.String,
      isActive: Schema.Boolean,
      isSuperuser: Schema.Boolean,
      isVerified: Schema.Boolean,
      ...fields
    }) as UserSchema<Id, Fields>
  }
}

/**
 * FastAPI Users' default model: UUID IDs, no extra fields.
 *
 * @since 0.1.0
 */
export const Default = make({ id: UserId })

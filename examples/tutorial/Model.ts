/**
 * The notes service's users: FastAPI Users' fields, UUID IDs, and a display name of the app's own.
 */
import { Schema } from "effect"
import { User, UserModel } from "effect-users"

export const NoteUser = UserModel.make({
  id: User.UserId,
  fields: { displayName: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100)) }
})

// `NoteUser` is a value; the type of its users is `UserModel.UserOf<typeof NoteUser>`.
export type NoteUser = UserModel.UserOf<typeof NoteUser>

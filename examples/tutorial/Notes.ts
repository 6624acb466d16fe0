/**
 * The app's own data: notes, each belonging to one user. A contract, a memory implementation for tests and an SQL
 * one over the `note` table.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Schema } from "effect"
import { User } from "effect-users"

export class Note extends Schema.Class<Note>("Note")({
  id: Schema.Int,
  text: Schema.String,
  createdAt: Schema.DateTimeUtc
}) {}

export class Notes extends Context.Tag("notes/Notes")<
  Notes,
  {
    readonly list: (owner: string) => Effect.Effect<ReadonlyArray<Note>>
    readonly create: (owner: string, text: string) => Effect.Effect<Note>
  }
>() {}

export const layerMemory = Layer.sync(Notes, () => {
  const notes: Array<{ readonly owner: string; readonly note: Note }> = []
  return Notes.of({
    list: (owner) => Effect.sync(() => notes.filter((entry) => entry.owner === owner).map((entry) => entry.note)),
    create: (owner, text) =>
      Effect.map(DateTime.now, (createdAt) => {
        const note = new Note({ id: notes.length + 1, text, createdAt })
        notes.push({ owner, note })
        return note
      })
  })
})

const Row = Schema.Struct({ id: Schema.Int, text: Schema.String, createdAt: Schema.DateTimeUtcFromDate })

export const layerSql = Layer.effect(
  Notes,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const list = SqlSchema.findAll({
      Request: User.UserId,
      Result: Row,
      execute: (owner) => sql`SELECT id, text, created_at AS "createdAt" FROM note WHERE user_id = ${owner} ORDER BY id`
    })
    const insert = SqlSchema.single({
      Request: Schema.Struct({ user_id: User.UserId, text: Schema.String }),
      Result: Row,
      execute: (note) => sql`INSERT INTO note ${sql.insert(note)} RETURNING id, text, created_at AS "createdAt"`
    })
    return Notes.of({
      list: (owner) => Effect.map(list(owner), (rows) => rows.map((row) => new Note(row))).pipe(Effect.orDie),
      create: (owner, text) => Effect.map(insert({ user_id: owner, text }), (row) => new Note(row)).pipe(Effect.orDie)
    })
  })
)

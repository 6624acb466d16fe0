import { Migrator, SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, Redacted, Schema } from "effect"
import { IdParser, UserManager, UserManagerConfig, UserModel } from "effect-users"
import { Migrations, SqlUserRepository } from "effect-users/sql"

// Integer IDs (`id: UserId` keeps the default UUIDs) and a field of the app's own.
const AppUser = UserModel.make({ id: Schema.Int, fields: { firstName: Schema.String } })
const AppUsers = UserManager.forModel(AppUser) // typed: ids are numbers, users have firstName
type AppUser = UserModel.UserOf<typeof AppUser> // the model's user type, named like the model

// Our migrations with integer IDs, then the app's own column (app migrations start at 100).
const migrate = Migrator.make({})({
  loader: Migrator.fromRecord({
    ...Migrations.migrations({ idType: "integer" }),
    "0100_user_first_name": Effect.flatMap(
      SqlClient.SqlClient,
      (sql) => sql`ALTER TABLE ${sql("user")} ADD COLUMN first_name VARCHAR(100) NOT NULL DEFAULT ''`
    )
  })
})

const Users = UserManager.layer.pipe(
  Layer.provide([
    // The repository reads and writes the model's fields (firstName in column first_name).
    SqlUserRepository.layer({ model: AppUser }).pipe(Layer.provide(Layer.effectDiscard(migrate))),
    // IDs from URL paths and tokens are integers; the database assigns new ones.
    IdParser.layerInteger,
    UserManagerConfig.layer({
      resetPasswordTokenSecret: Redacted.make("change me: a reset secret of 32+ bytes"),
      verificationTokenSecret: Redacted.make("change me: a verify secret of 32+ bytes")
    })
  ]),
  Layer.provide(SqliteClient.layer({ filename: ":memory:" }))
)

const program = Effect.gen(function* () {
  const users = yield* AppUsers
  const created = yield* users.create({
    email: "percival@camelot.bt",
    password: Redacted.make("holy-grail!"),
    firstName: "Percival"
  })
  const id = yield* users.parseId(String(created.id)) // as an ID arrives in a URL path
  const user: AppUser = yield* users.get(id)
  console.log(`${user.firstName} has ID ${user.id} (${typeof user.id})`)
})

Effect.runPromise(Effect.provide(program, Users))

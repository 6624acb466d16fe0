/**
 * The administration CLI, `effect-users` (the package's `bin`, and `npm run users` in this repository): one table
 * of commands, each working on the database named by `--database-url` or `DATABASE_URL`.
 */
import { randomBytes } from "node:crypto"
import { createRequire } from "node:module"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { IdParser } from "../IdParser.js"
import * as PasswordValidator from "../PasswordValidator.js"
import { SecondFactorStore } from "../SecondFactorStore.js"
import * as Sessions from "../Sessions.js"
import * as Migrations from "../sql/Migrations.js"
import * as SqlSecondFactorStore from "../sql/SqlSecondFactorStore.js"
import * as SqlUserRepository from "../sql/SqlUserRepository.js"
import * as User from "../User.js"
import * as UserManager from "../UserManager.js"
import * as UserManagerConfig from "../UserManagerConfig.js"
import { UserRepository } from "../UserRepository.js"
import * as Password from "./Password.js"
import * as Storage from "./Storage.js"

/**
 * A command's refusal: its message goes to stderr, and the process exits with `code`.
 */
export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly message: string; readonly code: number }> {}

const fail = (message: string) => Effect.fail(new CliFailure({ message, code: 1 }))

/** `--database-url`, else `DATABASE_URL`: a `postgres://` URL, `sqlite:FILE` or an SQLite file path. */
const databaseUrl = Options.redacted("database-url").pipe(
  Options.withFallbackConfig(Config.redacted("DATABASE_URL")),
  Options.withDefault(Redacted.make("")),
  Options.withDescription(
    "The database: postgres://user@host/db, sqlite:FILE or an SQLite file path (default: $DATABASE_URL)"
  )
)

/** A user named by e-mail or ID. */
const userArg = Args.text({ name: "user" }).pipe(Args.withDescription("The user's e-mail address or ID"))

/** The database's users, sessions and manager. The manager's token secrets are random: no command issues tokens. */
const services = (policy: PasswordValidator.PasswordRule) =>
  UserManager.layer.pipe(
    Layer.provideMerge(SqlUserRepository.layer()),
    Layer.provide(PasswordValidator.layer(policy)),
    Layer.provide(
      UserManagerConfig.layer({
        resetPasswordTokenSecret: Redacted.make(randomBytes(32).toString("base64url")),
        verificationTokenSecret: Redacted.make(randomBytes(32).toString("base64url"))
      })
    )
  )

type Services = UserManager.UserManager | Sessions.Sessions | UserRepository

/**
 * Runs a command's effect on the database: the SQL client of the URL, then the users' services unless the command
 * needs the client only. A storage that is not migrated fails naming the missing table or column.
 */
const onDatabase = <A, E>(
  url: Redacted.Redacted<string>,
  effect: Effect.Effect<A, E, Services | SqlClient.SqlClient>,
  policy: PasswordValidator.PasswordRule = PasswordValidator.defaultRule
) => Effect.provide(effect, services(policy).pipe(Layer.provideMerge(Storage.layer(url))))

const onClient = <A, E>(url: Redacted.Redacted<string>, effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.provide(effect, Storage.layer(url))

/** The user with this e-mail, else this ID. */
const findUser = (reference: string) =>
  Effect.gen(function* () {
    const repository = yield* UserRepository
    const byEmail = yield* repository.getByEmail(reference)
    if (Option.isSome(byEmail)) return byEmail.value
    const id = yield* Effect.option(IdParser.pipe(Effect.flatMap((parser) => parser.parse(reference))))
    // The CLI's repository is the default model's, whose IDs the default parser reads.
    const byId = Option.isSome(id) ? yield* repository.get(id.value as User.User["id"]) : Option.none()
    return Option.isSome(byId) ? byId.value : yield* fail(`No user with the e-mail or ID ${JSON.stringify(reference)}.`)
  })

const migrate = Command.make("migrate", { databaseUrl }, ({ databaseUrl }) =>
  Effect.gen(function* () {
    const applied = yield* Migrations.run()
    yield* Console.log(
      applied.length === 0
        ? "The database is up to date."
        : applied.map(([id, name]) => `Applied ${String(id).padStart(4, "0")}_${name}`).join("\n")
    )
  }).pipe((effect) => onClient(databaseUrl, effect))
).pipe(Command.withDescription("Creates or updates the tables (FastAPI Users' tables are kept as they are)"))

const passwordPolicy = Options.choice("password-policy", ["nist", "compat"]).pipe(
  Options.withFallbackConfig(Config.literal("nist", "compat")("USERS_PASSWORD_POLICY")),
  Options.withDefault("nist" as const),
  Options.withDescription(
    "nist: at least 15 characters (NIST SP 800-63B-4); compat: FastAPI Users' 8 (default: $USERS_PASSWORD_POLICY or nist)"
  )
)

const createSuperuser = Command.make(
  "create-superuser",
  {
    databaseUrl,
    passwordPolicy,
    email: Args.text({ name: "email" }).pipe(Args.withDescription("The superuser's e-mail address"))
  },
  ({ databaseUrl, email, passwordPolicy }) =>
    Effect.gen(function* () {
      const address = yield* Schema.decodeUnknown(User.Email)(email).pipe(
        Effect.orElse(() => fail(`Not an e-mail address: ${JSON.stringify(email)}`))
      )
      const password = yield* Password.read
      const users = yield* UserManager.UserManager
      const user = yield* users.create({ email: address, password, isSuperuser: true, isVerified: true }).pipe(
        Effect.catchTags({
          InvalidPassword: (error) => fail(`Password refused: ${error.reason}`),
          UserAlreadyExists: () => fail(`A user with the e-mail ${address} already exists.`)
        })
      )
      yield* Console.log(`Superuser ${user.email} created (id ${user.id}).`)
    }).pipe((effect) =>
      onDatabase(
        databaseUrl,
        effect,
        passwordPolicy === "compat" ? PasswordValidator.defaultRule : PasswordValidator.nist
      )
    )
).pipe(
  Command.withDescription(
    "Creates an active, verified superuser; the password is read from stdin (a prompt without echo, or a pipe)"
  )
)

const flag = (value: boolean, name: string) => (value ? name : `not ${name}`)

const usersList = Command.make(
  "list",
  {
    databaseUrl,
    email: Options.text("email").pipe(
      Options.optional,
      Options.withDescription("Only e-mails starting with this (any case)")
    ),
    limit: Options.integer("limit").pipe(Options.withDefault(50), Options.withDescription("At most this many (100)")),
    offset: Options.integer("offset").pipe(Options.withDefault(0), Options.withDescription("Skip this many first"))
  },
  ({ databaseUrl, email, limit, offset }) =>
    Effect.gen(function* () {
      const repository = yield* UserRepository
      const filters = { emailPrefix: Option.getOrUndefined(email) }
      const page = yield* repository.list({ ...filters, limit, offset })
      const total = yield* repository.count(filters)
      for (const user of page) {
        yield* Console.log(
          [
            user.id,
            user.email,
            flag(user.isActive, "active"),
            flag(user.isVerified, "verified"),
            ...(user.isSuperuser ? ["superuser"] : [])
          ].join("\t")
        )
      }
      yield* Console.log(`${page.length} of ${total} users`)
    }).pipe((effect) => onDatabase(databaseUrl, effect))
).pipe(Command.withDescription("Lists the users in ID order: ID, e-mail, active, verified, superuser"))

const users = Command.make("users").pipe(Command.withDescription("Users: list"), Command.withSubcommands([usersList]))

const sessionsRevoke = Command.make("revoke", { databaseUrl, user: userArg }, ({ databaseUrl, user }) =>
  Effect.gen(function* () {
    const found = yield* findUser(user)
    const sessions = yield* Sessions.Sessions
    yield* sessions.endAll(found)
    yield* Console.log(`Every session of ${found.email} has ended.`)
  }).pipe((effect) => onDatabase(databaseUrl, effect))
).pipe(
  Command.withDescription(
    "Ends every session of the user (access tokens, cookies and refresh tokens), on every instance"
  )
)

const sessions = Command.make("sessions").pipe(
  Command.withDescription("Sessions: revoke"),
  Command.withSubcommands([sessionsRevoke])
)

const mfaReset = Command.make("reset", { databaseUrl, user: userArg }, ({ databaseUrl, user }) =>
  Effect.gen(function* () {
    const found = yield* findUser(user)
    const factors = yield* SecondFactorStore
    // As DELETE /users/{id}/mfa: the factors go (TOTP, recovery codes, pending two-step logins), then every session.
    yield* factors.removeAll(String(found.id))
    yield* (yield* Sessions.Sessions).endAll(found)
    yield* Console.log(`${found.email} has no second factor now, and every session of theirs has ended.`)
  }).pipe(Effect.provide(SqlSecondFactorStore.layer()), (effect) => onDatabase(databaseUrl, effect))
).pipe(
  Command.withDescription(
    "Removes the user's second factors (TOTP, recovery codes) and ends their sessions: for a user who lost them"
  )
)

const mfa = Command.make("mfa").pipe(
  Command.withDescription("Second factors: reset"),
  Command.withSubcommands([mfaReset])
)

/**
 * The command table: one entry per top-level command (a group such as `users` holds its own subcommands); a new
 * command is one more entry.
 */
export const commands = [migrate, createSuperuser, users, sessions, mfa] as const

/**
 * The root command, `effect-users`.
 */
export const command = Command.make("effect-users").pipe(
  Command.withDescription("Administers the users of an effect-users database"),
  Command.withSubcommands(commands)
)

// src/cli/ and dist/cli/ are both two folders below the package's root.
const { version } = createRequire(import.meta.url)("../../package.json") as { readonly version: string }

/** A failure's message, without a stack trace: the messages of a `ConfigError`, an error's own message. */
const describe = (error: unknown): string => {
  if (ConfigError.isConfigError(error)) {
    return ConfigError.reduceWithContext(error, undefined, {
      andCase: (_, left, right) => `${left}\n${right}`,
      orCase: (_, left, right) => `${left}\n${right}`,
      invalidDataCase: (_, __, message) => message,
      missingDataCase: (_, __, message) => message,
      sourceUnavailableCase: (_, __, message) => message,
      unsupportedCase: (_, __, message) => message
    })
  }
  const message = Predicate.hasProperty(error, "message") ? String(error.message) : String(error)
  // An SQL error's own message is generic ("Failed to connect"); its cause says why.
  const cause = Predicate.hasProperty(error, "cause") ? error.cause : undefined
  return Predicate.hasProperty(cause, "message") ? `${message}: ${String(cause.message)}` : message
}

/**
 * Runs the CLI on the arguments (`process.argv`); the exit code: 0, 1 when a command refuses or fails, 2 on
 * wrong usage.
 */
export const run = (argv: ReadonlyArray<string>) =>
  Command.run(command, { name: "effect-users", version })(argv).pipe(
    Effect.as(0),
    Effect.catchAll((error) => {
      if (error instanceof CliFailure) return Effect.as(Console.error(error.message), error.code)
      // @effect/cli has already printed the usage problem and the help.
      if (ValidationError.isValidationError(error)) return Effect.succeed(2)
      return Effect.as(Console.error(describe(error)), 1)
    }),
    Effect.catchAllDefect((defect) => Effect.as(Console.error(describe(defect)), 1))
  )

/**
 * The `UserRepository` contract over `@effect/sql`, written once for PostgreSQL (`@effect/sql-pg`) and
 * SQLite (`@effect/sql-sqlite-node`). Tables and columns follow FastAPI Users' SQLAlchemy models
 * (`user`, `oauth_account`, snake_case columns), so it reads and writes a FastAPI Users database as is.
 *
 * Two users never share an e-mail because the database says so: every write stores the e-mail's `emailKey`
 * (NFC and full Unicode case folding, the domain by its IDNA name; computed here) in `email_key`, whose unique index (`Migrations`) turns a
 * lost race into `UserAlreadyExists`. Lookups by e-mail use that key.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as coalesce from "../internal/coalesce.js"
import { unwrap } from "../internal/config.js"
import * as TokenCipher from "../internal/tokenCipher.js"
import {
  emailKey,
  type IdOf,
  normalizeEmail,
  OAuthAccount,
  type OAuthAccountCreate,
  type UserInsert,
  type UserWithOAuth
} from "../User.js"
import {
  OAuthAccountAlreadyLinked,
  OAuthAccountNotFound,
  OAuthLastLoginMethod,
  OAuthProfileRejected,
  UserAlreadyExists,
  UserNotExists
} from "../UserError.js"
import { minimumSecretBytes } from "../UserManagerConfig.js"
import * as UserModel from "../UserModel.js"
import {
  type Deactivation,
  hasLapsed,
  newOAuthAccount,
  type OAuthAccountUpdate,
  pageOf,
  type UserFilters,
  UserRepository,
  type UserRepositoryService,
  type UserWithSessions
} from "../UserRepository.js"
import {
  deactivatedUntilColumn,
  deactivationReasonColumn,
  emailKeyColumn,
  passwordSetColumn,
  revokedUntilColumn,
  sessionEpochColumn
} from "./Migrations.js"
import * as SqlUnavailable from "./SqlUnavailable.js"

/**
 * Table names, the app's user model and how reads by ID run; the defaults are FastAPI Users' tables and model.
 *
 * @since 0.1.0
 */
export interface Options<M extends UserModel.Any = typeof UserModel.Default> {
  /** The users table (default `user`). */
  readonly userTable?: string | undefined
  /** The OAuth accounts table (default `oauth_account`). */
  readonly oauthAccountTable?: string | undefined
  /** The app's user model; each field is stored in the snake_case column of its name (`firstName` → `first_name`). */
  readonly model?: M | undefined
  /**
   * Share one query among the reads by ID that concurrent requests start in one event-loop turn (default
   * true). It costs a lone read one event-loop turn (tens of microseconds) and saves a busy server most of
   * its lookup queries. With `false` each read runs its own query, inside its caller's span.
   */
  readonly coalesceReads?: boolean | undefined
  /**
   * Encrypts providers' access and refresh tokens at rest (AES-256-GCM, key derived from this secret of 32+
   * bytes). Tokens stored in plain text before it was set still read; changing the secret makes the stored
   * tokens unreadable (reads die).
   */
  readonly oauthTokenSecret?: Redacted.Redacted<string> | undefined
}

/**
 * The users table lacks columns that the model's fields or the library's own state are stored in, or the table
 * itself (`columns` empty): `make` checks them at start-up, so a missing column fails there, named, instead of
 * the first write that needs it.
 *
 * @since 0.3.0
 */
export class MissingColumns extends Schema.TaggedError<MissingColumns>()("MissingColumns", {
  table: Schema.String,
  columns: Schema.Array(Schema.String)
}) {
  get message(): string {
    const migrate = "effect-users' migrations (Migrations.layer(), or npx effect-users migrate)"
    return this.columns.length === 0
      ? `The table "${this.table}" does not exist: run ${migrate}`
      : `The table "${this.table}" has no column ${this.columns.map((column) => `"${column}"`).join(", ")}: ` +
          `a model field is stored in the snake_case column of its name (add yours with a migration of your own), ` +
          `and ${migrate} add the library's`
  }
}

/** Whether an `SqlError` says that a table or column does not exist (PostgreSQL's 42P01 and 42703, SQLite's text). */
const isUndefinedName = (error: SqlError): boolean => {
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined
  return (
    cause?.code === "42703" ||
    cause?.code === "42P01" ||
    (typeof cause?.message === "string" && /^no such (column|table):/.test(cause.message))
  )
}

/**
 * Fails with `MissingColumns` when the table or one of the columns does not exist: one query when all do, one more
 * per column otherwise. Another failure (the database down at start-up) skips the check with a warning: the
 * repository's queries report an outage as they always do.
 */
const checkColumns = (
  sql: SqlClient.SqlClient,
  table: string,
  columns: ReadonlyArray<string>
): Effect.Effect<void, MissingColumns> => {
  const from = sql(table)
  const probe = (names: ReadonlyArray<string>) =>
    Effect.either(sql`SELECT ${sql.literal(names.map(quote).join(", "))} FROM ${from} WHERE 1 = 0`)
  return Effect.gen(function* () {
    const all = yield* probe(columns)
    if (all._tag === "Right") return
    if (!isUndefinedName(all.left)) {
      return yield* Effect.logWarning(`SqlUserRepository: could not check the columns of "${table}"`, all.left)
    }
    const tableExists = yield* Effect.either(sql`SELECT 1 FROM ${from} WHERE 1 = 0`)
    if (tableExists._tag === "Left" && isUndefinedName(tableExists.left)) {
      return yield* new MissingColumns({ table, columns: [] })
    }
    const missing: Array<string> = []
    for (const column of columns) {
      const one = yield* probe([column])
      if (one._tag === "Left" && isUndefinedName(one.left)) missing.push(column)
    }
    return yield* new MissingColumns({ table, columns: missing })
  }).pipe(Effect.withSpan("SqlUserRepository.checkColumns", spanOptions))
}

/**
 * The column a model field is stored in: `hashedPassword` → `hashed_password`.
 *
 * @since 0.1.0
 */
export const columnName = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** A LIKE pattern matching text that starts with `prefix`, taken literally (escaped with `!`). */
const likePrefix = (prefix: string) => `${prefix.replace(/[!%_]/g, (c) => `!${c}`)}%`

const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`

const isBooleanAst = (ast: SchemaAST.AST): boolean =>
  ast._tag === "BooleanKeyword" || (ast._tag === "Union" && ast.types.some(isBooleanAst))

interface Column {
  readonly field: string
  readonly column: string
  readonly boolean: boolean
}

const columnsOf = (schema: Schema.Schema.Any): ReadonlyArray<Column> => {
  const encoded = SchemaAST.encodedAST(schema.ast)
  if (encoded._tag !== "TypeLiteral") throw new Error("SqlUserRepository: the user model must be a struct")
  return encoded.propertySignatures.map(({ name, type }) => ({
    field: String(name),
    column: columnName(String(name)),
    boolean: isBooleanAst(type)
  }))
}

const accountColumns: ReadonlyArray<Column> = columnsOf(OAuthAccount)

// Writes get a span each, without the call-site stack trace (the name says enough). Reads get none: they
// run on every authenticated request, a span costs about as many runtime steps as the read itself, and
// @effect/sql's own `sql.execute` span already shows the query.
const spanOptions = { captureStackTrace: false } as const

/**
 * The end of a repository operation: a row that does not decode is a defect, an SQL error an outage
 * (`ServiceUnavailable`) or a defect; the operation's own typed errors stay. Named as a span.
 */
const settled =
  (name: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Settled>, R> =>
    effect.pipe(
      Effect.catchAll((error) =>
        Predicate.isTagged(error, "SqlError")
          ? SqlUnavailable.die(error)
          : Predicate.isTagged(error, "ParseError")
            ? Effect.die(error)
            : Effect.fail(error as Exclude<E, Settled>)
      ),
      Effect.withSpan(`SqlUserRepository.${name}`, spanOptions)
    )

/** The driver's and the decoder's errors, which `settled` turns into defects. */
type Settled = { readonly _tag: "ParseError" | "SqlError" }

/** Whether a failed write broke the uniqueness of an e-mail (FastAPI Users' index, `lower(email)` or `email_key`). */
const isEmailConflict = (error: SqlError): boolean => {
  const cause = error.cause as { code?: unknown; detail?: unknown; message?: unknown } | undefined
  if (cause?.code === "23505" && typeof cause.detail === "string") {
    // detail reads `Key (lower(email::text))=(...) already exists.`: only the part before the value names columns
    const end = cause.detail.indexOf(")=(")
    return /\bemail(_key)?\b/.test(cause.detail.slice(0, end === -1 ? 0 : end))
  }
  if (cause?.code === "SQLITE_CONSTRAINT_UNIQUE" && typeof cause.message === "string") {
    // `UNIQUE constraint failed: user.email` (or `.email_key`), or `... failed: index 'ix_user_email_lower'`
    return /\.email(_key)?$|index '[^']*email[^']*'/.test(cause.message)
  }
  return false
}

/** Oldest link first; links without a time (written by another program) last. */
const sortByLink = (accounts: ReadonlyArray<OAuthAccount>): ReadonlyArray<OAuthAccount> =>
  [...accounts].sort((a, b) => (a.createdAt?.getTime() ?? Infinity) - (b.createdAt?.getTime() ?? Infinity))

/** Whether a failed write linked a provider account twice (the unique index on `(oauth_name, account_id)`). */
const isAccountConflict = (error: SqlError): boolean => {
  const cause = error.cause as { code?: unknown; detail?: unknown; message?: unknown } | undefined
  if (cause?.code === "23505" && typeof cause.detail === "string")
    return cause.detail.startsWith("Key (oauth_name, account_id)")
  return (
    cause?.code === "SQLITE_CONSTRAINT_UNIQUE" &&
    typeof cause.message === "string" &&
    /\.oauth_name, [^ ]+\.account_id$/.test(cause.message)
  )
}

/**
 * The column a failed insert left empty or the check it broke (a NOT NULL or CHECK of the app's own columns), if
 * that is why it failed: the model's constraint, which a sign-up answers as a refusal rather than an outage.
 */
const modelConstraint = (error: SqlError): string | undefined => {
  const cause = error.cause as { code?: unknown; column?: unknown; constraint?: unknown; message?: unknown } | undefined
  if (cause?.code === "23502") return `${typeof cause.column === "string" ? cause.column : "a column"} is required`
  if (cause?.code === "23514") return `${typeof cause.constraint === "string" ? cause.constraint : "a check"} failed`
  if (typeof cause?.message !== "string") return undefined
  if (cause.code === "SQLITE_CONSTRAINT_NOTNULL") {
    return `${/NOT NULL constraint failed: [^.]+\.(\S+)/.exec(cause.message)?.[1] ?? "a column"} is required`
  }
  if (cause.code === "SQLITE_CONSTRAINT_CHECK") {
    return `${/CHECK constraint failed: (\S+)/.exec(cause.message)?.[1] ?? "a check"} failed`
  }
  return undefined
}

const catchAccountConflict = <A, E, R>(
  effect: Effect.Effect<A, E | SqlError, R>
): Effect.Effect<A, Exclude<E, SqlError> | OAuthAccountAlreadyLinked, R> =>
  Effect.catchIf(
    effect,
    (error): error is SqlError => (error as { _tag?: unknown })._tag === "SqlError",
    (error) => (isAccountConflict(error) ? Effect.fail(new OAuthAccountAlreadyLinked()) : SqlUnavailable.die(error))
  ) as Effect.Effect<A, Exclude<E, SqlError> | OAuthAccountAlreadyLinked, R>

const catchEmailConflict = <A, R>(effect: Effect.Effect<A, SqlError, R>): Effect.Effect<A, UserAlreadyExists, R> =>
  Effect.catchAll(effect, (error) =>
    isEmailConflict(error) ? Effect.fail(new UserAlreadyExists()) : SqlUnavailable.die(error)
  )

/**
 * Builds the repository of the model's users over the `SqlClient` in context (PostgreSQL or SQLite). Fails with
 * `MissingColumns` when the users table lacks a model field's column or one of the library's, and with a
 * `ConfigError` when `oauthTokenSecret` is shorter than 32 bytes.
 *
 * @since 0.1.0
 */
export const make = <M extends UserModel.Any = typeof UserModel.Default>(
  options: Options<M> = {}
): Effect.Effect<
  UserRepositoryService<UserModel.UserOf<M>>,
  MissingColumns | ConfigError.ConfigError,
  SqlClient.SqlClient
> =>
  Effect.gen(function* () {
    type U = UserModel.UserOf<M>
    // Our own column names: an app's client may camelCase results or snake_case identifiers, we must not.
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const sqlite = sql.onDialectOrElse({ sqlite: () => true, pg: () => false, orElse: () => undefined })
    if (sqlite === undefined) return yield* Effect.dieMessage("SqlUserRepository supports PostgreSQL and SQLite")

    const model = options.model ?? UserModel.Default
    const users = sql(options.userTable ?? "user")
    const accounts = sql(options.oauthAccountTable ?? "oauth_account")
    const userColumns = columnsOf(model.User)
    // Every read of a user brings the end of their deactivation: one that has passed reads as active.
    const selectUser = sql.literal(
      [...userColumns.map(({ column }) => column), deactivatedUntilColumn].map(quote).join(", ")
    )
    // Reads by ID or e-mail also bring the session state: a login strategy's check costs no second lookup.
    const selectUserSessions = sql.literal(
      [...userColumns.map(({ column }) => column), deactivatedUntilColumn, sessionEpochColumn, revokedUntilColumn]
        .map(quote)
        .join(", ")
    )
    const epochColumn = sql(sessionEpochColumn)
    yield* checkColumns(sql, options.userTable ?? "user", [
      ...new Set([
        ...userColumns.map(({ column }) => column),
        emailKeyColumn,
        passwordSetColumn,
        sessionEpochColumn,
        revokedUntilColumn,
        deactivationReasonColumn,
        deactivatedUntilColumn
      ])
    ])
    const selectAccount = sql.literal(accountColumns.map(({ column }) => quote(column)).join(", "))

    // Stored users decode without services: a model's schemas have no context requirements.
    const userSchema = model.User as Schema.Schema<U, Record<string, unknown>>
    const decodeUser = Schema.decodeUnknown(userSchema)
    const encodeUser = Schema.encodeUnknown(Schema.partial(userSchema))
    const encodeId = Schema.encodeUnknown(model.id as Schema.Schema<IdOf<U>, unknown>)
    const decodeAccounts = Schema.decodeUnknown(Schema.Array(OAuthAccount))

    const toRow = (columns: ReadonlyArray<Column>, encoded: Record<string, unknown>) => {
      const row: Record<string, unknown> = {}
      for (const { boolean, column, field } of columns) {
        const value = encoded[field]
        if (value === undefined) continue
        row[column] = sqlite && boolean && typeof value === "boolean" ? (value ? 1 : 0) : value
      }
      return row
    }
    const fromRow = (columns: ReadonlyArray<Column>, row: Record<string, unknown>) => {
      const encoded: Record<string, unknown> = {}
      for (const { boolean, column, field } of columns) {
        const value = row[column]
        encoded[field] = sqlite && boolean && typeof value === "number" ? value !== 0 : value
      }
      return encoded
    }

    const userRow = (input: Record<string, unknown>) =>
      Effect.map(encodeUser(input), (encoded) => toRow(userColumns, encoded as Record<string, unknown>))
    const sqlBoolean = (value: boolean) => (sqlite ? (value ? 1 : 0) : value)
    const untilColumn = sql(deactivatedUntilColumn)
    const activeColumn = sql("is_active")
    // A deactivation whose end has passed reads as active; the first read after it clears it from the row (only if
    // the row still holds a passed end: a new deactivation written meanwhile stays).
    const readRow = (row: Record<string, unknown>) =>
      Effect.flatMap(decodeUser(fromRow(userColumns, row)), (user) => {
        const until = row[deactivatedUntilColumn]
        if (user.isActive || until === null || until === undefined) return Effect.succeed(user)
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          hasLapsed(user.isActive, Number(until), now)
            ? Effect.as(
                sql`UPDATE ${users} SET ${sql.update({
                  is_active: sqlBoolean(true),
                  [deactivationReasonColumn]: null,
                  [deactivatedUntilColumn]: null
                })} WHERE id = ${row.id} AND ${activeColumn} = ${sqlBoolean(false)} AND ${untilColumn} <= ${now}`.pipe(
                  SqlUnavailable.orDie
                ),
                { ...user, isActive: true }
              )
            : Effect.succeed(user)
        )
      })
    const readUser = (rows: ReadonlyArray<Record<string, unknown>>) =>
      rows.length === 0 ? Effect.succeedNone : Effect.asSome(readRow(rows[0]!))
    const readSessions = (rows: ReadonlyArray<Record<string, unknown>>) =>
      Effect.map(readUser(rows), (user) =>
        Option.map(
          user,
          (found): UserWithSessions<U> => ({
            user: found,
            sessionEpoch: Number(rows[0]![sessionEpochColumn] ?? 0),
            revokedUntil: Number(rows[0]![revokedUntilColumn] ?? 0)
          })
        )
      )
    const tokenSecret = options.oauthTokenSecret
    if (tokenSecret !== undefined && Buffer.byteLength(Redacted.value(tokenSecret), "utf8") < minimumSecretBytes) {
      return yield* Effect.fail(
        ConfigError.InvalidData(
          ["oauthTokenSecret"],
          `SqlUserRepository: oauthTokenSecret is too short: it must be at least ${minimumSecretBytes} bytes`
        )
      )
    }
    const cipher = tokenSecret === undefined ? TokenCipher.plain : TokenCipher.make(tokenSecret)
    const sealTokens = <A extends { accessToken?: string | undefined; refreshToken?: string | null | undefined }>(
      account: A
    ): A => ({
      ...account,
      ...(account.accessToken === undefined ? {} : { accessToken: cipher.encrypt(account.accessToken) }),
      ...(typeof account.refreshToken === "string" ? { refreshToken: cipher.encrypt(account.refreshToken) } : {})
    })
    // SQLite keeps the link's time as ISO text (it adds no column with a non-constant default); PostgreSQL as a timestamptz.
    const dateOf = (value: unknown) =>
      typeof value === "string" || typeof value === "number" ? new Date(value) : value
    const readAccounts = (rows: ReadonlyArray<Record<string, unknown>>) =>
      Effect.map(
        decodeAccounts(
          rows.map((row) => {
            const encoded = fromRow(accountColumns, row)
            return { ...encoded, createdAt: dateOf(encoded.createdAt) ?? null }
          })
        ),
        (decoded): ReadonlyArray<OAuthAccount> =>
          decoded.map((account) => ({
            ...account,
            accessToken: cipher.decrypt(account.accessToken),
            refreshToken: account.refreshToken === null ? null : cipher.decrypt(account.refreshToken)
          }))
      )
    const accountRow = (userId: unknown, account: OAuthAccountCreate) => {
      const row = toRow(accountColumns, sealTokens(newOAuthAccount(account)))
      return {
        ...row,
        created_at: sqlite && row.created_at instanceof Date ? row.created_at.toISOString() : row.created_at,
        user_id: userId
      }
    }

    // The reads are the hot path: compile their SQL once (placeholders in the dialect's style), then send it as is.
    const prepare = <A>(statement: Statement.Statement<A>) => {
      const [text] = statement.compile()
      return (...params: ReadonlyArray<unknown>) => sql.unsafe<Record<string, unknown>>(text, params)
    }
    const selectById = prepare(sql`SELECT ${selectUserSessions} FROM ${users} WHERE id = ${null}`)
    const keyColumn = sql(emailKeyColumn)
    // A row some other program wrote after the migrations (FastAPI Users itself) has no key: found by lower(email).
    const selectByEmail = prepare(
      sql`SELECT ${selectUserSessions} FROM ${users} WHERE ${keyColumn} = ${null} OR (${keyColumn} IS NULL AND lower(email) = lower(${null})) LIMIT 1`
    )
    const selectOwner = prepare(
      sql`SELECT user_id FROM ${accounts} WHERE oauth_name = ${null} AND account_id = ${null} LIMIT 1`
    )
    const selectAccounts = prepare(sql`SELECT ${selectAccount} FROM ${accounts} WHERE user_id = ${null}`)
    const accountsOf = (id: unknown) => Effect.flatMap(selectAccounts(id), (rows) => readAccounts(rows))
    const withOAuth = (id: unknown) =>
      Effect.gen(function* () {
        const user = yield* Effect.flatMap(selectById(id), (rows) => readUser(rows))
        if (Option.isNone(user)) return yield* new UserNotExists()
        const oauthAccounts = yield* accountsOf(id)
        return { ...user.value, oauthAccounts } satisfies UserWithOAuth<U>
      })

    // Every write of a user's row computes its derived columns: the e-mail's key, and `password_set` once a password is
    // written (an OAuth sign-up's insert writes it false).
    const withKey = (row: Record<string, unknown>, email: unknown) => {
      const keyed = typeof email === "string" ? { ...row, [emailKeyColumn]: emailKey(email) } : row
      const passwordSet = "hashed_password" in row ? { ...keyed, [passwordSetColumn]: sqlBoolean(true) } : keyed
      // An active user has no deactivation.
      return row.is_active === true || row.is_active === 1
        ? { ...passwordSet, [deactivationReasonColumn]: null, [deactivatedUntilColumn]: null }
        : passwordSet
    }
    const noPassword = { [passwordSetColumn]: sqlite ? 0 : false }

    const insertStatement = (input: UserInsert<U>, extra: Record<string, unknown> = {}) =>
      Effect.map(
        userRow(input),
        (row) =>
          sql`INSERT INTO ${users} ${sql.insert({ ...withKey(row, input.email), ...extra })} RETURNING ${selectUser}`
      )
    const insertedUser = (rows: ReadonlyArray<Record<string, unknown>>) =>
      Effect.map(readUser(rows), (user) => Option.getOrThrow(user))
    const insertUser = (input: UserInsert<U>) =>
      insertStatement(input).pipe(
        Effect.flatMap((statement) => catchEmailConflict(statement)),
        Effect.flatMap((rows) => insertedUser(rows))
      )
    // An OAuth sign-up writes what the provider's profile gave the model's fields: a column of the app's own that
    // refuses them (NOT NULL, CHECK) refuses the sign-up, typed, instead of failing as an outage.
    const insertOAuthUser = (input: UserInsert<U>) =>
      insertStatement(input, noPassword).pipe(
        Effect.flatMap((statement) =>
          Effect.catchAll(statement, (error): Effect.Effect<never, UserAlreadyExists | OAuthProfileRejected> => {
            if (isEmailConflict(error)) return Effect.fail(new UserAlreadyExists())
            const reason = modelConstraint(error)
            return reason === undefined ? SqlUnavailable.die(error) : Effect.fail(new OAuthProfileRejected({ reason }))
          })
        ),
        Effect.flatMap((rows) => insertedUser(rows))
      )

    // Reads by ID (one per authenticated request) from concurrent requests share one query per event-loop
    // turn. A key the batch did not find is asked again on its own: the database may match a key written
    // otherwise than it returns it (an upper-case UUID in PostgreSQL), and a miss must be a real miss.
    const coalescedById = yield* coalesce.make((ids: ReadonlyArray<unknown>) =>
      Effect.map(
        ids.length === 1
          ? selectById(ids[0])
          : sql`SELECT ${selectUserSessions} FROM ${users} WHERE ${sql.in("id", ids)}`,
        (rows) => new Map(rows.map((row) => [String(row.id), row]))
      )
    )
    const rowById = (id: unknown) =>
      Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) =>
        // Inside a transaction the read must use its connection: the batch runs on a fiber of its own.
        Option.isSome(transaction)
          ? selectById(id)
          : Effect.flatMap(coalescedById(id), (row) => (row === undefined ? selectById(id) : Effect.succeed([row])))
      )
    const readById = options.coalesceReads === false ? selectById : rowById

    // PostgreSQL cannot store a NUL character (so no user has one), and fails the query that holds one.
    const rowsByEmail = (email: string) =>
      email.includes("\u0000")
        ? Effect.succeed<ReadonlyArray<Record<string, unknown>>>([])
        : selectByEmail(emailKey(email), email)

    const flagFilters = [
      ["isVerified", "is_verified"],
      ["isSuperuser", "is_superuser"]
    ] as const
    const whereFilters = (filters: UserFilters, now: number) => {
      const conditions: Array<Statement.Fragment> = []
      if (filters.emailPrefix !== undefined) {
        const byKey = likePrefix(emailKey(filters.emailPrefix))
        const byEmail = likePrefix(normalizeEmail(filters.emailPrefix))
        // Rows without a key (written by another program) are matched by lower(email), as in getByEmail.
        conditions.push(
          sql`(${keyColumn} LIKE ${byKey} ESCAPE '!' OR (${keyColumn} IS NULL AND lower(email) LIKE lower(${byEmail}) ESCAPE '!'))`
        )
      }
      for (const [field, column] of flagFilters) {
        const value = filters[field]
        if (value !== undefined) conditions.push(sql`${sql(column)} = ${sqlBoolean(value)}`)
      }
      // Active as the reads see it: a deactivation whose end has passed has lifted.
      if (filters.isActive === true) {
        conditions.push(sql`(${activeColumn} = ${sqlBoolean(true)} OR ${untilColumn} <= ${now})`)
      } else if (filters.isActive === false) {
        conditions.push(
          sql`(${activeColumn} = ${sqlBoolean(false)} AND (${untilColumn} IS NULL OR ${untilColumn} > ${now}))`
        )
      }
      return conditions.length === 0 ? sql`1 = 1` : sql.and(conditions)
    }
    // PostgreSQL cannot store a NUL character (so no e-mail starts with one), and fails the query that holds one.
    const matchesNothing = (filters: UserFilters) => filters.emailPrefix?.includes("\u0000") === true

    // One statement: the change and the epoch move are written together, or neither is.
    const updateEndingSessions = (
      user: { readonly id: unknown },
      patch: object,
      expected: object
    ): Effect.Effect<Option.Option<UserWithSessions<U>>, UserAlreadyExists> =>
      Effect.gen(function* () {
        const id = yield* encodeId(user.id)
        const { id: _, ...fields } = patch as Record<string, unknown>
        const row = withKey(yield* userRow(fields), fields.email)
        const conditions = Object.entries(yield* userRow(expected as Record<string, unknown>)).map(
          ([column, value]) => sql`${sql(column)} = ${value}`
        )
        const where = sql.and([sql`id = ${id}`, ...conditions])
        const moveEpoch = sql`${epochColumn} = ${epochColumn} + 1`
        const set = Object.keys(row).length === 0 ? moveEpoch : sql`${sql.update(row)}, ${moveEpoch}`
        const rows = yield* catchEmailConflict(
          sql`UPDATE ${users} SET ${set} WHERE ${where} RETURNING ${selectUserSessions}`
        )
        return yield* readSessions(rows)
      }).pipe(
        Effect.catchTag("ParseError", (error) => Effect.die(error)),
        Effect.withSpan("SqlUserRepository.updateEndingSessions", spanOptions)
      )

    const service: UserRepositoryService<U> = {
      get: (id) =>
        Effect.flatMap(encodeId(id), (encoded) => readById(encoded)).pipe(
          Effect.flatMap((rows) => readUser(rows)),
          SqlUnavailable.orDie
        ),

      getByEmail: (email) => Effect.flatMap(rowsByEmail(email), (rows) => readUser(rows)).pipe(SqlUnavailable.orDie),

      getWithEpoch: (id) =>
        Effect.flatMap(encodeId(id), (encoded) => readById(encoded)).pipe(
          Effect.flatMap((rows) => readSessions(rows)),
          SqlUnavailable.orDie
        ),

      getByEmailWithEpoch: (email) =>
        Effect.flatMap(rowsByEmail(email), (rows) => readSessions(rows)).pipe(SqlUnavailable.orDie),

      getByOAuthAccount: (oauthName, accountId) =>
        selectOwner(oauthName, accountId).pipe(
          Effect.flatMap((rows) =>
            rows.length === 0
              ? Effect.succeedNone
              : withOAuth(rows[0]!.user_id).pipe(
                  Effect.asSome,
                  Effect.catchTag("UserNotExists", () => Effect.succeedNone)
                )
          ),
          SqlUnavailable.orDie
        ),

      list: (listOptions) =>
        Effect.gen(function* () {
          if (matchesNothing(listOptions)) return []
          const { limit, offset } = pageOf(listOptions)
          const now = yield* Clock.currentTimeMillis
          const rows =
            yield* sql`SELECT ${selectUser} FROM ${users} WHERE ${whereFilters(listOptions, now)} ORDER BY id LIMIT ${limit} OFFSET ${offset}`
          return yield* Effect.forEach(rows, (row) => readRow(row))
        }).pipe(SqlUnavailable.orDie),

      count: (filters) =>
        Effect.gen(function* () {
          if (matchesNothing(filters)) return 0
          const now = yield* Clock.currentTimeMillis
          const rows = yield* sql<{
            readonly total: number | string | bigint
          }>`SELECT COUNT(*) AS total FROM ${users} WHERE ${whereFilters(filters, now)}`
          return Number(rows[0]!.total)
        }).pipe(SqlUnavailable.orDie),

      create: (input) =>
        insertUser(input).pipe(
          Effect.catchTag("ParseError", (error) => Effect.die(error)),
          Effect.withSpan("SqlUserRepository.create", spanOptions)
        ),

      createWithOAuthAccount: (input, account) =>
        Effect.gen(function* () {
          const user = yield* insertOAuthUser(input)
          const rows = yield* catchAccountConflict(
            sql`INSERT INTO ${accounts} ${sql.insert(accountRow(yield* encodeId(user.id), account))} RETURNING ${selectAccount}`
          )
          return { ...user, oauthAccounts: yield* readAccounts(rows) } satisfies UserWithOAuth<U>
        }).pipe(sql.withTransaction, settled("createWithOAuthAccount")),

      update: (user, patch) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const { id: _, ...fields } = patch as Record<string, unknown>
          const row = withKey(yield* userRow(fields), fields.email)
          const rows =
            Object.keys(row).length === 0
              ? yield* selectById(id)
              : yield* catchEmailConflict(
                  sql`UPDATE ${users} SET ${sql.update(row)} WHERE id = ${id} RETURNING ${selectUser}`
                )
          const updated = yield* readUser(rows)
          if (Option.isNone(updated)) return yield* new UserNotExists()
          return updated.value
        }).pipe(settled("update")),

      updateIf: (user, patch, expected) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const { id: _, ...fields } = patch as Record<string, unknown>
          const row = withKey(yield* userRow(fields), fields.email)
          const conditions = Object.entries(yield* userRow(expected)).map(
            ([column, value]) => sql`${sql(column)} = ${value}`
          )
          const where = sql.and([sql`id = ${id}`, ...conditions])
          // One statement: the database checks the expectation and writes under the row's lock.
          const rows =
            Object.keys(row).length === 0
              ? yield* sql`SELECT ${selectUser} FROM ${users} WHERE ${where}`
              : yield* catchEmailConflict(
                  sql`UPDATE ${users} SET ${sql.update(row)} WHERE ${where} RETURNING ${selectUser}`
                )
          return yield* readUser(rows)
        }).pipe(settled("updateIf")),

      updateEndingSessions,

      deactivate: (user, { reason, until }: Deactivation) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const row = {
            is_active: sqlBoolean(false),
            [deactivationReasonColumn]: reason,
            [deactivatedUntilColumn]: until === null ? null : until.getTime()
          }
          const rows =
            yield* sql`UPDATE ${users} SET ${sql.update(row)}, ${epochColumn} = ${epochColumn} + 1 WHERE id = ${id} RETURNING ${selectUserSessions}`
          return yield* readSessions(rows)
        }).pipe(settled("deactivate")),

      deactivationOf: (user) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const rows =
            yield* sql`SELECT ${activeColumn} AS is_active, ${sql(deactivationReasonColumn)} AS reason, ${untilColumn} AS until
            FROM ${users} WHERE id = ${id}`
          if (rows.length === 0) return Option.none<Deactivation>()
          const { is_active, reason, until } = rows[0]!
          const stored = until === null || until === undefined ? null : Number(until)
          const active = is_active === true || is_active === 1
          if (active || hasLapsed(active, stored, yield* Clock.currentTimeMillis)) return Option.none<Deactivation>()
          return Option.some<Deactivation>({
            reason: typeof reason === "string" ? reason : null,
            until: stored === null ? null : new Date(stored)
          })
        }).pipe(settled("deactivationOf")),

      raiseRevokedUntil: (user, until) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const column = sql(revokedUntilColumn)
          yield* sql`UPDATE ${users} SET ${column} = ${until} WHERE id = ${id} AND ${column} < ${until}`
        }).pipe(SqlUnavailable.orDie, Effect.withSpan("SqlUserRepository.raiseRevokedUntil", spanOptions)),

      delete: (user) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          // SQLite enforces ON DELETE CASCADE only with `PRAGMA foreign_keys = ON`: delete the accounts ourselves
          yield* sql`DELETE FROM ${accounts} WHERE user_id = ${id}`
          yield* sql`DELETE FROM ${users} WHERE id = ${id}`
        }).pipe(sql.withTransaction, SqlUnavailable.orDie, Effect.withSpan("SqlUserRepository.delete", spanOptions)),

      addOAuthAccount: (user, account) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const exists = yield* sql`SELECT 1 AS found FROM ${users} WHERE id = ${id}`
          if (exists.length === 0) return yield* new UserNotExists()
          yield* catchAccountConflict(sql`INSERT INTO ${accounts} ${sql.insert(accountRow(id, account))}`)
          return yield* withOAuth(id)
        }).pipe(sql.withTransaction, settled("addOAuthAccount")),

      updateOAuthAccount: (user, account, patch: OAuthAccountUpdate) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const row = toRow(accountColumns, sealTokens(patch))
          if (Object.keys(row).length > 0) {
            yield* sql`UPDATE ${accounts} SET ${sql.update(row)} WHERE id = ${account.id} AND user_id = ${id}`
          }
          return yield* withOAuth(id)
        }).pipe(sql.withTransaction, settled("updateOAuthAccount")),

      oauthAccountsOf: (user) =>
        Effect.flatMap(encodeId(user.id), (id) => accountsOf(id)).pipe(
          Effect.map((found) => sortByLink(found)),
          SqlUnavailable.orDie
        ),

      hasOwnPassword: (user) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const rows = yield* sql<{
            password_set: unknown
          }>`SELECT ${sql(passwordSetColumn)} AS password_set FROM ${users} WHERE id = ${id}`
          return rows[0]?.password_set === true || rows[0]?.password_set === 1
        }).pipe(SqlUnavailable.orDie, Effect.withSpan("SqlUserRepository.hasOwnPassword", spanOptions)),

      // The user's row is locked first (PostgreSQL; SQLite runs one write transaction at a time): of two concurrent
      // unlinks of a user's last two accounts, the second sees the first's delete.
      removeOAuthAccount: (user, oauthName, accountId) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const owner = yield* sqlite
            ? sql`SELECT ${sql(passwordSetColumn)} AS password_set FROM ${users} WHERE id = ${id}`
            : sql`SELECT ${sql(passwordSetColumn)} AS password_set FROM ${users} WHERE id = ${id} FOR UPDATE`
          if (owner.length === 0) return yield* new UserNotExists()
          const linked = yield* accountsOf(id)
          const target = linked.find((a) => a.oauthName === oauthName && a.accountId === accountId)
          if (target === undefined) return yield* new OAuthAccountNotFound()
          const passwordSet = owner[0]!.password_set === true || owner[0]!.password_set === 1
          if (!passwordSet && linked.length <= 1) return yield* new OAuthLastLoginMethod()
          yield* sql`DELETE FROM ${accounts} WHERE id = ${target.id} AND user_id = ${id}`
          return target
        }).pipe(sql.withTransaction, settled("removeOAuthAccount")),

      removeOAuthAccounts: (user) =>
        Effect.gen(function* () {
          const id = yield* encodeId(user.id)
          const linked = yield* accountsOf(id)
          yield* sql`DELETE FROM ${accounts} WHERE user_id = ${id}`
          return linked
        }).pipe(
          sql.withTransaction,
          SqlUnavailable.orDie,
          Effect.withSpan("SqlUserRepository.removeOAuthAccounts", spanOptions)
        )
    }
    return service
  })

/**
 * `UserRepository` over the `SqlClient` in context: FastAPI Users' tables and the default model unless the options
 * name others. Type it for the model with `UserRepository.forModel(model)`.
 *
 * @since 0.1.0
 */
export const layer = <M extends UserModel.Any = typeof UserModel.Default>(
  options: Options<M> = {}
): Layer.Layer<UserRepository, MissingColumns | ConfigError.ConfigError, SqlClient.SqlClient> =>
  Layer.effect(
    UserRepository as unknown as Context.Tag<UserRepository, UserRepositoryService<UserModel.UserOf<M>>>,
    make(options)
  )

/**
 * `layer` with its options read through `Config` (the model, when not the default, as `Config.succeed(model)`).
 *
 * @since 0.2.0
 */
export const layerConfig = <M extends UserModel.Any = typeof UserModel.Default>(
  config: Config.Config.Wrap<Options<M>>
): Layer.Layer<UserRepository, ConfigError.ConfigError | MissingColumns, SqlClient.SqlClient> =>
  Layer.unwrapEffect(Effect.map(unwrap(config), (options) => layer(options)))

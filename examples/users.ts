/**
 * The example app's admin commands, on the storage `npm start` uses (`storage.ts`):
 *
 *   npm run users -- create-superuser <email>
 *
 * creates an active, verified superuser. The password is read from stdin, never from the command line
 * (where `ps` and the shell history would show it): typed at a prompt that does not echo it, or piped in
 * (`printf '%s\n' "$PASSWORD" | npm run users -- create-superuser admin@example.com`).
 */
import { Effect, Layer, Redacted, Schema } from "effect"
import { User, UserManager, UserManagerConfig } from "effect-users"
import { Migrations, SqlUserRepository } from "effect-users/sql"
import { PasswordPolicy } from "./passwordPolicy.js"
import { configProvider, Database } from "./storage.js"

const usage = "usage: npm run users -- create-superuser <email>   (the password is read from stdin)"

/** The first line of stdin: piped, or typed at a prompt on a terminal without echo. */
const readPassword = (): Promise<string> =>
  new Promise((resolve, reject) => {
    const input = process.stdin
    let text = ""
    if (!input.isTTY) {
      input.setEncoding("utf8")
      input.on("data", (chunk: string) => {
        text += chunk
      })
      input.on("end", () => resolve(text.split(/\r?\n/)[0] ?? ""))
      input.on("error", reject)
      return
    }
    process.stderr.write("Password: ")
    input.setRawMode(true)
    input.setEncoding("utf8")
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\u0003") process.exit(130)
        if (char === "\r" || char === "\n" || char === "\u0004") {
          input.setRawMode(false)
          input.pause()
          input.off("data", onData)
          process.stderr.write("\n")
          return resolve(text)
        }
        text = char === "\u007f" || char === "\b" ? text.slice(0, -1) : text + char
      }
    }
    input.on("data", onData)
  })

const Users = UserManager.layer.pipe(
  Layer.provide([SqlUserRepository.layer(), UserManagerConfig.layerConfig(), PasswordPolicy]),
  Layer.provide(Migrations.layer()),
  Layer.provide(Database),
  Layer.provide(Layer.setConfigProvider(configProvider))
)

const createSuperuser = (address: string) =>
  Effect.gen(function* () {
    const email = yield* Schema.decodeUnknown(User.Email)(address)
    const password = Redacted.make(yield* Effect.promise(readPassword))
    const users = yield* UserManager.UserManager
    const user = yield* users.create({ email, password, isSuperuser: true, isVerified: true })
    yield* Effect.log(`Superuser ${user.email} created (id ${user.id}).`)
  }).pipe(
    Effect.catchTags({
      ParseError: () => Effect.fail(`Not an e-mail address: ${JSON.stringify(address)}`),
      InvalidPassword: (error) => Effect.fail(`Password refused: ${error.reason}`),
      UserAlreadyExists: () => Effect.fail(`A user with the e-mail ${address} already exists.`)
    }),
    Effect.provide(Users)
  )

const [command, ...args] = process.argv.slice(2)
if (command !== "create-superuser" || args.length !== 1) {
  console.error(usage)
  process.exit(2)
}

Effect.runPromise(Effect.either(createSuperuser(args[0]!))).then(
  (result) => {
    if (result._tag === "Left") {
      console.error(result.left)
      process.exitCode = 1
    }
  },
  (defect) => {
    console.error(defect)
    process.exitCode = 1
  }
)

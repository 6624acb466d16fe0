import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { PasswordValidator } from "effect-users"
import { Strict, Validator } from "../../examples/password-rules.js"

const root = new URL("../../", import.meta.url)
/** The first ts block after a heading of a page (README.md, or a guide in docs/). */
const blockAfter = (heading: string, page = "README.md") =>
  new RegExp(`\\n${heading.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n[\\s\\S]*?\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(
    `\n${readFileSync(new URL(page, root), "utf8")}`
  )?.[1]

const example = (name: string) => readFileSync(new URL(`examples/${name}`, root), "utf8")
const runTsx = (name: string) => execFileSync("npx", ["tsx", `examples/${name}`], { cwd: root, encoding: "utf8" })

describe("README quickstart", () => {
  it("is examples/quickstart.ts, word for word", () => {
    assert.strictEqual(blockAfter("## Quickstart"), example("quickstart.ts"))
  })

  it("runs as written with tsx", () => {
    const output = runTsx("quickstart.ts")
    assert.include(output, "has registered.")
    assert.include(output, "logged in")
    assert.notInclude(output, "not logged in")
  })
})

describe("docs/configuration.md password rules", () => {
  const reasons = (layer: typeof Validator, password: string, email = "percival@camelot.bt") =>
    Effect.runSync(
      Effect.flatMap(PasswordValidator.PasswordValidator, (validator) =>
        validator.validate(Redacted.make(password), { email })
      ).pipe(
        Effect.either,
        Effect.map(Either.match({ onLeft: (error) => error.reason, onRight: () => "accepted" })),
        Effect.provide(layer)
      )
    )

  it("is examples/password-rules.ts, word for word", () => {
    assert.strictEqual(blockAfter("## Swapping a part", "docs/configuration.md"), example("password-rules.ts"))
  })

  it("keeps the default rules beside its own", () => {
    assert.strictEqual(reasons(Validator, "holy grail quest"), "accepted")
    assert.strictEqual(reasons(Validator, "the RoundTable 7"), "Password should not contain the site's name")
    assert.strictEqual(reasons(Validator, "grail-7"), "Password should be at least 8 characters")
    assert.strictEqual(reasons(Validator, `${"7".repeat(129)}`), "Password should be at most 128 characters")
    assert.strictEqual(reasons(Validator, "1 Percival@Camelot.bt"), "Password should not contain e-mail")
    assert.strictEqual(reasons(Validator, "percival rides"), "Password should not contain parts of your e-mail address")
    assert.strictEqual(reasons(Validator, "iloveyou2"), "Password is too common")
  })

  it("a stricter minimum keeps the other defaults", () => {
    assert.strictEqual(reasons(Strict, "holy grail quest"), "accepted")
    assert.strictEqual(reasons(Strict, "holy grail"), "Password should be at least 12 characters")
    assert.strictEqual(reasons(Strict, `${"7".repeat(129)}`), "Password should be at most 128 characters")
    assert.strictEqual(reasons(Strict, "1 percival@camelot.bt"), "Password should not contain e-mail")
    assert.strictEqual(reasons(Strict, "a camelot knight"), "Password should not contain parts of your e-mail address")
    assert.strictEqual(reasons(Strict, "qwertyuiop123"), "Password is too common")
    assert.strictEqual(reasons(Strict, "roundtable knights"), "Password should not contain the site's name")
  })
})

describe("docs/user-model.md custom model", () => {
  it("is examples/custom-model.ts, word for word", () => {
    assert.strictEqual(blockAfter("## Your own user model", "docs/user-model.md"), example("custom-model.ts"))
  })

  it("runs as written with tsx: the model's field stored, an integer ID from the database", () => {
    assert.include(runTsx("custom-model.ts"), "Percival has ID 1 (number)")
  })
})

describe("docs/hooks.md hooks that use the manager", () => {
  it("is examples/hooks.ts, word for word", () => {
    assert.strictEqual(blockAfter("# Hooks", "docs/hooks.md"), example("hooks.ts"))
  })

  it("runs as written with tsx: registering sends the verification token", () => {
    assert.match(runTsx("hooks.ts"), /To king\.arthur@camelot\.bt: verify with [\w-]+\.[\w-]+\.[\w-]+/)
  })
})

describe("docs/user-model.md, the model's user type", () => {
  it("names it as the guide says (`type AppUser = UserModel.UserOf<typeof AppUser>`), used by the example", () => {
    assert.include(example("custom-model.ts"), "type AppUser = UserModel.UserOf<typeof AppUser>")
    const guide = readFileSync(new URL("docs/user-model.md", root), "utf8")
    assert.include(guide, "`UserManager.layerHooks<AppUser>(...)`")
    assert.include(guide, "type AppUser = UserModel.UserOf<typeof AppUser>")
    assert.notInclude(guide, "layerWithManager")
  })
})

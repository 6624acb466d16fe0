import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Schema } from "effect"
import {
  IdParser,
  PasswordHasher,
  PasswordValidator,
  UserError,
  UserManager,
  UserModel,
  UserRepository
} from "effect-users"
import * as CommonPasswords from "../src/internal/commonPasswords.js"
import { freshEmail, makeFakeHasher, password, testConfig } from "./utils/TestUsers.js"

const owner = { email: "gawain@camelot.bt" }
const check = (rule: ReturnType<typeof PasswordValidator.maxLength>, text: string) =>
  Effect.map(Effect.exit(rule(Redacted.make(text), owner)), Exit.isSuccess)

/** Milliseconds `effect` takes on the wall clock. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.map(effect, (value) => ({ value, ms: performance.now() - started }))
  })

describe("PasswordValidator length rules", () => {
  it.effect("count code points, not UTF-16 units, at every length around the bounds", () =>
    Effect.gen(function* () {
      const max = PasswordValidator.maxLength(4)
      const min = PasswordValidator.minLength(4)
      // Each emoji is two UTF-16 units and one character.
      for (const [text, fitsMax, fitsMin] of [
        ["abcd", true, true],
        ["abcde", false, true],
        ["😀😀😀😀", true, true],
        ["😀😀😀😀😀", false, true],
        ["😀😀😀a", true, true],
        ["😀😀😀", true, false],
        ["😀😀", true, false],
        ["abc", true, false],
        ["😀😀😀😀a", false, true],
        ["", true, false]
      ] as const) {
        assert.strictEqual(yield* check(max, text), fitsMax, `maxLength(4) ${text}`)
        assert.strictEqual(yield* check(min, text), fitsMin, `minLength(4) ${text}`)
      }
      assert.isTrue(yield* check(PasswordValidator.minLength(0), ""))
    })
  )

  it.effect("a 10 MB password is refused by the default policy in well under 50 ms, without being read", () =>
    Effect.gen(function* () {
      const huge = "a".repeat(10 * 1024 * 1024)
      const hugeEmoji = "😀".repeat(5 * 1024 * 1024)
      for (const text of [huge, hugeEmoji]) {
        const { ms, value } = yield* timed(Effect.flip(PasswordValidator.defaultRule(Redacted.make(text), owner)))
        assert.strictEqual(value.reason, "Password should be at most 128 characters")
        assert.isBelow(ms, 50)
      }
    })
  )
})

const reasonOf = (rule: PasswordValidator.PasswordRule, text: string, user: PasswordValidator.PasswordOwner = owner) =>
  Effect.runSync(
    rule(Redacted.make(text), user).pipe(
      Effect.as(undefined),
      Effect.catchAll((error) => Effect.succeed(error.reason))
    )
  )

describe("the blocklist: notCommon, in the default and nist policies", () => {
  const file = readFileSync(new URL("../data/common-passwords.txt", import.meta.url), "utf8")
  const entries = file.split("\n").slice(0, -1)

  it("refuses common passwords in any case, width or compatibility form; accepts a random passphrase", () => {
    for (const text of [
      "password",
      "12345678",
      "qwertyuiop123",
      "PassWord",
      "QWERTYUIOP123",
      "ｐａｓｓｗｏｒｄ",
      "Ｑwerty123"
    ]) {
      assert.strictEqual(reasonOf(PasswordValidator.defaultRule, text), "Password is too common", text)
      assert.strictEqual(reasonOf(PasswordValidator.notCommon, text), "Password is too common", text)
    }
    assert.strictEqual(reasonOf(PasswordValidator.nist, "1234567890qwertyuiop"), "Password is too common")
    const words = ["violet", "kettle", "harbour", "drums", "copper", "meadow", "fiddle", "orchard", "lantern"]
    for (let i = 0; i < 20; i++) {
      const passphrase = Array.from(randomBytes(4), (byte) => words[byte % words.length]).join(" ")
      assert.isUndefined(reasonOf(PasswordValidator.defaultRule, passphrase), passphrase)
      assert.isUndefined(reasonOf(PasswordValidator.defaultRule, randomBytes(12).toString("base64url")))
    }
  })

  it("the list: at least 100,000 entries of 8 characters or more, folded (NFKC, lower case), unique, in UTF-8 byte order", () => {
    assert.isAtLeast(entries.length, 100_000)
    const wrong = entries.filter(
      (entry, i) =>
        [...entry].length < 8 ||
        entry !== entry.normalize("NFKC").toLowerCase() ||
        (i > 0 && Buffer.compare(Buffer.from(entries[i - 1]!), Buffer.from(entry)) !== -1)
    )
    assert.deepStrictEqual(wrong, [])
  })

  it("finds every entry of the list, and nothing between them", () => {
    const listed = new Set(entries)
    assert.deepStrictEqual(
      entries.filter((entry) => !CommonPasswords.isCommon(entry)),
      []
    )
    // Just after each entry in byte order, and a prefix of it: neither is on the list unless the list says so.
    const wrong = entries
      .flatMap((entry) => [`${entry}\u0001`, entry.slice(0, -1)])
      .filter((text) => CommonPasswords.isCommon(text) !== listed.has(text))
    assert.deepStrictEqual(wrong, [])
    for (const text of ["", "\u0000", "\u{10FFFF}".repeat(8), "a".repeat(2000)]) {
      assert.isFalse(CommonPasswords.isCommon(text))
    }
  })
})

describe("e-mail words: notContainingEmailWords, in the default and nist policies", () => {
  it("the local part and its words, the domain's labels but the last and their words, each of 4 characters or more", () => {
    assert.deepStrictEqual(PasswordValidator.emailWords("Arthur.Pendragon+round-table@mail.Camelot.co.uk"), [
      "arthur.pendragon",
      "arthur",
      "pendragon",
      "mail",
      "camelot"
    ])
    assert.deepStrictEqual(PasswordValidator.emailWords("ＭＥＲＬＩＮ@avalon-isle.bt"), [
      "merlin",
      "avalon-isle",
      "avalon",
      "isle"
    ])
    // Short names refuse nothing: "a@x.io" would otherwise ban every password with an "a".
    assert.deepStrictEqual(PasswordValidator.emailWords("a@x.io"), [])
    assert.deepStrictEqual(PasswordValidator.emailWords("kay@ibm.com"), [])
    // The top-level domain names no one: ".online" would refuse every password with "online".
    assert.deepStrictEqual(PasswordValidator.emailWords("kay@avalon.online"), ["avalon"])
    assert.deepStrictEqual(PasswordValidator.emailWords("not an e-mail"), [])
  })

  it("refuses a password containing one of them in any case or width; the whole e-mail keeps its own reason", () => {
    const arthur = { email: "arthur.pendragon@camelot.co.uk" }
    const parts = "Password should not contain parts of your e-mail address"
    for (const text of [
      "King ARTHUR of the Britons",
      "pendragon-2024-x",
      "my Ｃａｍｅｌｏｔ days",
      "arthur.pendragon!"
    ]) {
      assert.strictEqual(reasonOf(PasswordValidator.defaultRule, text, arthur), parts, text)
      assert.strictEqual(reasonOf(PasswordValidator.nist, `${text} and more`, arthur), parts, text)
    }
    assert.strictEqual(
      reasonOf(PasswordValidator.defaultRule, "x arthur.pendragon@camelot.co.uk", arthur),
      "Password should not contain e-mail"
    )
    assert.isUndefined(reasonOf(PasswordValidator.defaultRule, "a knight of the table", arthur))
    // A one-letter local part and a short domain refuse nothing more than the whole e-mail.
    assert.isUndefined(reasonOf(PasswordValidator.defaultRule, "a xylophone at the io", { email: "a@x.io" }))
    // No e-mail (a rule called before one is known) refuses nothing: "" is in every password.
    assert.isUndefined(reasonOf(PasswordValidator.defaultRule, "a knight of the table", { email: "" }))
  })
})

describe("the nist preset", () => {
  const nist = (text: string, user: PasswordValidator.PasswordOwner = owner) =>
    reasonOf(PasswordValidator.nist, text, user)

  it("15 characters for an account whose only factor is the password, 8 once it has a second factor", () => {
    const single = [owner, { ...owner, secondFactor: false }]
    for (const user of single) {
      assert.strictEqual(nist("violet kettle h", user), undefined)
      assert.strictEqual(nist("violet kettle", user), "Password should be at least 15 characters")
      assert.strictEqual(nist("😀".repeat(14), user), "Password should be at least 15 characters")
      assert.strictEqual(nist("😀".repeat(15), user), undefined)
    }
    const twoFactors = { ...owner, secondFactor: true }
    assert.strictEqual(nist("violet k", twoFactors), undefined)
    assert.strictEqual(nist("violet ", twoFactors), "Password should be at least 8 characters")
    assert.strictEqual(nist("password", twoFactors), "Password is too common")
    // The default keeps 8 for everyone.
    assert.strictEqual(reasonOf(PasswordValidator.defaultRule, "violet k"), undefined)
    assert.strictEqual(reasonOf(PasswordValidator.minLength(12), "violet kettle", twoFactors), undefined)
  })

  it("allows 128 characters (NIST asks at least 64) and no more; no composition rule", () => {
    assert.strictEqual(nist("v".repeat(128)), undefined)
    assert.strictEqual(nist("v".repeat(129)), "Password should be at most 128 characters")
    // Lower case only, no digit, no symbol: accepted.
    assert.strictEqual(nist("violetkettleharbourdrums"), undefined)
  })
})

const Squire = UserModel.make({ id: Schema.Int, fields: { firstName: Schema.String } })
type Squire = UserModel.UserOf<typeof Squire>

describe("PasswordValidator rules for an app's model", () => {
  const seen: Array<PasswordValidator.PasswordOwner<Squire>> = []
  // A rule written for the app's model: it sees `firstName`, and mixes with the built-in rules.
  const notContainingFirstName: PasswordValidator.PasswordRule<PasswordValidator.PasswordOwner<Squire>> = (
    pw,
    user
  ) => {
    seen.push(user)
    return Redacted.value(pw).toLowerCase().includes(user.firstName.toLowerCase())
      ? Effect.fail(new UserError.InvalidPassword({ reason: "Password should not contain your first name" }))
      : Effect.void
  }
  const Squires = UserManager.forModel(Squire)
  const Users = UserManager.layer.pipe(
    Layer.provide([
      UserRepository.layerMemory,
      testConfig(),
      IdParser.layerInteger,
      PasswordHasher.layer(makeFakeHasher().service),
      PasswordValidator.layer(PasswordValidator.defaultRule, notContainingFirstName)
    ])
  )
  const reason = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
    effect.pipe(
      Effect.flip,
      Effect.map((e) => (e instanceof UserError.InvalidPassword ? e.reason : e._tag))
    )

  it.effect("a create passes the input without the password; the default rules still apply", () =>
    Effect.gen(function* () {
      const users = yield* Squires
      seen.length = 0
      const email = freshEmail("squire")
      const create = (pw: string) => users.create({ email, password: password(pw), firstName: "Tristan" })
      assert.strictEqual(yield* reason(create("sir tristan!")), "Password should not contain your first name")
      assert.strictEqual(yield* reason(create(`my ${email}`)), "Password should not contain e-mail")
      assert.strictEqual(yield* reason(create("short")), "Password should be at least 8 characters")
      assert.deepStrictEqual(seen[0], { email, firstName: "Tristan" })
      const user = yield* create("isolde forever")
      assert.strictEqual(user.firstName, "Tristan")
    }).pipe(Effect.provide(Users))
  )

  it.effect("an update passes the user with the patch applied (the new e-mail), without its ID or hash", () =>
    Effect.gen(function* () {
      const users = yield* Squires
      const user = yield* users.create({
        email: freshEmail("gareth"),
        password: password("correct horse"),
        firstName: "Gareth"
      })
      seen.length = 0
      const email = freshEmail("kitchen.knave")
      // The new first name is what the rule checks against, and the new e-mail.
      const patched = (pw: string) => users.update(user, { firstName: "Beaumains", email, password: password(pw) })
      assert.strictEqual(yield* reason(patched("beaumains rides")), "Password should not contain your first name")
      assert.strictEqual(yield* reason(patched(`x ${email}`)), "Password should not contain e-mail")
      assert.deepStrictEqual(seen[0], {
        email,
        firstName: "Beaumains",
        isActive: true,
        isSuperuser: false,
        isVerified: false,
        secondFactor: false
      })
      const updated = yield* patched("gareth rides")
      assert.strictEqual(updated.firstName, "Beaumains")
      // A safe update ignores the flags, and so does what the rule sees.
      seen.length = 0
      yield* users.update(updated, { isSuperuser: true, password: password("another secret") }, { safe: true })
      assert.strictEqual(seen[0]!.isSuperuser, false)
    }).pipe(Effect.provide(Users))
  )
})

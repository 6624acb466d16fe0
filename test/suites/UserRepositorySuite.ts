import { assert, describe, layer } from "@effect/vitest"
import { assertSome } from "@effect/vitest/utils"
import { Cause, Effect, Exit, type Layer, Option, Schema } from "effect"
import { type User, UserModel, UserRepository } from "effect-users"
import { freshEmail } from "../utils/TestUsers.js"

/** An app's own model: integer IDs assigned by the store and three extra fields. */
export const CustomModel = UserModel.make({
  id: Schema.Int,
  fields: { firstName: Schema.String, birthYear: Schema.NullOr(Schema.Int), newsletter: Schema.Boolean }
})
export type CustomUser = UserModel.UserOf<typeof CustomModel>

const DefaultRepository = UserRepository.UserRepository
const CustomRepository = UserRepository.forModel(CustomModel)

/** A default-model user to store, with its own e-mail. */
export const newUser = (email = freshEmail()) => ({
  id: crypto.randomUUID(),
  email,
  hashedPassword: "fake$hash",
  isActive: true,
  isSuperuser: false,
  isVerified: false
})

const newCustomUser = (email = freshEmail()) => ({
  email,
  hashedPassword: "fake$hash",
  isActive: true,
  isSuperuser: false,
  isVerified: true,
  firstName: "Lancelot",
  birthYear: null,
  newsletter: false
})

const account = (overrides: Partial<Parameters<UserRepository.UserRepository["Type"]["addOAuthAccount"]>[1]> = {}) => ({
  oauthName: "google",
  accessToken: "access-1",
  accountId: `acct-${crypto.randomUUID()}`,
  accountEmail: freshEmail("oauth"),
  ...overrides
})

const byName = (accounts: ReadonlyArray<User.OAuthAccount>) =>
  [...accounts].sort((a, b) => a.oauthName.localeCompare(b.oauthName))

/** A prefix no other test's e-mails start with. */
const uniqueTag = () => `list${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`

/** Mixes the case of an e-mail differently for each `i`. */
const recase = (email: string, i: number) =>
  [...email].map((c, j) => ((i >> (j % 8)) & 1 ? c.toUpperCase() : c.toLowerCase())).join("")

/** Runs the effects concurrently and checks that exactly one succeeds and every other fails with `tag`. */
const exactlyOneWinner = <A, E extends { readonly _tag: string }>(
  effects: ReadonlyArray<Effect.Effect<A, E>>,
  tag: string
) =>
  Effect.gen(function* () {
    const exits = yield* Effect.all(
      effects.map((effect) => Effect.exit(effect)),
      { concurrency: "unbounded" }
    )
    const winners = exits.filter(Exit.isSuccess)
    assert.strictEqual(winners.length, 1)
    for (const exit of exits.filter(Exit.isFailure)) {
      const failure = Cause.failureOption(exit.cause)
      assert.isTrue(Option.isSome(failure), `a loser ended with a defect: ${Cause.pretty(exit.cause)}`)
      assert.strictEqual(Option.getOrThrow(failure)._tag, tag)
    }
    return winners[0]!.value
  })

/**
 * The `UserRepository` contract, run over any implementation: `layers.default` stores the default model,
 * `layers.custom` stores `CustomModel`. Tests share each store, so each uses its own e-mail addresses.
 */
export const userRepositorySuite = (
  name: string,
  layers: {
    readonly default: Layer.Layer<UserRepository.UserRepository, unknown>
    readonly custom: Layer.Layer<UserRepository.UserRepository, unknown>
  }
) => {
  layer(layers.default, { excludeTestServices: true })(`${name}: default model`, (it) => {
    describe("users", () => {
      it.effect("create stores the user as given and get finds it by ID", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const input = newUser(freshEmail("Gawain"))
          const created = yield* repository.create(input)
          assert.deepStrictEqual(created, input)
          assertSome(yield* repository.get(input.id), input)
          assert.isTrue(Option.isNone(yield* repository.get(crypto.randomUUID())))
        })
      )

      it.effect("getByEmail ignores case and returns the e-mail as stored", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const email = freshEmail("Sir.Galahad")
          const user = yield* repository.create(newUser(email))
          for (const variant of [email, email.toLowerCase(), email.toUpperCase()]) {
            const found = yield* repository.getByEmail(variant)
            assert.strictEqual(Option.getOrThrow(found).id, user.id)
            assert.strictEqual(Option.getOrThrow(found).email, email)
          }
          assert.isTrue(Option.isNone(yield* repository.getByEmail(freshEmail("nobody"))))
        })
      )

      it.effect("create fails with UserAlreadyExists when the e-mail is taken in any case", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const email = freshEmail("percival")
          yield* repository.create(newUser(email))
          const error = yield* Effect.flip(repository.create(newUser(email.toUpperCase())))
          assert.strictEqual(error._tag, "UserAlreadyExists")
          const same = yield* Effect.flip(repository.create(newUser(email)))
          assert.strictEqual(same._tag, "UserAlreadyExists")
        })
      )

      it.effect(
        "50 concurrent creates with one e-mail in varying case: one winner, UserAlreadyExists for the rest",
        () =>
          Effect.gen(function* () {
            const repository = yield* DefaultRepository
            const email = freshEmail("race")
            const attempts = Array.from({ length: 50 }, (_, i) => repository.create(newUser(recase(email, i))))
            const winner = yield* exactlyOneWinner(attempts, "UserAlreadyExists")
            const stored = yield* repository.getByEmail(email)
            assert.strictEqual(Option.getOrThrow(stored).id, winner.id)
          })
      )

      it.effect("a duplicate ID is a defect, not UserAlreadyExists, and leaves the stored user as it was", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          const exit = yield* Effect.exit(repository.create({ ...newUser(), id: user.id }))
          assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause) && !Cause.isFailure(exit.cause))
          assertSome(yield* repository.get(user.id), user)
        })
      )

      it.effect("update applies only the fields in the patch", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          const updated = yield* repository.update(user, { isVerified: true, hashedPassword: "fake$other" })
          assert.deepStrictEqual(updated, { ...user, isVerified: true, hashedPassword: "fake$other" })
          assertSome(yield* repository.get(user.id), updated)
          assert.deepStrictEqual(yield* repository.update(updated, {}), updated)
        })
      )

      it.effect("update changes the e-mail, also to another case of its own", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser(freshEmail("bors")))
          const upper = yield* repository.update(user, { email: user.email.toUpperCase() })
          assert.strictEqual(upper.email, user.email.toUpperCase())
          const moved = freshEmail("bors.new")
          yield* repository.update(upper, { email: moved })
          assert.isTrue(Option.isNone(yield* repository.getByEmail(user.email)))
          assert.strictEqual(Option.getOrThrow(yield* repository.getByEmail(moved)).id, user.id)
        })
      )

      it.effect("update fails with UserAlreadyExists when another user has the e-mail in any case", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const first = yield* repository.create(newUser())
          const second = yield* repository.create(newUser())
          const error = yield* Effect.flip(repository.update(second, { email: first.email.toUpperCase() }))
          assert.strictEqual(error._tag, "UserAlreadyExists")
          assertSome(yield* repository.get(second.id), second)
        })
      )

      it.effect("concurrent updates to one e-mail: one winner, UserAlreadyExists for the rest", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const target = freshEmail("target")
          const users = yield* Effect.all(Array.from({ length: 20 }, () => repository.create(newUser())))
          const winner = yield* exactlyOneWinner(
            users.map((user, i) => repository.update(user, { email: recase(target, i) })),
            "UserAlreadyExists"
          )
          assert.strictEqual(Option.getOrThrow(yield* repository.getByEmail(target)).id, winner.id)
        })
      )

      it.effect("update fails with UserNotExists for a missing user", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const ghost = newUser()
          assert.strictEqual((yield* Effect.flip(repository.update(ghost, { isActive: false })))._tag, "UserNotExists")
          assert.strictEqual((yield* Effect.flip(repository.update(ghost, {})))._tag, "UserNotExists")
        })
      )

      it.effect("delete removes the user and frees its e-mail; deleting a missing user does nothing", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          yield* repository.delete(user)
          assert.isTrue(Option.isNone(yield* repository.get(user.id)))
          assert.isTrue(Option.isNone(yield* repository.getByEmail(user.email)))
          yield* repository.delete(user)
          yield* repository.create(newUser(user.email))
        })
      )
    })

    describe("list and count", () => {
      it.effect("pages in ascending ID order: 50 by default, at most 100, no user twice or missed", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const tag = uniqueTag()
          const created = yield* Effect.forEach(
            Array.from({ length: 105 }, (_, i) => i),
            (i) => repository.create(newUser(`${tag}.${i}@camelot.bt`))
          )
          const ids = created.map((user) => user.id).sort()
          const page = (options: { limit?: number; offset?: number }) =>
            Effect.map(repository.list({ emailPrefix: tag, ...options }), (users) => users.map((user) => user.id))
          assert.deepStrictEqual(yield* page({}), ids.slice(0, 50))
          assert.deepStrictEqual(yield* page({ limit: 1000 }), ids.slice(0, 100))
          assert.deepStrictEqual(yield* page({ limit: 0 }), ids.slice(0, 1))
          assert.deepStrictEqual(yield* page({ limit: 100, offset: 100 }), ids.slice(100))
          assert.deepStrictEqual(yield* page({ limit: 10, offset: -5 }), ids.slice(0, 10))
          const pages: Array<string> = []
          for (let offset = 0; offset < 105; offset += 30) pages.push(...(yield* page({ limit: 30, offset })))
          assert.deepStrictEqual(pages, ids)
          assert.strictEqual(yield* repository.count({ emailPrefix: tag }), 105)
          const users = yield* repository.list({ emailPrefix: tag, limit: 1 })
          assert.deepStrictEqual(
            users[0],
            created.find((user) => user.id === ids[0])
          )
        })
      )

      it.effect("the e-mail prefix compares by emailKey; % and _ in it are plain characters", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const tag = uniqueTag()
          const percent = yield* repository.create(newUser(`${tag}%x@camelot.bt`))
          const underscore = yield* repository.create(newUser(`${tag}_y@camelot.bt`))
          const bang = yield* repository.create(newUser(`${tag}!z@camelot.bt`))
          const plain = yield* repository.create(newUser(`${tag}ÉMILE@camelot.bt`))
          const emails = (emailPrefix: string) =>
            Effect.map(repository.list({ emailPrefix }), (users) => users.map((user) => user.email).sort())
          assert.deepStrictEqual(yield* emails(`${tag}%`), [percent.email])
          assert.deepStrictEqual(yield* emails(`${tag}_`), [underscore.email])
          assert.deepStrictEqual(yield* emails(`${tag}!`), [bang.email])
          assert.deepStrictEqual(yield* emails(`${tag.toUpperCase()}émile`), [plain.email])
          assert.deepStrictEqual(
            yield* emails(tag.toUpperCase()),
            [percent, underscore, bang, plain].map((user) => user.email).sort()
          )
          assert.deepStrictEqual(yield* emails(`${tag}%%`), [])
          assert.deepStrictEqual(yield* emails(`${tag}\u0000`), [])
          assert.strictEqual(yield* repository.count({ emailPrefix: `${tag}_` }), 1)
          assert.strictEqual(yield* repository.count({ emailPrefix: `${tag}\u0000` }), 0)
        })
      )

      it.effect("is_active, is_verified and is_superuser filter, alone and together, in list and count", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const tag = uniqueTag()
          const flags = [
            { isActive: true, isVerified: true, isSuperuser: true },
            { isActive: true, isVerified: false, isSuperuser: false },
            { isActive: false, isVerified: true, isSuperuser: false },
            { isActive: false, isVerified: false, isSuperuser: true }
          ]
          const created = yield* Effect.forEach(flags, (flag, i) =>
            repository.create({ ...newUser(`${tag}.${i}@camelot.bt`), ...flag })
          )
          const check = (filters: UserRepository.UserFilters, expected: ReadonlyArray<number>) =>
            Effect.gen(function* () {
              const found = yield* repository.list({ ...filters, emailPrefix: tag })
              const ids = expected.map((i) => created[i]!.id).sort()
              assert.deepStrictEqual(
                found.map((user) => user.id),
                ids,
                JSON.stringify(filters)
              )
              assert.strictEqual(yield* repository.count({ ...filters, emailPrefix: tag }), ids.length)
            })
          yield* check({}, [0, 1, 2, 3])
          yield* check({ isActive: true }, [0, 1])
          yield* check({ isActive: false }, [2, 3])
          yield* check({ isVerified: true }, [0, 2])
          yield* check({ isSuperuser: true }, [0, 3])
          yield* check({ isSuperuser: false, isVerified: false }, [1])
          yield* check({ isActive: false, isVerified: true, isSuperuser: true }, [])
        })
      )
    })

    describe("OAuth accounts", () => {
      it.effect("createWithOAuthAccount stores both; getByOAuthAccount finds the user with its accounts", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const input = newUser()
          const details = account({ expiresAt: 1_900_000_000, refreshToken: "refresh-1" })
          const created = yield* repository.createWithOAuthAccount(input, details)
          assert.strictEqual(created.id, input.id)
          assert.strictEqual(created.oauthAccounts.length, 1)
          const [stored] = created.oauthAccounts
          assert.instanceOf(stored!.createdAt, Date)
          assert.deepStrictEqual({ ...stored!, id: "", createdAt: null }, { id: "", ...details, createdAt: null })
          const found = Option.getOrThrow(yield* repository.getByOAuthAccount("google", details.accountId))
          assert.deepStrictEqual(found, created)
          assert.isTrue(Option.isNone(yield* repository.getByOAuthAccount("github", details.accountId)))
          assert.isTrue(Option.isNone(yield* repository.getByOAuthAccount("google", "unknown")))
        })
      )

      it.effect("hasOwnPassword: a registered user has one, an OAuth sign-up gets one by writing a password", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          assert.isTrue(yield* repository.hasOwnPassword(yield* repository.create(newUser())))
          const signedUp = yield* repository.createWithOAuthAccount(newUser(), account())
          assert.isFalse(yield* repository.hasOwnPassword(signedUp))
          yield* repository.update(signedUp, { hashedPassword: "fake$own" })
          assert.isTrue(yield* repository.hasOwnPassword(signedUp))
          assert.isFalse(yield* repository.hasOwnPassword(newUser()))
        })
      )

      it.effect("removeOAuthAccount never takes a user's last way in; a password of their own is one", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const first = account()
          const user = yield* repository.createWithOAuthAccount(newUser(), first)
          const remove = (accountId: string) =>
            Effect.flip(repository.removeOAuthAccount(user, "google", accountId)).pipe(
              Effect.map((error) => error._tag),
              Effect.orElseSucceed(() => "removed")
            )
          assert.strictEqual(yield* remove(first.accountId), "OAuthLastLoginMethod")
          assert.strictEqual(yield* remove("nobody"), "OAuthAccountNotFound")
          // Of two concurrent unlinks of a password-less user's last two links, one wins.
          const second = account()
          yield* repository.addOAuthAccount(user, second)
          const outcomes = yield* Effect.all([remove(first.accountId), remove(second.accountId)], {
            concurrency: "unbounded"
          })
          assert.sameMembers(outcomes, ["removed", "OAuthLastLoginMethod"])
          assert.lengthOf(yield* repository.oauthAccountsOf(user), 1)
          // A password written by the user (register, reset, change) is a way in: the last link may go.
          yield* repository.update(user, { hashedPassword: "fake$own" })
          const [left] = yield* repository.oauthAccountsOf(user)
          assert.strictEqual(yield* remove(left!.accountId), "removed")
          assert.deepStrictEqual(yield* repository.oauthAccountsOf(user), [])
          // A user who registered with a password has one from the start.
          const registered = yield* repository.create(newUser())
          const only = account()
          yield* repository.addOAuthAccount(registered, only)
          const removed = yield* repository.removeOAuthAccount(registered, "google", only.accountId)
          assert.strictEqual(removed.accountId, only.accountId)
        })
      )

      it.effect("removeOAuthAccounts ends every link of the user and returns them", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          const [a, b] = [account(), account()]
          yield* repository.addOAuthAccount(user, a)
          yield* repository.addOAuthAccount(user, b)
          const other = yield* repository.createWithOAuthAccount(newUser(), account())
          const listed = yield* repository.oauthAccountsOf(user)
          assert.sameMembers(
            listed.map((linked) => linked.accountId),
            [a.accountId, b.accountId]
          )
          const ended = yield* repository.removeOAuthAccounts(user)
          assert.sameMembers(
            ended.map((linked) => linked.accountId),
            [a.accountId, b.accountId]
          )
          assert.deepStrictEqual(yield* repository.oauthAccountsOf(user), [])
          assert.lengthOf(yield* repository.oauthAccountsOf(other), 1)
        })
      )

      it.effect("an account without expiry or refresh token stores null for both", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const created = yield* repository.createWithOAuthAccount(newUser(), account())
          assert.strictEqual(created.oauthAccounts[0]!.expiresAt, null)
          assert.strictEqual(created.oauthAccounts[0]!.refreshToken, null)
        })
      )

      it.effect("createWithOAuthAccount with a taken e-mail stores neither user nor account", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const existing = yield* repository.create(newUser())
          const details = account()
          const input = newUser(existing.email.toUpperCase())
          const error = yield* Effect.flip(repository.createWithOAuthAccount(input, details))
          assert.strictEqual(error._tag, "UserAlreadyExists")
          assert.isTrue(Option.isNone(yield* repository.getByOAuthAccount("google", details.accountId)))
          assert.isTrue(Option.isNone(yield* repository.get(input.id)))
        })
      )

      it.effect("addOAuthAccount links another account; a missing user fails with UserNotExists", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          const google = account()
          const github = account({ oauthName: "github", accessToken: "gh-token" })
          yield* repository.addOAuthAccount(user, google)
          const both = yield* repository.addOAuthAccount(user, github)
          assert.deepStrictEqual(
            byName(both.oauthAccounts).map((a) => [a.oauthName, a.accountId]),
            [
              ["github", github.accountId],
              ["google", google.accountId]
            ]
          )
          const viaGithub = Option.getOrThrow(yield* repository.getByOAuthAccount("github", github.accountId))
          assert.strictEqual(viaGithub.id, user.id)
          assert.deepStrictEqual(byName(viaGithub.oauthAccounts), byName(both.oauthAccounts))
          const error = yield* Effect.flip(repository.addOAuthAccount(newUser(), account()))
          assert.strictEqual(error._tag, "UserNotExists")
        })
      )

      it.effect("updateOAuthAccount changes the tokens given and leaves the rest", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const created = yield* repository.createWithOAuthAccount(
            newUser(),
            account({ expiresAt: 1_800_000_000, refreshToken: "refresh-1" })
          )
          const linked = yield* repository.addOAuthAccount(created, account({ oauthName: "github" }))
          const google = linked.oauthAccounts.find((a) => a.oauthName === "google")!
          const github = linked.oauthAccounts.find((a) => a.oauthName === "github")!
          const updated = yield* repository.updateOAuthAccount(created, google, { accessToken: "access-2" })
          assert.deepStrictEqual(
            byName(updated.oauthAccounts),
            byName([github, { ...google, accessToken: "access-2" }])
          )
          const cleared = yield* repository.updateOAuthAccount(created, google, { expiresAt: null, refreshToken: null })
          assert.deepStrictEqual(
            cleared.oauthAccounts.find((a) => a.id === google.id),
            {
              ...google,
              accessToken: "access-2",
              expiresAt: null,
              refreshToken: null
            }
          )
          const error = yield* Effect.flip(repository.updateOAuthAccount(newUser(), google, { accessToken: "x" }))
          assert.strictEqual(error._tag, "UserNotExists")
        })
      )

      it.effect("one provider account links once: again, to another user, or at account creation fails", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const details = account()
          const owner = yield* repository.createWithOAuthAccount(newUser(), details)
          const twice = yield* Effect.flip(repository.addOAuthAccount(owner, details))
          assert.strictEqual(twice._tag, "OAuthAccountAlreadyLinked")
          const other = yield* repository.create(newUser())
          const stolen = yield* Effect.flip(repository.addOAuthAccount(other, details))
          assert.strictEqual(stolen._tag, "OAuthAccountAlreadyLinked")
          const fresh = newUser()
          const created = yield* Effect.flip(repository.createWithOAuthAccount(fresh, details))
          assert.strictEqual(created._tag, "OAuthAccountAlreadyLinked")
          // Both or neither: the user of the refused account was not stored.
          assert.isTrue(Option.isNone(yield* repository.getByEmail(fresh.email)))
          const found = Option.getOrThrow(yield* repository.getByOAuthAccount("google", details.accountId))
          assert.deepStrictEqual([found.id, found.oauthAccounts.length], [owner.id, 1])
          // Another provider may use the same account ID.
          yield* repository.addOAuthAccount(other, { ...details, oauthName: "github" })
        })
      )

      it.effect("concurrent links of one provider account to different users: one winner", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const details = account()
          const candidates = yield* Effect.forEach([1, 2, 3, 4, 5, 6], () => repository.create(newUser()))
          const winner = yield* exactlyOneWinner(
            candidates.map((user) => repository.addOAuthAccount(user, details)),
            "OAuthAccountAlreadyLinked"
          )
          const found = Option.getOrThrow(yield* repository.getByOAuthAccount("google", details.accountId))
          assert.strictEqual(found.id, winner.id)
        })
      )

      it.effect("tokens longer than 1024 characters are stored whole", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const accessToken = "a".repeat(5000)
          const refreshToken = "r".repeat(3000)
          const details = account({ accessToken, refreshToken })
          yield* repository.createWithOAuthAccount(newUser(), details)
          const found = Option.getOrThrow(yield* repository.getByOAuthAccount("google", details.accountId))
          assert.deepStrictEqual(
            [found.oauthAccounts[0]!.accessToken, found.oauthAccounts[0]!.refreshToken],
            [accessToken, refreshToken]
          )
        })
      )

      it.effect("delete removes the user's OAuth accounts", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const details = account()
          const user = yield* repository.createWithOAuthAccount(newUser(), details)
          yield* repository.delete(user)
          assert.isTrue(Option.isNone(yield* repository.getByOAuthAccount("google", details.accountId)))
          const again = yield* repository.createWithOAuthAccount(newUser(user.email), details)
          const found = Option.getOrThrow(yield* repository.getByOAuthAccount("google", details.accountId))
          assert.strictEqual(found.id, again.id)
          assert.strictEqual(found.oauthAccounts.length, 1)
        })
      )
    })

    describe("session epoch", () => {
      it.effect("a new user reads epoch 0 and no revoked tokens, by ID and by e-mail, with the user", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          const expected = { user, sessionEpoch: 0, revokedUntil: 0 }
          assertSome(yield* repository.getWithEpoch(user.id), expected)
          assertSome(yield* repository.getByEmailWithEpoch(user.email.toUpperCase()), expected)
          assert.isTrue(Option.isNone(yield* repository.getWithEpoch(crypto.randomUUID())))
          assert.isTrue(Option.isNone(yield* repository.getByEmailWithEpoch(freshEmail())))
        })
      )

      it.effect("updateEndingSessions writes the patch and moves the epoch in one step; plain updates do not", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          const moved = Option.getOrThrow(yield* repository.updateEndingSessions(user, { hashedPassword: "h2" }, {}))
          assert.deepStrictEqual([moved.user.hashedPassword, moved.sessionEpoch], ["h2", 1])
          const again = Option.getOrThrow(yield* repository.updateEndingSessions(user, {}, {}))
          assert.strictEqual(again.sessionEpoch, 2)
          yield* repository.update(user, { isVerified: true })
          assert.strictEqual(Option.getOrThrow(yield* repository.getWithEpoch(user.id)).sessionEpoch, 2)
          // An expectation that no longer holds writes nothing and moves nothing.
          const stale = yield* repository.updateEndingSessions(user, { hashedPassword: "h3" }, { hashedPassword: "h1" })
          assert.isTrue(Option.isNone(stale))
          const now = Option.getOrThrow(yield* repository.getWithEpoch(user.id))
          assert.deepStrictEqual([now.user.hashedPassword, now.sessionEpoch], ["h2", 2])
          assert.isTrue(Option.isNone(yield* repository.updateEndingSessions(newUser(), {}, {})))
        })
      )

      it.effect("updateEndingSessions with a taken e-mail fails UserAlreadyExists and moves nothing", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const [user, other] = [yield* repository.create(newUser()), yield* repository.create(newUser())]
          const error = yield* Effect.flip(repository.updateEndingSessions(user, { email: other.email }, {}))
          assert.strictEqual(error._tag, "UserAlreadyExists")
          assert.strictEqual(Option.getOrThrow(yield* repository.getWithEpoch(user.id)).sessionEpoch, 0)
        })
      )

      it.effect("concurrent moves all count: ten at once move the epoch by ten", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          yield* Effect.all(
            Array.from({ length: 10 }, () => repository.updateEndingSessions(user, {}, {})),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(Option.getOrThrow(yield* repository.getWithEpoch(user.id)).sessionEpoch, 10)
        })
      )

      it.effect("deactivate stores the detail and moves the epoch in one step; activating clears the detail", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          const until = new Date(Date.now() + 3_600_000)
          const written = Option.getOrThrow(yield* repository.deactivate(user, { reason: "chargeback", until }))
          assert.deepStrictEqual([written.user.isActive, written.sessionEpoch], [false, 1])
          assert.deepStrictEqual(Option.getOrNull(yield* repository.get(user.id)), { ...user, isActive: false })
          assert.deepStrictEqual(Option.getOrNull(yield* repository.deactivationOf(user)), {
            reason: "chargeback",
            until
          })
          // Another field's write keeps it; an `isActive: false` write too (an admin UI sends every field).
          yield* repository.update(user, { isVerified: true, isActive: false })
          assert.deepStrictEqual(Option.getOrNull(yield* repository.deactivationOf(user)), {
            reason: "chargeback",
            until
          })
          yield* repository.update(user, { isActive: true })
          assert.isTrue(Option.isNone(yield* repository.deactivationOf(user)))
          // Deactivated without a detail (FastAPI Users' way): both null.
          yield* repository.update(user, { isActive: false })
          assert.deepStrictEqual(Option.getOrNull(yield* repository.deactivationOf(user)), {
            reason: null,
            until: null
          })
          assert.isTrue(Option.isNone(yield* repository.deactivate(newUser(), { reason: null, until: null })))
          assert.isTrue(Option.isNone(yield* repository.deactivationOf(newUser())))
        })
      )

      it.effect("a deactivation whose until has passed reads as active everywhere, and is cleared by the read", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const tag = uniqueTag()
          const [lapsed, banned] = [
            yield* repository.create(newUser(freshEmail(`${tag}a`))),
            yield* repository.create(newUser(freshEmail(`${tag}b`)))
          ]
          yield* repository.deactivate(lapsed, { reason: "cool-off", until: new Date(Date.now() - 1) })
          yield* repository.deactivate(banned, { reason: "abuse", until: new Date(Date.now() + 3_600_000) })
          const active = (filters: { isActive: boolean }) =>
            Effect.map(repository.list({ emailPrefix: tag, ...filters }), (users) => users.map((u) => u.id))
          assert.deepStrictEqual(yield* active({ isActive: true }), [lapsed.id])
          assert.deepStrictEqual(yield* active({ isActive: false }), [banned.id])
          assert.deepStrictEqual(
            [
              yield* repository.count({ emailPrefix: tag, isActive: true }),
              yield* repository.count({ emailPrefix: tag, isActive: false })
            ],
            [1, 1]
          )
          assert.isTrue(Option.getOrThrow(yield* repository.getByEmailWithEpoch(lapsed.email)).user.isActive)
          assert.isTrue(Option.getOrThrow(yield* repository.getWithEpoch(lapsed.id)).user.isActive)
          assert.isTrue(Option.getOrThrow(yield* repository.getByEmail(lapsed.email)).isActive)
          assert.isFalse(Option.getOrThrow(yield* repository.get(banned.id)).isActive)
          assert.isTrue(Option.isNone(yield* repository.deactivationOf(lapsed)))
          // Cleared, not only read as active: a conditional write expecting an active user matches.
          const reset = yield* repository.updateIf(lapsed, { hashedPassword: "h2" }, { isActive: true })
          assert.deepStrictEqual(Option.getOrNull(Option.map(reset, (u) => [u.isActive, u.hashedPassword])), [
            true,
            "h2"
          ])
          assert.isTrue(Option.isNone(yield* repository.updateIf(banned, {}, { isActive: true })))
        })
      )

      it.effect("a deactivation without an end never lifts: every read sees the user inactive", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const tag = uniqueTag()
          const user = yield* repository.create(newUser(freshEmail(tag)))
          yield* repository.deactivate(user, { reason: "abuse", until: null })
          assert.isFalse(Option.getOrThrow(yield* repository.get(user.id)).isActive)
          assert.isFalse(Option.getOrThrow(yield* repository.getByEmail(user.email)).isActive)
          assert.isFalse(Option.getOrThrow(yield* repository.getWithEpoch(user.id)).user.isActive)
          assert.isFalse(Option.getOrThrow(yield* repository.getByEmailWithEpoch(user.email)).user.isActive)
          assert.deepStrictEqual(
            [
              yield* repository.count({ emailPrefix: tag, isActive: true }),
              yield* repository.count({ emailPrefix: tag, isActive: false })
            ],
            [0, 1]
          )
          assert.deepStrictEqual(Option.getOrNull(yield* repository.deactivationOf(user)), {
            reason: "abuse",
            until: null
          })
          assert.isTrue(Option.isNone(yield* repository.updateIf(user, {}, { isActive: true })))
        })
      )

      it.effect("raiseRevokedUntil only raises; a missing user is not an error", () =>
        Effect.gen(function* () {
          const repository = yield* DefaultRepository
          const user = yield* repository.create(newUser())
          yield* repository.raiseRevokedUntil(user, 2_000_000_000_000)
          yield* repository.raiseRevokedUntil(user, 1_000_000_000_000)
          assert.strictEqual(Option.getOrThrow(yield* repository.getWithEpoch(user.id)).revokedUntil, 2_000_000_000_000)
          yield* repository.raiseRevokedUntil(newUser(), 1)
        })
      )
    })
  })

  layer(layers.custom, { excludeTestServices: true })(`${name}: custom model with integer IDs`, (it) => {
    it.effect("create assigns distinct integer IDs and keeps the extra fields", () =>
      Effect.gen(function* () {
        const repository = yield* CustomRepository
        const first = yield* repository.create(newCustomUser())
        const second = yield* repository.create({ ...newCustomUser(), birthYear: 1999, newsletter: true })
        assert.isTrue(Number.isSafeInteger(first.id))
        assert.notStrictEqual(first.id, second.id)
        assertSome(yield* repository.get(second.id), second)
        assert.strictEqual(second.birthYear, 1999)
        assert.strictEqual(second.newsletter, true)
        assert.strictEqual(first.newsletter, false)
        assert.strictEqual(first.firstName, "Lancelot")
        const found = Option.getOrThrow(yield* repository.getByEmail(first.email.toUpperCase()))
        assert.deepStrictEqual(found, first)
      })
    )

    it.effect("update changes extra fields", () =>
      Effect.gen(function* () {
        const repository = yield* CustomRepository
        const user = yield* repository.create(newCustomUser())
        const updated = yield* repository.update(user, { firstName: "Elaine", newsletter: true, birthYear: 2001 })
        assert.deepStrictEqual(updated, { ...user, firstName: "Elaine", newsletter: true, birthYear: 2001 })
        assertSome(yield* repository.get(user.id), updated)
      })
    )

    it.effect("list orders integer IDs as numbers and keeps the extra fields", () =>
      Effect.gen(function* () {
        const repository = yield* CustomRepository
        const tag = uniqueTag()
        const created = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          (i) => repository.create(newCustomUser(`${tag}.${i}@camelot.bt`))
        )
        const listed = yield* repository.list({ emailPrefix: tag })
        assert.deepStrictEqual(
          listed.map((user) => user.id),
          created.map((user) => user.id).sort((a, b) => a - b)
        )
        assert.deepStrictEqual(listed[0], created[0])
        assert.strictEqual(yield* repository.count({ emailPrefix: tag, isVerified: true }), 12)
      })
    )

    it.effect("e-mails stay unique in any case", () =>
      Effect.gen(function* () {
        const repository = yield* CustomRepository
        const email = freshEmail("Tristan")
        yield* exactlyOneWinner(
          Array.from({ length: 10 }, (_, i) => repository.create(newCustomUser(recase(email, i)))),
          "UserAlreadyExists"
        )
      })
    )

    it.effect("OAuth accounts link to integer IDs; delete removes them", () =>
      Effect.gen(function* () {
        const repository = yield* CustomRepository
        const details = account()
        const created = yield* repository.createWithOAuthAccount(newCustomUser(), details)
        assert.isTrue(Number.isSafeInteger(created.id))
        assert.strictEqual(created.firstName, "Lancelot")
        const found = Option.getOrThrow(yield* repository.getByOAuthAccount("google", details.accountId))
        assert.deepStrictEqual(found, created)
        const linked = yield* repository.addOAuthAccount(created, account({ oauthName: "github" }))
        assert.strictEqual(linked.oauthAccounts.length, 2)
        yield* repository.delete(created)
        assert.isTrue(Option.isNone(yield* repository.get(created.id)))
        assert.isTrue(Option.isNone(yield* repository.getByOAuthAccount("google", details.accountId)))
      })
    )

    it.effect("the session epoch reads and moves with integer IDs and extra fields", () =>
      Effect.gen(function* () {
        const repository = yield* CustomRepository
        const created = yield* repository.create(newCustomUser())
        const moved = Option.getOrThrow(yield* repository.updateEndingSessions(created, { firstName: "Galahad" }, {}))
        assert.deepStrictEqual([moved.user.firstName, moved.sessionEpoch], ["Galahad", 1])
        assertSome(yield* repository.getWithEpoch(created.id), { ...moved, revokedUntil: 0 })
      })
    )
  })
}

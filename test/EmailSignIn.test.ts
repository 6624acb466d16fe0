/**
 * The sign-ins by e-mail in the in-memory setup (memory stores, memory outbox, memory mailer), under the TestClock:
 * a link lives 15 minutes and a code 10; the mails carry them; an unknown or inactive address gets nothing; the
 * registration mail and the manager's other mails go through the same outbox. The memory store passes the contract.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Redacted, TestClock } from "effect"
import { EmailSignIn, Mail, Mailer, Outbox, PasswordHasher, UserError, UserManager, UserRepository } from "effect-users"
import { emailSignInStoreSuite } from "./suites/EmailSignInStoreSuite.js"
import { outboxSecret } from "./utils/MailTest.js"
import { codeIn, tokenIn } from "./utils/SmtpServer.js"
import { freshEmail, makeFakeHasher, testConfig } from "./utils/TestUsers.js"

emailSignInStoreSuite("EmailSignInStore in memory", EmailSignIn.layerStoreMemory)

const MailLive = Mail.layer({ publicUrl: "https://app.camelot.bt/" }).pipe(
  Layer.provideMerge(Outbox.layer({ secret: outboxSecret, worker: false })),
  Layer.provide(Outbox.layerStoreMemory),
  Layer.provideMerge(Mailer.layerMemory)
)
const Users = UserManager.layer.pipe(
  Layer.provide([UserRepository.layerMemory, testConfig(), PasswordHasher.layer(makeFakeHasher().service)]),
  Layer.provideMerge(MailLive)
)
const TestLayer = EmailSignIn.layer().pipe(
  Layer.provideMerge(Users),
  Layer.provide(EmailSignIn.layerStoreMemory),
  Layer.orDie
)

/** Delivers what the outbox holds and returns the messages to `to`. */
const mailsTo = (to: string) =>
  Effect.gen(function* () {
    yield* Effect.flatMap(Outbox.Outbox, (outbox) => outbox.deliverDue)
    const sent = yield* Effect.flatMap(Mailer.MemoryMailer, (mailer) => mailer.sent)
    return sent.filter((message) => message.to === to)
  })

describe("EmailSignIn", () => {
  layer(TestLayer)("in memory, on the TestClock", (it) => {
    const registered = (verified = false) =>
      Effect.gen(function* () {
        const users = yield* UserManager.UserManager
        const email = freshEmail("memory")
        yield* users
          .create({ email, password: Redacted.make("correct-horse-battery"), isVerified: verified })
          .pipe(Effect.orDie)
        return email
      })

    it.effect("registration queues the verification mail; its link is `{publicUrl}/verify?token=`", () =>
      Effect.gen(function* () {
        const email = yield* registered()
        const [mail] = yield* mailsTo(email)
        const token = tokenIn(mail!.text, "verify")
        assert.include(mail!.text, "https://app.camelot.bt/verify?token=")
        const users = yield* UserManager.UserManager
        assert.isTrue((yield* users.verify(token).pipe(Effect.orDie)).isVerified)
      })
    )

    it.effect("a link works until 15 minutes have passed, not after", () =>
      Effect.gen(function* () {
        const signIn = yield* EmailSignIn.EmailSignIn
        const email = yield* registered(true)
        yield* signIn.requestLink(email)
        const fresh = tokenIn((yield* mailsTo(email)).at(-1)!.text, "magic-link")
        yield* TestClock.adjust("14 minutes")
        assert.strictEqual((yield* signIn.spendLink(fresh).pipe(Effect.orDie)).email, email)
        yield* signIn.requestLink(email)
        const stale = tokenIn((yield* mailsTo(email)).at(-1)!.text, "magic-link")
        yield* TestClock.adjust("15 minutes")
        const error = yield* Effect.flip(signIn.spendLink(stale))
        assert.instanceOf(error, UserError.MagicLinkBadToken)
      })
    )

    it.effect("a code works until 10 minutes have passed, not after; it marks the address verified", () =>
      Effect.gen(function* () {
        const signIn = yield* EmailSignIn.EmailSignIn
        const email = yield* registered()
        yield* signIn.requestCode(email)
        const first = codeIn((yield* mailsTo(email)).at(-1)!.subject)
        yield* TestClock.adjust("9 minutes")
        const user = yield* signIn.spendCode(email, Redacted.make(first)).pipe(Effect.orDie)
        assert.isTrue(user.isVerified)
        yield* signIn.requestCode(email)
        const second = codeIn((yield* mailsTo(email)).at(-1)!.text)
        yield* TestClock.adjust("10 minutes")
        assert.isTrue(Exit.isFailure(yield* Effect.exit(signIn.spendCode(email, Redacted.make(second)))))
      })
    )

    it.effect(
      "an unknown or inactive address gets no mail; an earlier link proves a deactivated user, whom the login refuses",
      () =>
        Effect.gen(function* () {
          const signIn = yield* EmailSignIn.EmailSignIn
          const users = yield* UserManager.UserManager
          const unknown = freshEmail("unknown")
          yield* signIn.requestLink(unknown)
          yield* signIn.requestCode(unknown)
          assert.lengthOf(yield* mailsTo(unknown), 0)
          const email = yield* registered(true)
          const user = yield* users.getByEmail(email).pipe(Effect.orDie)
          yield* signIn.requestLink(email)
          const token = tokenIn((yield* mailsTo(email)).at(-1)!.text, "magic-link")
          yield* users.deactivate(user, { reason: "test", until: null }).pipe(Effect.orDie)
          yield* signIn.requestLink(email)
          yield* signIn.requestCode(email)
          assert.lengthOf(yield* mailsTo(email), 1)
          // The link itself is still valid: `Login.start` refuses the inactive user it proves.
          assert.isFalse((yield* signIn.spendLink(token).pipe(Effect.orDie)).isActive)
        })
    )

    it.effect("a wrong or malformed code is EmailCodeBadCode and a try; the fifth kills the code; spaces aside", () =>
      Effect.gen(function* () {
        const signIn = yield* EmailSignIn.EmailSignIn
        const email = yield* registered(true)
        yield* signIn.requestCode(email)
        const mail = (yield* mailsTo(email)).at(-1)!
        assert.include(mail.text, "for 10 minutes")
        const right = codeIn(mail.subject)
        const wrong = right === "000000" ? "111111" : "000000"
        const error = yield* Effect.flip(signIn.spendCode(email, Redacted.make(wrong)))
        assert.instanceOf(error, UserError.EmailCodeBadCode)
        assert.instanceOf(
          yield* Effect.flip(signIn.spendCode(email, Redacted.make(`x${right}`))),
          UserError.EmailCodeBadCode
        )
        assert.strictEqual(
          (yield* signIn.spendCode(email, Redacted.make(` ${right} `)).pipe(Effect.orDie)).email,
          email
        )
        assert.instanceOf(yield* Effect.flip(signIn.spendCode(email, Redacted.make(right))), UserError.EmailCodeBadCode)
        yield* signIn.requestCode(email)
        const next = codeIn((yield* mailsTo(email)).at(-1)!.subject)
        const other = next === "000000" ? "111111" : "000000"
        for (let attempt = 0; attempt < 5; attempt++) yield* Effect.flip(signIn.spendCode(email, Redacted.make(other)))
        assert.instanceOf(yield* Effect.flip(signIn.spendCode(email, Redacted.make(next))), UserError.EmailCodeBadCode)
      })
    )

    it.effect("a link or code is bound to the address: once the user's e-mail changes, both are refused", () =>
      Effect.gen(function* () {
        const signIn = yield* EmailSignIn.EmailSignIn
        const users = yield* UserManager.UserManager
        const email = yield* registered(true)
        yield* signIn.requestLink(email)
        yield* signIn.requestCode(email)
        const mails = yield* mailsTo(email)
        assert.include(mails.at(-2)!.text, "for 15 minutes")
        const token = tokenIn(mails.at(-2)!.text, "magic-link")
        const code = codeIn(mails.at(-1)!.subject)
        const user = yield* users.getByEmail(email).pipe(Effect.orDie)
        yield* users.update(user, { email: freshEmail("moved") }).pipe(Effect.orDie)
        assert.instanceOf(yield* Effect.flip(signIn.spendLink(token)), UserError.MagicLinkBadToken)
        assert.instanceOf(yield* Effect.flip(signIn.spendCode(email, Redacted.make(code))), UserError.EmailCodeBadCode)
        assert.isTrue(Option.isNone(yield* Effect.option(users.getByEmail(email))), "nobody signed up")
      })
    )
  })

  layer(
    EmailSignIn.layer({ signUp: true }).pipe(
      Layer.provideMerge(Users),
      Layer.provide(EmailSignIn.layerStoreMemory),
      Layer.orDie
    )
  )("with signUp", (it) => {
    it.effect("an unknown address's link signs it up, verified; an inactive user's address still gets nothing", () =>
      Effect.gen(function* () {
        const signIn = yield* EmailSignIn.EmailSignIn
        const users = yield* UserManager.UserManager
        const email = freshEmail("newcomer")
        yield* signIn.requestLink(email)
        const token = tokenIn((yield* mailsTo(email)).at(-1)!.text, "magic-link")
        const created = yield* signIn.spendLink(token).pipe(Effect.orDie)
        assert.strictEqual(created.email, email)
        assert.isTrue(created.isVerified)
        assert.isTrue(created.isActive)
        assert.instanceOf(yield* Effect.flip(signIn.spendLink(token)), UserError.MagicLinkBadToken)
        // Registered between the link and its use: the link signs in that user.
        const late = freshEmail("late")
        yield* signIn.requestLink(late)
        const lateToken = tokenIn((yield* mailsTo(late)).at(-1)!.text, "magic-link")
        const registeredUser = yield* users
          .create({ email: late, password: Redacted.make("correct-horse-battery") })
          .pipe(Effect.orDie)
        assert.strictEqual((yield* signIn.spendLink(lateToken).pipe(Effect.orDie)).id, registeredUser.id)
        const inactive = freshEmail("inactive")
        yield* users
          .create({ email: inactive, password: Redacted.make("correct-horse-battery"), isActive: false })
          .pipe(Effect.orDie)
        yield* signIn.requestLink(inactive)
        assert.lengthOf(yield* mailsTo(inactive), 0)
      })
    )

    it.effect("a known user's link is still bound to their current e-mail: after a change it signs nobody up", () =>
      Effect.gen(function* () {
        const signIn = yield* EmailSignIn.EmailSignIn
        const users = yield* UserManager.UserManager
        const email = freshEmail("mover")
        const user = yield* users
          .create({ email, password: Redacted.make("correct-horse-battery"), isVerified: true })
          .pipe(Effect.orDie)
        yield* signIn.requestLink(email)
        const token = tokenIn((yield* mailsTo(email)).at(-1)!.text, "magic-link")
        yield* users.update(user, { email: freshEmail("moved") }).pipe(Effect.orDie)
        assert.instanceOf(yield* Effect.flip(signIn.spendLink(token)), UserError.MagicLinkBadToken)
        assert.isTrue(Option.isNone(yield* Effect.option(users.getByEmail(email))), "no account at the old address")
      })
    )
  })

  it("the default templates escape what they insert into HTML", () => {
    const rendered = Mail.defaultTemplates.emailChanged({ oldEmail: "a@b.c", newEmail: "<script>@evil.bt" })
    assert.notInclude(rendered.html, "<script>")
    assert.include(rendered.html, "&#60;script&#62;")
    assert.include(rendered.text, "<script>@evil.bt")
  })
})

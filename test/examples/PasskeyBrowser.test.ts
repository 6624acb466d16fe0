/**
 * The sign-in page of `npm start` in a real browser (Debian's Chromium through `playwright-core`), with the DevTools
 * protocol's virtual authenticator (CTAP2, internal transport, resident keys, user verification): register, add a
 * passkey, log out, sign in with the passkey, remove it; the passkey as the second step after a password; an
 * authenticator app set up from the page's QR code secret (codes made here with `otpauth`), the two-step login with
 * its codes and the step-ups it asks for; sign-in by e-mail code and by e-mail link, the mails read from a real SMTP
 * server. A screenshot of each step is saved under `test-artifacts/passkeys/` (ignored by git).
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import * as OTPAuth from "otpauth"
import type { CDPSession, Page } from "playwright-core"
import * as QRCode from "qrcode"
import { launch } from "../utils/Chromium.js"
import { type ExampleServer, root, startExampleServer } from "../utils/ExampleServer.js"
import { freePort } from "../utils/LocalServer.js"
import { type SmtpServer, startSmtpServer } from "../utils/SmtpServer.js"

const artifacts = join(root, "test-artifacts", "passkeys")

describe("the sign-in page with a passkey, in Chromium", () => {
  let server: ExampleServer
  let smtp: SmtpServer
  let browser: Awaited<ReturnType<typeof launch>>
  let page: Page
  let cdp: CDPSession
  let authenticatorId: string
  const email = `browser.${Date.now().toString(36)}@example.com`
  const password = "violet tugboat ladder quantum 42"

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true })
    smtp = await startSmtpServer()
    // The mails link to the origin the page and its passkeys live on.
    const port = await freePort()
    server = await startExampleServer({
      port,
      env: { PUBLIC_URL: `http://localhost:${port}`, SMTP_URL: smtp.url, MAIL_FROM: "Camelot <no-reply@camelot.bt>" }
    })
    browser = await launch()
    page = await browser.context.newPage()
    cdp = await browser.context.newCDPSession(page)
    await cdp.send("WebAuthn.enable")
    const added = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true
      }
    })
    authenticatorId = added.authenticatorId
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await smtp?.stop()
  }, 30_000)

  // Each scenario starts with an empty authenticator, on the signed-out page.
  beforeEach(async () => {
    await cdp.send("WebAuthn.clearCredentials", { authenticatorId })
    await browser.context.clearCookies()
    await page.goto(`http://localhost:${server.port}/`)
    await page.waitForSelector("#register-form")
  })

  const shot = (step: string) => page.screenshot({ path: join(artifacts, `${step}.png`), fullPage: true })
  /** Waits (15 s at most) for the page's status line to say `text`; fails with what it says otherwise. */
  const statusIs = async (text: string) => {
    const deadline = Date.now() + 15_000
    let shown = await page.textContent("#status")
    while (shown !== text && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      shown = await page.textContent("#status")
    }
    assert.strictEqual(shown, text)
  }
  const register = async (address: string) => {
    await page.fill("#register-email", address)
    await page.fill("#register-password", password)
    await page.click("#register")
    await statusIs("Registered and logged in")
    assert.strictEqual(await page.textContent("#me"), address)
  }
  const logout = async () => {
    await page.click("#logout")
    await statusIs("Logged out")
    assert.isTrue(await page.isVisible("#signed-out"))
  }
  const passwordLogin = async (address: string) => {
    await page.fill("#login-email", address)
    await page.fill("#login-password", password)
    await page.click("#login")
  }
  /** The session list's text (the page lists how each session was made). */
  const sessionsText = async () => {
    await page.waitForSelector("#sessions li")
    return (await page.textContent("#sessions")) ?? ""
  }
  const credentials = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials

  it("registers, adds a passkey, logs out, signs in with it and removes it", async () => {
    // The page is on the origin passkeys are configured for by default: http://localhost:PORT.
    await shot("1-signed-out")

    await page.fill("#register-email", email)
    await page.fill("#register-password", password)
    await page.click("#register")
    await statusIs("Registered and logged in")
    assert.strictEqual(await page.textContent("#me"), email)
    await shot("2-registered")

    await page.fill("#current-password", password)
    await page.fill("#passkey-name", "Virtual authenticator")
    await page.click("#passkey-add")
    await statusIs("Passkey added")
    await page.waitForSelector("#passkeys li")
    assert.include(await page.textContent("#passkeys"), "Virtual authenticator")
    const stored = await credentials()
    assert.strictEqual(stored.length, 1)
    assert.isTrue(stored[0]!.isResidentCredential)
    await shot("3-passkey-added")

    await page.click("#logout")
    await statusIs("Logged out")
    assert.isTrue(await page.isVisible("#signed-out"))
    await shot("4-logged-out")

    await page.click("#passkey-signin")
    await statusIs("Signed in with a passkey")
    assert.strictEqual(await page.textContent("#me"), email)
    await page.waitForSelector("#sessions li")
    assert.include(await page.textContent("#sessions"), "passkey")
    assert.include(await page.textContent("#passkeys"), "last used")
    await shot("5-signed-in-with-passkey")

    await page.fill("#current-password", password)
    await page.click("#passkeys li button")
    await statusIs("Passkey removed")
    assert.strictEqual(await page.locator("#passkeys li").count(), 0)
    await shot("6-passkey-removed")

    // The server forgot it: the authenticator's passkey no longer signs in.
    await page.click("#logout")
    await statusIs("Logged out")
    await page.click("#passkey-signin")
    await statusIs("PASSKEY_INVALID")
    await shot("7-removed-passkey-refused")
  }, 120_000)

  it("takes the passkey as the second step after a password", async () => {
    const address = `second.${Date.now().toString(36)}@example.com`
    await register(address)
    await page.fill("#current-password", password)
    await page.fill("#passkey-name", "Second factor")
    await page.click("#passkey-add")
    await statusIs("Passkey added")
    // From now on the account has a factor: the page asks for its proof on sensitive changes.
    assert.isTrue(await page.isVisible("#stepup-factor"))
    await logout()

    await passwordLogin(address)
    await statusIs("This account needs a second step")
    assert.isTrue(await page.isVisible("#mfa-step"))
    assert.isTrue(await page.isVisible("#mfa-passkey"))
    assert.isFalse(await page.isVisible("#mfa-code-form"))
    assert.isFalse(await page.isVisible("#signed-in"))
    await shot("a1-second-step-passkey")

    await page.click("#mfa-passkey")
    await statusIs("Signed in with two steps")
    assert.strictEqual(await page.textContent("#me"), address)
    assert.isFalse(await page.isVisible("#mfa-step"))
    assert.include(await page.textContent("#passkeys"), "last used")
    await shot("a2-signed-in-password-and-passkey")
  }, 120_000)

  it("sets up an authenticator app from the page's QR code, logs in with two steps and asks for the factor on changes", async () => {
    const address = `totp.${Date.now().toString(36)}@example.com`
    await register(address)
    assert.strictEqual(await page.textContent("#totp-state"), "Off.")
    await page.fill("#current-password", password)
    const enrolment = page.waitForResponse(
      (response) => response.url().endsWith("/users/me/mfa/totp") && response.request().method() === "POST"
    )
    await page.click("#totp-start")
    await statusIs("Scan the QR code, then type the code your app shows")
    const secret = (await page.textContent("#totp-secret")) ?? ""
    assert.match(secret, /^[A-Z2-7]{32}$/)
    const uri = ((await (await enrolment).json()) as { otpauth_uri: string }).otpauth_uri
    assert.strictEqual(new URL(uri).searchParams.get("secret"), secret)
    // The canvas holds the QR code of otpauth_uri: each module's centre pixel, dark or light, as qrcode encodes it.
    const expected = QRCode.create(uri, {})
    const size = expected.modules.size
    const drawn = await page.evaluate<string>(`(() => {
      const canvas = document.getElementById("totp-qr")
      const scale = canvas.width / (${size} + 4)
      const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data
      let bits = ""
      for (let row = 0; row < ${size}; row++)
        for (let col = 0; col < ${size}; col++) {
          const y = Math.floor((row + 2.5) * scale), x = Math.floor((col + 2.5) * scale)
          bits += pixels[(y * canvas.width + x) * 4] < 128 ? "1" : "0"
        }
      return bits
    })()`)
    assert.strictEqual(drawn, Array.from(expected.modules.data, (bit) => (bit ? "1" : "0")).join(""))
    await shot("b1-totp-qr-code")

    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 })
    // The step after the current one (the server accepts one step either side, and each step once).
    const nextCode = () => totp.generate({ timestamp: Date.now() + 30_000 })
    await page.fill("#totp-code", totp.generate())
    await page.click("#totp-confirm")
    await statusIs("The authenticator app is on")
    const recoveryCodes = await page.locator("#recovery-codes li").allTextContents()
    assert.strictEqual(recoveryCodes.length, 10)
    assert.strictEqual(await page.textContent("#totp-secret"), "")
    assert.include(await page.textContent("#totp-state"), "10 recovery codes left")
    await shot("b2-totp-on-recovery-codes")

    // This session was a password sign-in: adding a passkey now needs a proof of the factor too.
    await page.fill("#current-password", password)
    await page.click("#passkey-add")
    await statusIs("MFA_CODE_REQUIRED")
    await page.fill("#stepup-code", recoveryCodes[0]!)
    await page.click("#passkey-add")
    await statusIs("Passkey added")
    // ... and removing it: proven by the passkey itself.
    await page.check("#stepup-passkey")
    await page.click("#passkeys li button")
    await statusIs("Passkey removed")
    assert.strictEqual(await page.locator("#passkeys li").count(), 0)
    await shot("b3-step-up-by-recovery-code-and-passkey")
    await logout()

    await passwordLogin(address)
    await statusIs("This account needs a second step")
    assert.isTrue(await page.isVisible("#mfa-code-form"))
    assert.isTrue(await page.isVisible("#mfa-recovery-form"))
    await shot("b4-second-step-totp")
    await page.fill("#mfa-code", "000000")
    await page.click("#mfa-code-submit")
    await statusIs("LOGIN_MFA_BAD_CODE")
    await page.fill("#mfa-code", nextCode())
    await page.click("#mfa-code-submit")
    await statusIs("Signed in with two steps")
    assert.strictEqual(await page.textContent("#me"), address)
    assert.include(await page.textContent("#totp-state"), "9 recovery codes left")
    await shot("b5-signed-in-with-totp")
    await logout()

    await passwordLogin(address)
    await statusIs("This account needs a second step")
    await page.fill("#mfa-recovery", recoveryCodes[1]!)
    await page.click("#mfa-recovery-submit")
    await statusIs("Signed in with two steps")
    assert.include(await page.textContent("#totp-state"), "8 recovery codes left")
    await shot("b6-signed-in-with-recovery-code")

    // A fresh two-step session: the password alone turns the app off.
    await page.fill("#current-password", password)
    await page.click("#totp-off")
    await statusIs("The authenticator app is off")
    assert.strictEqual(await page.textContent("#totp-state"), "Off.")
    await logout()
    await passwordLogin(address)
    await statusIs("Logged in")
    await shot("b7-totp-off-one-step-login")
  }, 120_000)

  it("signs in by e-mail code and by e-mail link", async () => {
    const address = `mail.${Date.now().toString(36)}@example.com`
    await register(address)
    await logout()
    // Registration sent the verification mail first.
    const before = (await smtp.waitFor(address, 1)).length

    await page.fill("#email-signin-address", address)
    await page.click("#email-code-request")
    await statusIs("If this address has an account, a code is on its way")
    const codeMail = (await smtp.waitFor(address, before + 1)).at(-1)!
    const code = /\b(\d{6})\b/.exec(codeMail.text)?.[1]
    assert.isDefined(code, codeMail.text)
    await shot("c1-email-code-requested")
    await page.fill("#email-code", code!)
    await page.click("#email-code-login")
    await statusIs("Signed in by e-mail code")
    assert.strictEqual(await page.textContent("#me"), address)
    assert.include(await sessionsText(), "email-code")
    await shot("c2-signed-in-by-email-code")
    await logout()

    await page.fill("#email-signin-address", address)
    await page.click("#magic-link-request")
    await statusIs("If this address has an account, a sign-in link is on its way")
    const linkMail = (await smtp.waitFor(address, before + 2)).at(-1)!
    const link = /http:\/\/\S+\/magic-link\?token=[\w-]+/.exec(linkMail.text)?.[0]
    assert.isDefined(link, linkMail.text)
    assert.isTrue(link!.startsWith(`http://localhost:${server.port}/magic-link?token=`))
    await shot("c3-magic-link-requested")
    // The link opens the page, which signs the browser in and takes the token out of the address bar.
    await page.goto(link!)
    await statusIs("Signed in by e-mail link")
    assert.strictEqual(await page.textContent("#me"), address)
    assert.strictEqual(new URL(page.url()).pathname + new URL(page.url()).search, "/")
    assert.include(await sessionsText(), "magic-link")
    await shot("c4-signed-in-by-magic-link")

    // A link works once.
    await logout()
    await page.goto(link!)
    await statusIs("MAGIC_LINK_BAD_TOKEN")
    assert.isTrue(await page.isVisible("#signed-out"))
    await shot("c5-magic-link-spent")
  }, 120_000)
})

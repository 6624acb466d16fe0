/**
 * The sign-in page of `npm start` in a real browser (Debian's Chromium through `playwright-core`), with the DevTools
 * protocol's virtual authenticator (CTAP2, internal transport, resident keys, user verification): register, add a
 * passkey, log out, sign in with the passkey, remove it. A screenshot of each step is saved under
 * `test-artifacts/passkeys/` (ignored by git).
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { CDPSession, Page } from "playwright-core"
import { launch } from "../utils/Chromium.js"
import { type ExampleServer, root, startExampleServer } from "../utils/ExampleServer.js"

const artifacts = join(root, "test-artifacts", "passkeys")

describe("the sign-in page with a passkey, in Chromium", () => {
  let server: ExampleServer
  let browser: Awaited<ReturnType<typeof launch>>
  let page: Page
  let cdp: CDPSession
  let authenticatorId: string
  const email = `browser.${Date.now().toString(36)}@example.com`
  const password = "violet tugboat ladder quantum 42"

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true })
    server = await startExampleServer()
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
  }, 30_000)

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
  const credentials = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials

  it("registers, adds a passkey, logs out, signs in with it and removes it", async () => {
    // The page is on the origin passkeys are configured for by default: http://localhost:PORT.
    await page.goto(`http://localhost:${server.port}/`)
    await page.waitForSelector("#register-form")
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
})

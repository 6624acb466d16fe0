/**
 * A real browser for tests: Debian's Chromium (`/usr/bin/chromium`) driven by `playwright-core`, never a browser
 * download. When the binary is missing it is installed with `apt-get install -y chromium` (as `.ci/run` does), so
 * the README's test command passes on a fresh machine. Each launch gets a fresh profile directory.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium } from "playwright-core"

/** Where Debian's package puts the browser. */
export const executablePath = "/usr/bin/chromium"

/** The flags known to work on these machines (no sandbox as root, no GPU, no background traffic). */
export const launchFlags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** Installs Debian's chromium when it is missing (apt's lists refreshed once if the first try fails). */
export const ensureChromium = () => {
  if (existsSync(executablePath)) return
  const install = () => execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit" })
  try {
    install()
  } catch {
    execFileSync("apt-get", ["update"], { stdio: "inherit" })
    install()
  }
}

/** A browser with a fresh profile; `close` ends it and removes the profile. */
export const launch = async (): Promise<{ readonly context: BrowserContext; readonly close: () => Promise<void> }> => {
  ensureChromium()
  const profile = mkdtempSync(join(tmpdir(), "effect-users-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: launchFlags
  })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

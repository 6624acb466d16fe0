/**
 * A browser for OAuth flows: `fetch` with a cookie jar per host (Node's fetch has none) and no automatic
 * redirects, plus `signIn`, which walks an OpenID Provider's development login and consent pages.
 */
import { Effect } from "effect"

/** Undoes HTML escaping of an attribute value. */
const unescapeHtml = (text: string) =>
  text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, decimal: string) => String.fromCharCode(Number(decimal)))
    .replaceAll("&quot;", '"')
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&")

/** What a request answered, with its body read as text. */
export interface Page {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly location: string | undefined
}

/** A fresh browser: its own cookies. */
export const makeBrowser = () => {
  const jar = new Map<string, Map<string, string>>()
  const cookiesOf = (host: string) => {
    const cookies = jar.get(host) ?? new Map<string, string>()
    jar.set(host, cookies)
    return cookies
  }
  const store = (url: URL, headers: Headers) => {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";")
      const index = pair!.indexOf("=")
      const name = pair!.slice(0, index).trim()
      const value = pair!.slice(index + 1).trim()
      const expired = attributes.some((attribute) => {
        const [key, raw] = attribute.split("=").map((part) => part.trim())
        if (key?.toLowerCase() === "max-age") return Number(raw) <= 0
        if (key?.toLowerCase() === "expires") return new Date(raw!).getTime() <= Date.now()
        return false
      })
      if (expired || value === "") cookiesOf(url.host).delete(name)
      else cookiesOf(url.host).set(name, value)
    }
  }
  const request = (
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}
  ) =>
    Effect.promise(async (): Promise<Page> => {
      const target = new URL(url)
      const cookies = [...cookiesOf(target.host)].map(([name, value]) => `${name}=${value}`).join("; ")
      const response = await fetch(target, {
        method: init.method ?? (init.form === undefined ? "GET" : "POST"),
        redirect: "manual",
        headers: {
          ...(cookies === "" ? {} : { cookie: cookies }),
          ...(init.form === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
          ...init.headers
        },
        ...(init.form === undefined ? {} : { body: new URLSearchParams(init.form).toString() })
      })
      store(target, response.headers)
      const location = response.headers.get("location")
      return {
        status: response.status,
        headers: response.headers,
        text: await response.text(),
        location: location === null ? undefined : new URL(location, target).href
      }
    })

  /**
   * Opens the authorization URL and signs in as `login` on the provider's development pages (login, then
   * consent), following redirects until the provider sends the browser to `callbackPrefix`: by a redirect
   * (its URL) or, for `response_mode=form_post`, by an auto-submitting form (its action and fields).
   */
  const walk = (authorizationUrl: string, login: string, callbackPrefix: string) =>
    Effect.gen(function* () {
      const base = `http://${new URL(authorizationUrl).host}`
      let page = yield* request(authorizationUrl)
      for (let step = 0; step < 20; step++) {
        if (page.location !== undefined) {
          if (page.location.startsWith(callbackPrefix)) return { url: page.location, fields: undefined }
          page = yield* request(page.location)
          continue
        }
        const action = /action="([^"]+)"/.exec(page.text)?.[1]
        if (page.status !== 200 || action === undefined) {
          return yield* Effect.dieMessage(`sign-in stopped at ${page.status}: ${page.text.slice(0, 300)}`)
        }
        if (unescapeHtml(action).startsWith(callbackPrefix)) {
          const fields: Record<string, string> = {}
          for (const [, name, value] of page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
            fields[name!] = unescapeHtml(value!)
          }
          return { url: unescapeHtml(action), fields }
        }
        const form: Record<string, string> = page.text.includes('value="login"')
          ? { prompt: "login", login, password: "any password" }
          : { prompt: "consent" }
        page = yield* request(new URL(action, base).href, { form })
      }
      return yield* Effect.dieMessage("sign-in did not reach the callback")
    })

  /** `walk` for providers that redirect: the callback URL, unopened. */
  const signIn = (authorizationUrl: string, login: string, callbackPrefix: string) =>
    Effect.map(walk(authorizationUrl, login, callbackPrefix), ({ url }) => url)

  return { request, walk, signIn, cookies: (host: string) => cookiesOf(host) }
}

/**
 * Which requests a browser may have sent on another site's behalf (CSRF). A cookie travels with every request
 * the browser makes to our host, whoever's page made it; a bearer token never does. So a cookie counts as a
 * credential only on requests that come from an allowed origin: the server's own (the `Host` the request was
 * sent to) or one the app lists. `Origin` decides when present (browsers send it on every unsafe request);
 * without it, `Sec-Fetch-Site: cross-site` refuses. A request with neither (curl, a server) is not a browser's.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"

/**
 * Whether the method may change state (anything but GET, HEAD and OPTIONS): a cookie on such a request must
 * come from an allowed origin.
 *
 * @since 0.2.0
 */
export const isUnsafe = (method: string): boolean => method !== "GET" && method !== "HEAD" && method !== "OPTIONS"

/**
 * The serialized origins (`https://app.example.com`, `http://localhost:5173`) of a list of URLs or origins.
 * Throws on an entry that is not an http(s) URL, or that has a path, query or fragment: a typo there would
 * refuse the app's own front end, or let another one in.
 *
 * @since 0.2.0
 */
export const origins = (entries: ReadonlyArray<string>): ReadonlySet<string> => {
  const set = new Set<string>()
  for (const entry of entries) {
    const url = URL.canParse(entry) ? new URL(entry) : undefined
    if (
      url === undefined ||
      (url.protocol !== "https:" && url.protocol !== "http:") ||
      url.pathname !== "/" ||
      url.search !== "" ||
      url.hash !== "" ||
      url.username !== "" ||
      url.password !== ""
    ) {
      throw new Error(`allowedOrigins: ${JSON.stringify(entry)} is not an origin (scheme://host[:port])`)
    }
    set.add(url.origin)
  }
  return set
}

/**
 * Whether a browser sent this request for a page of another site: its `Origin` is neither one of `allowed` nor
 * the request's own host (`null` included), or, without an `Origin`, `Sec-Fetch-Site` says `cross-site`.
 *
 * @since 0.2.0
 */
export const isCrossSite = (request: HttpServerRequest.HttpServerRequest, allowed: ReadonlySet<string>): boolean => {
  const origin = request.headers.origin
  if (origin === undefined) return request.headers["sec-fetch-site"] === "cross-site"
  if (allowed.has(origin)) return false
  // The browser writes both headers: a page cannot make it send a `Host` other than the server it addresses.
  const host = request.headers.host
  return host === undefined || !URL.canParse(origin) || new URL(origin).host !== host.toLowerCase()
}

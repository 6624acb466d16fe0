/**
 * How a device token (see `DeviceTokens`) travels. A login answers it twice: as a cookie for browsers (`HttpOnly`,
 * `SameSite=Strict`, on the auth routes' path only) and in the `Device-Token` response header for bearer clients,
 * which send it back in a `Device-Token` request header on their next logins. A request may carry several: the
 * login takes the first that is valid for its account.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as DeviceTokens from "../DeviceTokens.js"

/**
 * The request and response header of a device token.
 *
 * @since 0.2.0
 */
export const header = "device-token"

/**
 * The device cookie's settings.
 *
 * @since 0.2.0
 */
export interface Options {
  /** Default "effectusersdevice". */
  readonly name?: string | undefined
  /** Default: the auth routes' prefix ("/auth"): the cookie goes to login routes only. */
  readonly path?: string | undefined
  readonly domain?: string | undefined
  /** Default true. */
  readonly secure?: boolean | undefined
}

/**
 * Reads a request's device token, and adds one to a login's response.
 *
 * @since 0.2.0
 */
export interface DeviceTransport {
  /**
   * Every device token the request carries: each value of the device cookie, in the Cookie header's order, then
   * the header. A browser may send several cookies of that name (another subdomain's `Domain=` cookie, or one on
   * a narrower path, comes first): reading only one would let whoever can plant a cookie hide the owner's device.
   */
  readonly read: (request: HttpServerRequest.HttpServerRequest) => ReadonlyArray<string>
  /** The response carrying the issued device token (a cookie, or a header). */
  readonly write: (
    response: HttpServerResponse.HttpServerResponse,
    issued: DeviceTokens.Issued
  ) => HttpServerResponse.HttpServerResponse
}

// Every value of the cookie `name` (`request.cookies` keeps one per name). The header's size bounds their number.
const cookieValues = (cookieHeader: string | undefined, name: string): Array<string> => {
  const values: Array<string> = []
  for (const pair of cookieHeader?.split(";") ?? []) {
    const equals = pair.indexOf("=")
    if (equals < 0 || pair.slice(0, equals).trim() !== name) continue
    const value = pair.slice(equals + 1).trim()
    if (value.length > 0) values.push(value)
  }
  return values
}

/**
 * The device cookie and header.
 *
 * @since 0.2.0
 */
export const make = (options: Options = {}): DeviceTransport => {
  const name = options.name ?? "effectusersdevice"
  const attributes = {
    path: options.path ?? "/auth",
    domain: options.domain,
    secure: options.secure ?? true,
    httpOnly: true,
    sameSite: "strict"
  } as const
  return {
    read: (request) => {
      const tokens = cookieValues(request.headers.cookie, name)
      const given = request.headers[header]
      return given === undefined || given.length === 0 ? tokens : [...tokens, given]
    },
    write: (response, issued) =>
      HttpServerResponse.unsafeSetCookie(
        HttpServerResponse.setHeader(response, header, issued.token),
        name,
        issued.token,
        { ...attributes, maxAge: issued.lifetime }
      )
  }
}

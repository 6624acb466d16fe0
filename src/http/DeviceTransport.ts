/**
 * How a device token (see `DeviceTokens`) travels. A login answers it twice: as a cookie for browsers (`HttpOnly`,
 * `SameSite=Strict`, on the auth routes' path only) and in the `Device-Token` response header for bearer clients,
 * which send it back in a `Device-Token` request header on their next logins. A request may carry either; the
 * cookie wins when both are there.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Option from "effect/Option"
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
  readonly read: (request: HttpServerRequest.HttpServerRequest) => Option.Option<string>
  readonly write: (
    response: HttpServerResponse.HttpServerResponse,
    issued: DeviceTokens.Issued
  ) => HttpServerResponse.HttpServerResponse
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
  const present = (value: string | undefined) =>
    value === undefined || value.length === 0 ? Option.none() : Option.some(value)
  return {
    read: (request) => Option.orElse(present(request.cookies[name]), () => present(request.headers[header])),
    write: (response, issued) =>
      HttpServerResponse.unsafeSetCookie(
        HttpServerResponse.setHeader(response, header, issued.token),
        name,
        issued.token,
        { ...attributes, maxAge: issued.lifetime }
      )
  }
}

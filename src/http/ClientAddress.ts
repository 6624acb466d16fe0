/**
 * The client a request comes from, as the throttle keys it: the socket's peer address, unless the app says
 * which proxies it trusts. `X-Forwarded-For` is never read by default, since every client can send one.
 */
import { BlockList, isIPv4, isIPv6 } from "node:net"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Option from "effect/Option"

/**
 * Which proxies may name the client in `X-Forwarded-For`: an explicit list of addresses and CIDR ranges
 * (`"10.0.0.0/8"`, `"::1"`), or the number of proxies in front of the server (`{ hops: 1 }` behind one load
 * balancer). The default, none, keys every request by its socket address.
 *
 * @since 0.1.0
 */
export type TrustedProxies = { readonly addresses: ReadonlyArray<string> } | { readonly hops: number }

/**
 * Reads the client key of a request.
 *
 * @since 0.1.0
 */
export type ClientKey = (request: HttpServerRequest.HttpServerRequest) => string

const mappedV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i

/** An address as one spelling: IPv4-mapped IPv6 as IPv4, IPv6 expanded, lower case; not an IP as given. */
const canonical = (address: string): string => {
  const trimmed = address.trim().replace(/^\[|\]$/g, "")
  const v4 = mappedV4.exec(trimmed)
  if (v4) return v4[1]!
  return isIPv6(trimmed) ? expand(trimmed) : trimmed
}

// Eight groups of four hex digits (an embedded IPv4 tail as two groups).
const expand = (address: string): string => {
  let text = address.toLowerCase().split("%")[0]!
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, rest] = text.split("::") as [string, string | undefined]
  const left = head === "" ? [] : head.split(":")
  const right = rest === undefined || rest === "" ? [] : rest.split(":")
  const missing = rest === undefined ? [] : Array(8 - left.length - right.length).fill("0")
  return [...left, ...missing, ...right].map((group) => group.padStart(4, "0")).join(":")
}

/**
 * The key of an address: an IPv4 address as is, an IPv6 address by its /64 (one subscriber's network: a client
 * that owns a /64 must not get a fresh limit per address in it).
 *
 * @since 0.1.0
 */
export const keyOf = (address: string): string => {
  const text = canonical(address)
  return isIPv6(text) ? `${text.split(":").slice(0, 4).join(":")}::/64` : text
}

const socketAddress = (request: HttpServerRequest.HttpServerRequest): string => {
  // The socket's own peer, not `remoteAddress`, which `HttpMiddleware.xForwardedHeaders` may have overridden.
  // On a Node server `source` is the `IncomingMessage` (what `NodeHttpServerRequest.toIncomingMessage` returns).
  const peer = (request.source as { socket?: { remoteAddress?: string } } | undefined)?.socket?.remoteAddress
  return peer ?? Option.getOrElse(request.remoteAddress, () => "unknown")
}

const forwardedFor = (request: HttpServerRequest.HttpServerRequest): Array<string> => {
  const header = request.headers["x-forwarded-for"]
  if (header === undefined || header === "") return []
  return header
    .split(",")
    .map((entry) => canonical(entry))
    .filter((entry) => isIPv4(entry) || isIPv6(entry))
}

/**
 * The client key reader for these trusted proxies (none by default).
 *
 * @since 0.1.0
 */
export const make = (proxies?: TrustedProxies | undefined): ClientKey => {
  if (proxies === undefined) return (request) => keyOf(socketAddress(request))
  if ("hops" in proxies) {
    const hops = Math.max(0, Math.floor(proxies.hops))
    return (request) => {
      // Each trusted proxy appends the address it received the request from; the last `hops` entries of the
      // chain (the socket's peer included) are ours, the one before them is the client.
      const chain = [...forwardedFor(request), canonical(socketAddress(request))]
      return keyOf(chain[Math.max(0, chain.length - 1 - hops)]!)
    }
  }
  const trusted = new BlockList()
  for (const entry of proxies.addresses) {
    const [address, bits] = entry.split("/") as [string, string | undefined]
    const plain = canonical(address)
    const family = isIPv6(plain) ? "ipv6" : "ipv4"
    if (bits === undefined) trusted.addAddress(plain, family)
    else trusted.addSubnet(plain, Number(bits), family)
  }
  const isTrusted = (address: string) =>
    isIPv6(address) ? trusted.check(address, "ipv6") : isIPv4(address) && trusted.check(address, "ipv4")
  return (request) => {
    const peer = canonical(socketAddress(request))
    if (!isTrusted(peer)) return keyOf(peer)
    // From the right, skipping our proxies: the first address we do not trust is the client.
    const chain = forwardedFor(request)
    for (let i = chain.length - 1; i >= 0; i--) if (!isTrusted(chain[i]!)) return keyOf(chain[i]!)
    return keyOf(chain[0] ?? peer)
  }
}

import { HttpServerRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { ClientAddress } from "effect-users/http"

const requestFrom = (socket: string, forwardedFor?: string) =>
  HttpServerRequest.fromWeb(
    new Request("http://app.test/auth/jwt/login", {
      headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor }
    })
  ).modify({ remoteAddress: socket })

describe("ClientAddress", () => {
  it("by default the socket's address, whatever X-Forwarded-For says", () => {
    const key = ClientAddress.make()
    assert.strictEqual(key(requestFrom("198.51.100.4", "1.2.3.4")), "198.51.100.4")
    assert.strictEqual(key(requestFrom("::ffff:198.51.100.4")), "198.51.100.4")
  })

  it("IPv6 clients are keyed by their /64, in one spelling", () => {
    const key = ClientAddress.make()
    const a = key(requestFrom("2001:db8:85a3::8a2e:370:7334"))
    assert.strictEqual(a, "2001:0db8:85a3:0000::/64")
    assert.strictEqual(key(requestFrom("2001:DB8:85A3:0:ffff::1")), a)
    assert.notStrictEqual(key(requestFrom("2001:db8:85a3:1::1")), a)
  })

  it("trusted addresses: the rightmost untrusted entry of the chain, only when the socket is trusted", () => {
    const key = ClientAddress.make({ addresses: ["10.0.0.0/8", "fd00::/8", "192.0.2.1"] })
    assert.strictEqual(key(requestFrom("10.0.0.5", "6.6.6.6, 198.51.100.4, 10.9.9.9")), "198.51.100.4")
    assert.strictEqual(key(requestFrom("192.0.2.1", "198.51.100.4")), "198.51.100.4")
    assert.strictEqual(key(requestFrom("fd00::1", "198.51.100.4")), "198.51.100.4")
    // An untrusted socket's header is ignored; so is garbage in the chain.
    assert.strictEqual(key(requestFrom("203.0.113.7", "198.51.100.4")), "203.0.113.7")
    assert.strictEqual(key(requestFrom("10.0.0.5", "not-an-ip, 198.51.100.4")), "198.51.100.4")
    // Only our proxies in the chain: the leftmost one is what reached the first of them.
    assert.strictEqual(key(requestFrom("10.0.0.5", "10.0.0.7")), "10.0.0.7")
  })

  it("hop count: the entry that many hops from the socket", () => {
    const one = ClientAddress.make({ hops: 1 })
    assert.strictEqual(one(requestFrom("10.0.0.5", "6.6.6.6, 198.51.100.4")), "198.51.100.4")
    const two = ClientAddress.make({ hops: 2 })
    assert.strictEqual(two(requestFrom("10.0.0.5", "6.6.6.6, 198.51.100.4, 10.0.0.9")), "198.51.100.4")
    // A shorter chain than the hops (a request that skipped a proxy): the leftmost address there is.
    assert.strictEqual(two(requestFrom("10.0.0.5")), "10.0.0.5")
  })
})

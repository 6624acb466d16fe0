/**
 * `npm run bench:http`'s login load generator, in a process of its own (as autocannon's CLI runs for the other
 * figures): `POST /auth/jwt/login` on `connections` connections for `duration` seconds, each request for the next
 * of `accounts` accounts in turn (one account under concurrent logins would meet its own per-account back-off),
 * and with `forwardedFor` a fresh `X-Forwarded-For` client per request (a server that trusts the loopback proxy
 * then counts every request against a client limit of its own, and refuses none). Prints autocannon's result
 * as JSON. Usage: node bench/loginLoad.mjs '{"url":…,"connections":10,"duration":5,"accounts":[…],"password":…}'
 */
import autocannon from "autocannon"

const { url, connections, duration, accounts, password, forwardedFor } = JSON.parse(process.argv[2])

let sent = 0
/** The n-th client's address, in 10.0.0.0/8 (16 million before it repeats). */
const client = (n) => `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`

const result = await autocannon({
  url,
  connections,
  duration,
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  requests: [
    {
      setupRequest: (request) => {
        const n = sent++
        const body = new URLSearchParams({ username: accounts[n % accounts.length], password }).toString()
        const headers = forwardedFor ? { ...request.headers, "x-forwarded-for": client(n) } : request.headers
        return { ...request, headers, body }
      }
    }
  ]
})
process.stdout.write(JSON.stringify(result))

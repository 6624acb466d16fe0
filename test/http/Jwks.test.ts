/**
 * Asymmetric access tokens over HTTP: the example app with a `JwtKeySet` serves its public keys at
 * `/.well-known/jwks.json`, and another service verifies our access tokens with jose's `createRemoteJWKSet`
 * against that route on a real server.
 */
import { HttpServer } from "@effect/platform"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { JwtKeySet } from "effect-users"
import * as jose from "jose"
import { authSecret, makeServer, request } from "../utils/HttpTest.js"
import { signJwt } from "../utils/Jwt.js"

const password = "correct-horse-battery"
const now = Math.floor(Date.now() / 1000)
const keyPair = async (alg: "ES256" | "EdDSA") => {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true })
  return Redacted.make(await jose.exportPKCS8(privateKey))
}
const [previousKey, currentKey] = await Promise.all([keyPair("ES256"), keyPair("EdDSA")])
const until = new Date(Date.now() + 60 * 60 * 1000)
const keySet = JwtKeySet.layer({
  signing: { privateKey: currentKey, kid: "2026-02" },
  verifying: [{ key: previousKey, kid: "2026-01", until }]
})
/** A token the previous key signed before the rotation. */
const previous = Effect.runSync(
  Effect.cached(JwtKeySet.make({ signing: { privateKey: previousKey, kid: "2026-01" } }).pipe(Effect.orDie))
)

const jwksUrl = Effect.map(HttpServer.HttpServer, (server) => {
  const { port } = server.address as HttpServer.TcpAddress
  return new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`)
})

const login = (email: string) =>
  Effect.gen(function* () {
    const registered = yield* request("/auth/register", { json: { email, password } })
    assert.strictEqual(registered.status, 201)
    const reply = yield* request("/auth/jwt/login", { form: { username: email, password } })
    assert.strictEqual(reply.status, 200)
    return { id: registered.body.id as string, token: reply.body.access_token as string }
  })

const me = (token: string) =>
  Effect.map(request("/users/me", { headers: { authorization: `Bearer ${token}` } }), (reply) => reply.status)

describe("JWKS", () => {
  layer(makeServer(SqliteClient.layer({ filename: ":memory:" }), { keySet }).layer, { excludeTestServices: true })(
    "an app with a JwtKeySet",
    (it) => {
      it.effect("serves the current and still-verifying public keys, cacheable, without private parts", () =>
        Effect.gen(function* () {
          const reply = yield* request("/.well-known/jwks.json")
          assert.strictEqual(reply.status, 200)
          assert.strictEqual(reply.headers.get("cache-control"), "public, max-age=300")
          assert.include(reply.headers.get("content-type") ?? "", "application/json")
          assert.deepStrictEqual(
            reply.body.keys.map((key: jose.JWK) => [key.kid, key.alg, key.kty, key.crv, key.use]),
            [
              ["2026-02", "EdDSA", "OKP", "Ed25519", "sig"],
              ["2026-01", "ES256", "EC", "P-256", "sig"]
            ]
          )
          for (const key of reply.body.keys) assert.notProperty(key, "d")
          const openApi = yield* request("/openapi.json")
          assert.property(openApi.body.paths, "/.well-known/jwks.json")
        })
      )

      it.effect("another service verifies our access tokens with createRemoteJWKSet; so do we", () =>
        Effect.gen(function* () {
          const { id, token } = yield* login("lancelot@camelot.bt")
          const header = jose.decodeProtectedHeader(token)
          assert.deepStrictEqual(header, { alg: "EdDSA", kid: "2026-02", typ: "JWT" })
          const remote = jose.createRemoteJWKSet(yield* jwksUrl)
          const { payload } = yield* Effect.promise(() =>
            jose.jwtVerify(token, remote, { audience: "effect-users:auth", algorithms: ["EdDSA", "ES256"] })
          )
          assert.strictEqual(payload.sub, id)
          assert.strictEqual(yield* me(token), 200)
          // A token the previous key signed: still accepted here and by the other service, until `until`.
          const old = yield* (yield* previous).codec.sign(
            { sub: id },
            { secret: Redacted.make(""), audience: ["effect-users:auth"], lifetime: "10 minutes" }
          )
          assert.strictEqual(yield* me(old), 200)
          const verified = yield* Effect.promise(() => jose.jwtVerify(old, remote, { audience: "effect-users:auth" }))
          assert.strictEqual(verified.payload.sub, id)
        })
      )

      it.effect("an HS256 token signed with the app's secret, or with the public key, is 401", () =>
        Effect.gen(function* () {
          const { id } = yield* login("gawain@camelot.bt")
          const claims = { sub: id, aud: ["effect-users:auth"], exp: now + 600 }
          assert.strictEqual(yield* me(signJwt(claims, authSecret)), 401)
          const jwks = (yield* request("/.well-known/jwks.json")).body
          assert.strictEqual(yield* me(signJwt(claims, JSON.stringify(jwks.keys[0]))), 401)
        })
      )
    }
  )

  layer(makeServer(SqliteClient.layer({ filename: ":memory:" })).layer, { excludeTestServices: true })(
    "the default app (HS256)",
    (it) => {
      it.effect("has no JWKS route, and its tokens stay HS256 with no kid", () =>
        Effect.gen(function* () {
          assert.strictEqual((yield* request("/.well-known/jwks.json")).status, 404)
          const { token } = yield* login("percival@camelot.bt")
          assert.deepStrictEqual(jose.decodeProtectedHeader(token), { alg: "HS256", typ: "JWT" })
          assert.strictEqual(yield* me(token), 200)
        })
      )
    }
  )
})

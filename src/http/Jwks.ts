/**
 * `GET /.well-known/jwks.json`: the public keys of the app's `JwtKeySet` (the current one and those that
 * still verify), so that other services verify our access tokens without a secret (e.g. with jose's
 * `createRemoteJWKSet`). An app adds `Jwks.Group` to its `HttpApi` and `Jwks.layer(api)` to its
 * implementation; that layer needs a `JwtKeySet`, so a JWKS route cannot be served without a key set.
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { JwtKeySet } from "../JwtKeySet.js"

/**
 * One public key (RFC 7517), as the route lists it.
 *
 * @since 0.1.0
 */
export const PublicJwk = Schema.Struct({
  kty: Schema.String,
  crv: Schema.String,
  x: Schema.String,
  y: Schema.optional(Schema.String),
  kid: Schema.String,
  alg: Schema.Literal("ES256", "EdDSA"),
  use: Schema.Literal("sig")
})

/**
 * The JSON Web Key Set the route answers.
 *
 * @since 0.1.0
 */
export const JsonWebKeySet = Schema.Struct({ keys: Schema.Array(PublicJwk) }).annotations({
  identifier: "JsonWebKeySet"
})

/**
 * The group: `GET /.well-known/jwks.json`, public, answering the key set.
 *
 * @since 0.1.0
 */
export class Group extends HttpApiGroup.make("jwks").add(
  HttpApiEndpoint.get("jwks", "/.well-known/jwks.json")
    .addSuccess(JsonWebKeySet)
    .annotate(OpenApi.Summary, "The public keys that verify this service's access tokens")
) {}

/**
 * Options of `layer`.
 *
 * @since 0.1.0
 */
export interface Options {
  /** How long clients may cache the key set (`Cache-Control: public, max-age`); default 5 minutes. */
  readonly maxAge?: Duration.DurationInput | undefined
}

/**
 * Implements `Group` in the app's API (which must contain it) from the `JwtKeySet` in context.
 *
 * @since 0.1.0
 */
export const layer = <ApiId extends string, G extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<ApiId, G, E, R> & ([typeof Group] extends [G] ? unknown : "the API must declare Jwks.Group"),
  options: Options = {}
): Layer.Layer<HttpApiGroup.ApiGroup<ApiId, "jwks">, never, JwtKeySet> => {
  const headers = {
    "cache-control": `public, max-age=${Math.floor(Duration.toSeconds(options.maxAge ?? "5 minutes"))}`
  }
  // The one cast: `G` is the app's other groups, which this handler never sees.
  const erased: HttpApi.HttpApi.Any = api
  const withJwks = erased as HttpApi.HttpApi<ApiId, typeof Group, E, R>
  return HttpApiBuilder.group(withJwks, "jwks", (handlers) =>
    Effect.map(JwtKeySet, (keys) =>
      handlers.handle("jwks", () => Effect.map(keys.jwks, (jwks) => HttpServerResponse.unsafeJson(jwks, { headers })))
    )
  )
}

/** JWTs built without our codec, for tests that need real tokens the server did not issue. */
import { createHmac } from "node:crypto"

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/** The claims of a JWT, decoded without checking anything (`exp` is trusted to be there). */
export const payloadOf = (token: string): Record<string, unknown> & { readonly exp: number } =>
  JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString())

/** A real HS256 JWT with these claims, signed with `secret`. */
export const signJwt = (claims: Record<string, unknown>, secret: string) => {
  const input = `${base64url({ alg: "HS256", typ: "JWT" })}.${base64url(claims)}`
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`
}

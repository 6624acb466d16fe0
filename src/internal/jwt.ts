/**
 * The parts of reading a JWS compact token that every codec shares: the size bound, the split, the header,
 * the canonical signature, and the registered claims (`exp`, `nbf`, `aud`). A refusal is its reason.
 */
import * as Either from "effect/Either"

/** The longest token a codec reads (8 KiB); longer ones are refused before they are split or decoded. */
export const maxTokenLength = 8192

/** A JSON object as one base64url part. */
export const encodeJson = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url")

/** JSON text that is an object, or undefined (never a parse error, whose message would quote the text). */
export const parseObject = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

const decodeJson = (part: string) => parseObject(Buffer.from(part, "base64url").toString("utf8"))

const base64url = /^[A-Za-z0-9_-]*$/

const isFiniteNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value)

/** A token split into its parts, its header decoded, its signature bytes read; nothing is verified yet. */
export interface Jws {
  readonly header: Readonly<Record<string, unknown>>
  /** `header.payload`, the bytes the signature covers. */
  readonly signingInput: string
  readonly payload: string
  readonly signature: Buffer
}

/** Splits a token: at most `maxTokenLength` characters, three base64url parts, an object header. */
export const decode = (token: string): Either.Either<Jws, string> => {
  if (token.length > maxTokenLength) return Either.left("too long")
  const parts = token.split(".")
  if (parts.length !== 3 || !parts.every((part) => base64url.test(part))) return Either.left("malformed")
  const [encodedHeader, payload, encodedSignature] = parts as [string, string, string]
  const header = decodeJson(encodedHeader)
  if (header === undefined) return Either.left("malformed")
  const signature = Buffer.from(encodedSignature, "base64url")
  // Base64url text whose last character carries bits the decoder drops: re-encoding gives other text.
  if (signature.toString("base64url") !== encodedSignature) return Either.left("malformed")
  return Either.right({ header, signingInput: `${encodedHeader}.${payload}`, payload, signature })
}

/** Whether the header names this algorithm and no extension the codec would have to understand (`crit`). */
export const allows = (header: Jws["header"], algorithm: string): boolean =>
  header.alg === algorithm && !("crit" in header)

/** The payload's claims: a finite `exp` after `now`, a finite `nbf` not after it, an accepted `aud`. */
export const claims = (
  jws: Jws,
  nowMillis: number,
  audience: string | ReadonlyArray<string>
): Either.Either<Readonly<Record<string, unknown>>, string> => {
  const claims = decodeJson(jws.payload)
  if (claims === undefined) return Either.left("malformed")
  const seconds = Math.floor(nowMillis / 1000)
  if (!isFiniteNumber(claims.exp)) return Either.left("invalid claim exp")
  if (claims.exp <= seconds) return Either.left("expired")
  if (claims.nbf !== undefined && (!isFiniteNumber(claims.nbf) || claims.nbf > seconds)) {
    return Either.left("invalid claim nbf")
  }
  const accepted = typeof audience === "string" ? [audience] : audience
  const aud = typeof claims.aud === "string" ? [claims.aud] : claims.aud
  if (!Array.isArray(aud) || !aud.some((value) => accepted.includes(value))) return Either.left("invalid claim aud")
  return Either.right(claims)
}

/** The payload of a new token: the claims, `aud`, and `exp` = now + lifetime in whole seconds. */
export const payload = (
  claims: Readonly<Record<string, unknown>>,
  audience: string | ReadonlyArray<string>,
  expiresAtMillis: number
): string =>
  encodeJson({
    ...claims,
    aud: typeof audience === "string" ? audience : [...audience],
    exp: Math.floor(expiresAtMillis / 1000)
  })

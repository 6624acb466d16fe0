/**
 * A software WebAuthn authenticator for tests: ES256 key pairs from `node:crypto`, attestation `none`, the
 * attestation object and authenticator data encoded here (a small CBOR encoder), flags UP/UV/BE/BS and a signature
 * counter per credential. It answers the JSON options the server sends with WebAuthn's JSON responses, as a
 * browser would, for the origin and RP ID it is given (or others, to test refusals).
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto"

type Cbor = number | string | Uint8Array | ReadonlyArray<Cbor> | ReadonlyMap<Cbor, Cbor>

const head = (major: number, length: number): Buffer => {
  if (length < 24) return Buffer.from([(major << 5) | length])
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length])
  if (length < 0x10000) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff])
  const out = Buffer.alloc(5)
  out[0] = (major << 5) | 26
  out.writeUInt32BE(length, 1)
  return out
}

/** CBOR (RFC 8949) of integers, byte strings, text strings, arrays and maps: what WebAuthn's structures use. */
export const cbor = (value: Cbor): Buffer => {
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value)
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8")
    return Buffer.concat([head(3, bytes.length), bytes])
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value])
  if (value instanceof Map) {
    const entries = [...value.entries()].flatMap(([key, item]) => [cbor(key), cbor(item)])
    return Buffer.concat([head(5, value.size), ...entries])
  }
  const items = value as ReadonlyArray<Cbor>
  return Buffer.concat([head(4, items.length), ...items.map(cbor)])
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url")
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest()

/** Authenticator data flags. */
export const Flags = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const

/** A credential the authenticator holds (a resident key). */
export interface SoftCredential {
  readonly id: Buffer
  readonly rpId: string
  readonly userHandle: string
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  counter: number
}

/** What a ceremony may change to test refusals. */
export interface Overrides {
  readonly origin?: string
  readonly rpId?: string
  readonly challenge?: string
  readonly userVerified?: boolean
  readonly type?: string
  /** The counter to sign with (default: the credential's, plus one). */
  readonly counter?: number
  /** Which credential answers a sign-in (default the first for the RP ID). */
  readonly credential?: SoftCredential
}

/** The COSE_Key (EC2, ES256, P-256) of a public key. */
const coseKey = (publicKey: KeyObject) => {
  const jwk = publicKey.export({ format: "jwk" })
  return cbor(
    new Map<Cbor, Cbor>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x!, "base64url")],
      [-3, Buffer.from(jwk.y!, "base64url")]
    ])
  )
}

const counterBytes = (counter: number) => {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(counter, 0)
  return out
}

/** A fresh authenticator for `origin` and `rpId`. */
export const makeSoftAuthenticator = (defaults: {
  readonly origin: string
  readonly rpId: string
  /** Set UV (user verified); default true. */
  readonly userVerified?: boolean
  /** Set BE and BS (a synced passkey); default false. */
  readonly backedUp?: boolean
  /** The counter a new credential starts at; default 0 (its first sign-in signs 1). */
  readonly initialCounter?: number
}) => {
  const credentials: Array<SoftCredential> = []
  const flagsOf = (userVerified: boolean, attested: boolean) =>
    Flags.UP | (userVerified ? Flags.UV : 0) | (defaults.backedUp ? Flags.BE | Flags.BS : 0) | (attested ? Flags.AT : 0)
  const clientData = (type: string, challenge: string, origin: string) =>
    Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), "utf8")

  /** Answers `navigator.credentials.create` for these creation options (JSON). */
  // biome-ignore lint/suspicious/noExplicitAny: WebAuthn's JSON options as the server sent them
  const create = (options: any, overrides: Overrides = {}) => {
    const rpId = overrides.rpId ?? options.rp?.id ?? defaults.rpId
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
    const credential: SoftCredential = {
      id: randomBytes(32),
      rpId,
      userHandle: options.user.id,
      privateKey,
      publicKey,
      counter: defaults.initialCounter ?? 0
    }
    const attested = Buffer.concat([
      Buffer.alloc(16),
      Buffer.from([credential.id.length >> 8, credential.id.length & 0xff]),
      credential.id,
      coseKey(publicKey)
    ])
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([flagsOf(overrides.userVerified ?? defaults.userVerified ?? true, true)]),
      counterBytes(credential.counter),
      attested
    ])
    const attestationObject = cbor(
      new Map<Cbor, Cbor>([
        ["fmt", "none"],
        ["attStmt", new Map()],
        ["authData", authData]
      ])
    )
    credentials.push(credential)
    return {
      credential,
      response: {
        id: b64(credential.id),
        rawId: b64(credential.id),
        type: "public-key",
        response: {
          clientDataJSON: b64(
            clientData(
              overrides.type ?? "webauthn.create",
              overrides.challenge ?? options.challenge,
              overrides.origin ?? defaults.origin
            )
          ),
          attestationObject: b64(attestationObject),
          transports: ["internal"]
        },
        authenticatorAttachment: "platform",
        clientExtensionResults: {}
      }
    }
  }

  /** Answers `navigator.credentials.get` for these request options (JSON), with a resident key of the RP. */
  // biome-ignore lint/suspicious/noExplicitAny: WebAuthn's JSON options as the server sent them
  const get = (options: any, overrides: Overrides = {}) => {
    const rpId = overrides.rpId ?? options.rpId ?? defaults.rpId
    // The credentials the options allow (a known user's), else any of the RP (usernameless).
    const allowed: ReadonlyArray<string> = (options.allowCredentials ?? []).map((each: { id: string }) => each.id)
    const credential =
      overrides.credential ??
      credentials.find(
        (each) =>
          each.rpId === (options.rpId ?? defaults.rpId) && (allowed.length === 0 || allowed.includes(b64(each.id)))
      )
    if (credential === undefined) throw new Error("no credential for this RP ID")
    const counter = overrides.counter ?? credential.counter + 1
    credential.counter = Math.max(credential.counter, counter)
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([flagsOf(overrides.userVerified ?? defaults.userVerified ?? true, false)]),
      counterBytes(counter)
    ])
    const clientDataJSON = clientData(
      overrides.type ?? "webauthn.get",
      overrides.challenge ?? options.challenge,
      overrides.origin ?? defaults.origin
    )
    const signature = sign("sha256", Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey)
    return {
      id: b64(credential.id),
      rawId: b64(credential.id),
      type: "public-key",
      response: {
        clientDataJSON: b64(clientDataJSON),
        authenticatorData: b64(authData),
        signature: b64(signature),
        userHandle: credential.userHandle
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {}
    }
  }

  return { create, get, credentials }
}

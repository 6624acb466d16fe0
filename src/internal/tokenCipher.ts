/**
 * Encryption at rest of provider tokens (and of a refresh token's successor during its grace window): AES-256-GCM
 * under a key derived (HKDF-SHA256) from a secret.
 * A stored value reads `enc:v1:<base64url(iv | ciphertext | tag)>`; a value without that prefix (written
 * before encryption was turned on, or by FastAPI Users) reads as is.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto"
import * as Redacted from "effect/Redacted"

const prefix = "enc:v1:"

/** Encrypts and decrypts token columns. */
export interface TokenCipher {
  readonly encrypt: (plain: string) => string
  readonly decrypt: (stored: string) => string
}

/** A cipher keyed by `secret` (at least 32 bytes, checked by the caller); `purpose` separates the keys of two uses. */
export const make = (secret: Redacted.Redacted<string>, purpose = "effect-users:oauth-token"): TokenCipher => {
  const key = Buffer.from(hkdfSync("sha256", Redacted.value(secret), "", purpose, 32))
  return {
    encrypt: (plain) => {
      const iv = randomBytes(12)
      const cipher = createCipheriv("aes-256-gcm", key, iv)
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()])
      return prefix + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url")
    },
    decrypt: (stored) => {
      if (!stored.startsWith(prefix)) return stored
      const raw = Buffer.from(stored.slice(prefix.length), "base64url")
      const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12))
      decipher.setAuthTag(raw.subarray(raw.length - 16))
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString("utf8")
    }
  }
}

/** Stores tokens as given. */
export const plain: TokenCipher = { encrypt: (value) => value, decrypt: (value) => value }

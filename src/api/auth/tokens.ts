// Bearer tokens: 32 random bytes (256 bits) in base64url with a `tl_` prefix, so a leaked token
// is easy to grep for. Only the SHA-256 of a token is stored; hashing is enough (no salt or
// slow hash) because the token is random, not a human's password.
import { createHash, randomBytes } from 'node:crypto'

export const SESSION_TTL_MS = 7 * 24 * 3600 * 1000
/** The first-start admin link is valid for a day and for one exchange. */
export const LOGIN_LINK_TTL_MS = 24 * 3600 * 1000

export function newToken(): string {
  return `tl_${randomBytes(32).toString('base64url')}`
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** "Bearer abc" → "abc"; anything else → null. */
export function bearer(header: string | null | undefined): string | null {
  if (!header) return null
  const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(header)
  return m ? m[1]! : null
}

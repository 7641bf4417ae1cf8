// Sessions: a random bearer token per login, stored as its SHA-256 with an expiry. The first-start
// admin gets a one-time "login link" token of the same kind, exchanged once for a session.
import type { Sql } from '../../db/connect'
import { ApiError, unauthorized } from '../errors'
import { announceEnded, cachedUser, type Ended, forget, rememberUser } from './token-cache'
import { hashToken, LOGIN_LINK_TTL_MS, newToken, SESSION_TTL_MS } from './tokens'
import { createUser, NO_PASSWORD, type User } from './users'

export interface Session {
  session_token: string
  expires_at: Date
  user: User
}

export async function openSession(
  sql: Sql,
  user: User,
  kind: 'session' | 'login_link' = 'session',
): Promise<Session> {
  const token = newToken()
  const ttl = kind === 'session' ? SESSION_TTL_MS : LOGIN_LINK_TTL_MS
  const [row] = await sql<{ expires_at: Date }[]>`
    INSERT INTO sessions (token_hash, user_id, expires_at, kind)
    VALUES (${hashToken(token)}, ${user.id}, now() + ${ttl} * interval '1 millisecond', ${kind})
    RETURNING expires_at`
  return { session_token: token, expires_at: row!.expires_at, user }
}

/**
 * The user behind a session token, or null. A verified token is remembered for 5 s
 * (token-cache.ts); last_used_at is written at most once a minute per session, so reads do not
 * turn every request into a write.
 */
export async function userOfToken(sql: Sql, token: string): Promise<User | null> {
  const hash = hashToken(token)
  const hit = cachedUser(sql, hash)
  if ('user' in hit) return hit.user
  const [row] = await sql<(User & { last_used_at: Date; expires_at: Date })[]>`
    SELECT u.id, u.username, u.email, u.role, u.created_at, s.last_used_at, s.expires_at
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = ${hash} AND s.kind = 'session' AND s.expires_at > now()`
  if (!row) return null
  if (Date.now() - row.last_used_at.getTime() > 60_000)
    await sql`UPDATE sessions SET last_used_at = now() WHERE token_hash = ${hash}`
  const { last_used_at: _, expires_at, ...user } = row
  rememberUser(sql, hash, user, expires_at, hit.epoch)
  return user
}

export async function closeSession(sql: Sql, token: string): Promise<void> {
  const hash = hashToken(token)
  const ended: Ended = { hashes: [hash] }
  await sql.begin(async (tx) => {
    await tx`DELETE FROM sessions WHERE token_hash = ${hash}`
    await announceEnded(tx, ended)
  })
  forget(sql, ended)
}

export async function closeAllSessions(sql: Sql, userId: string): Promise<number> {
  const ended: Ended = { user: userId }
  const n = (await sql.begin(async (tx) => {
    const gone = await tx`DELETE FROM sessions WHERE user_id = ${userId} AND kind = 'session' RETURNING 1`
    await announceEnded(tx, ended)
    return gone.length
  })) as number
  forget(sql, ended)
  return n
}

/** A fresh token with a fresh expiry; the old token stops working in the same transaction. */
export async function refreshSession(sql: Sql, token: string, user: User): Promise<Session> {
  const hash = hashToken(token)
  const session = (await sql.begin(async (tx) => {
    const gone = await tx`DELETE FROM sessions WHERE token_hash = ${hash} AND kind = 'session' RETURNING 1`
    if (gone.length === 0) throw unauthorized('The session has expired or was logged out.')
    await announceEnded(tx, { hashes: [hash] })
    return openSession(tx as unknown as Sql, user)
  })) as Session
  forget(sql, { hashes: [hash] })
  return session
}

/** Exchanges a one-time login link token for a session; the link is spent either way. */
export async function exchangeLoginLink(sql: Sql, token: string): Promise<Session> {
  const [row] = await sql<User[]>`
    WITH spent AS (
      DELETE FROM sessions WHERE token_hash = ${hashToken(token)} AND kind = 'login_link' RETURNING user_id, expires_at
    )
    SELECT u.id, u.username, u.email, u.role, u.created_at
    FROM spent JOIN users u ON u.id = spent.user_id WHERE spent.expires_at > now()`
  if (!row) throw new ApiError(401, 'INVALID_LOGIN_LINK', 'This login link was already used or has expired.')
  return openSession(sql, row)
}

/**
 * On first start with no admin: create one (no password: it logs in through the link, then may set
 * one with POST /auth/password) and return a one-time login link token. Until that admin has set a
 * password, each start issues a fresh link (the old ones stop working), so a restart before the
 * first login does not lock the admin out. An advisory lock keeps two processes starting at once
 * from creating two admins.
 */
export async function bootstrapAdmin(sql: Sql): Promise<{ user: User; token: string } | null> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(7461730003)`
    const t = tx as unknown as Sql
    const admins = await tx<(User & { password_hash: string })[]>`
      SELECT id, username, email, role, created_at, password_hash FROM users WHERE role = 'admin' ORDER BY created_at`
    let user: User
    if (admins.length === 0) {
      const [taken] = await tx`SELECT 1 FROM users WHERE lower(username) = 'admin'`
      const username = taken ? `admin_${crypto.randomUUID().slice(0, 8)}` : 'admin'
      user = await createUser(t, {
        username,
        email: `${username}@tasklab.local`,
        password: null,
        role: 'admin',
      })
    } else {
      const waiting = admins.length === 1 && admins[0]!.password_hash === NO_PASSWORD ? admins[0]! : undefined
      if (!waiting) return null
      const { password_hash: _, ...rest } = waiting
      user = rest
      await tx`DELETE FROM sessions WHERE user_id = ${user.id} AND kind = 'login_link'`
    }
    const link = await openSession(t, user, 'login_link')
    return { user, token: link.session_token }
  }) as Promise<{ user: User; token: string } | null>
}

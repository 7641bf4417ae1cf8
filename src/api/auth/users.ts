// Accounts: validation, password hashing (argon2id through Bun.password) and lookups.
import type { Sql } from '../../db/connect'
import { ApiError, badRequest } from '../errors'
import { announceEnded, forget } from './token-cache'

export type Role = 'user' | 'admin'

export interface User {
  id: string
  username: string
  email: string
  role: Role
  created_at: Date
}

interface UserRow extends User {
  password_hash: string
}

/** An account created without a password (the first-start admin) stores this: no hash matches it. */
export const NO_PASSWORD = '!'

export const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,185}\.[^\s@]{1,63}$/

export function publicUser(u: User): User {
  return { id: u.id, username: u.username, email: u.email, role: u.role, created_at: u.created_at }
}

export function validatePassword(password: string, field = 'password'): void {
  if (password.length < 8 || password.length > 128)
    throw badRequest(field, `${field} must be 8 to 128 characters long.`)
}

// OWASP's recommended argon2id setting (19 MiB, 2 passes, 1 lane): measured here at ~145 ms per
// hash and ~50 ms per verify on a loaded 2-core machine, against ~600/300 ms for Bun's default of
// 64 MiB, which would make every login a noticeable pause and a cheap way to exhaust memory.
const ARGON2 = { algorithm: 'argon2id', memoryCost: 19_456, timeCost: 2 } as const

export async function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, ARGON2)
}

export async function createUser(
  sql: Sql,
  input: { username: string; email: string; password: string | null; role?: Role },
): Promise<User> {
  if (!USERNAME.test(input.username))
    throw badRequest('username', 'username must be 3 to 32 letters, digits, dots, dashes or underscores.')
  if (!EMAIL.test(input.email)) throw badRequest('email', 'email must be an address such as ada@example.com.')
  if (input.password !== null) validatePassword(input.password)
  const hash = input.password === null ? NO_PASSWORD : await hashPassword(input.password)
  try {
    const [user] = await sql<User[]>`
      INSERT INTO users (username, email, password_hash, role)
      VALUES (${input.username}, ${input.email}, ${hash}, ${input.role ?? 'user'})
      RETURNING id, username, email, role, created_at`
    return user!
  } catch (err) {
    const e = err as { code?: string; constraint_name?: string }
    if (e.code === '23505') {
      const field = e.constraint_name === 'users_email_key' ? 'email' : 'username'
      throw new ApiError(409, 'USER_EXISTS', `An account with that ${field} already exists.`, { field })
    }
    throw err
  }
}

/**
 * By username or email, case-insensitively (both are unique in lower case). `key` is the login as
 * PostgreSQL lowers it, so that the failed-login count of an unknown login agrees with the lookup.
 */
export async function findByLogin(
  sql: Sql,
  login: string,
): Promise<{ key: string; row: UserRow | undefined }> {
  const [found] = await sql<(Partial<UserRow> & { login_key: string })[]>`
    SELECT lower(${login}) AS login_key, u.* FROM (SELECT 1) one LEFT JOIN LATERAL (
      SELECT id, username, email, role, created_at, password_hash FROM users
      WHERE lower(username) = lower(${login}) OR lower(email) = lower(${login})
      LIMIT 1
    ) u ON true`
  const { login_key, ...row } = found!
  return { key: login_key, row: row.id ? (row as UserRow) : undefined }
}

// Verifying against this when the account does not exist keeps the answer time the same, so
// response times do not tell which usernames exist.
let decoy: Promise<string> | undefined

export async function checkPassword(row: UserRow | undefined, password: string): Promise<boolean> {
  decoy ??= hashPassword('decoy password that matches nothing')
  if (!row || row.password_hash === NO_PASSWORD) {
    await Bun.password.verify(password, await decoy).catch(() => false)
    return false
  }
  return Bun.password.verify(password, row.password_hash).catch(() => false)
}

/**
 * Sets a new password and ends every other session of the account (a password change is how a
 * user throws out whoever else holds a session); `keepTokenHash` is the session that asked.
 * Returns how many sessions were ended.
 */
export async function setPassword(
  sql: Sql,
  userId: string,
  current: string | undefined,
  next: string,
  keepTokenHash?: string,
): Promise<number> {
  validatePassword(next, 'new_password')
  const [row] = await sql<
    UserRow[]
  >`SELECT id, username, email, role, created_at, password_hash FROM users WHERE id = ${userId}`
  if (!row) throw new ApiError(401, 'UNAUTHORIZED', 'The account no longer exists.')
  if (row.password_hash !== NO_PASSWORD) {
    if (current === undefined)
      throw badRequest('current_password', 'current_password is required to change a password.')
    if (!(await checkPassword(row, current)))
      throw new ApiError(403, 'WRONG_PASSWORD', 'current_password is not the current password.')
  }
  const hash = await hashPassword(next)
  const ended = (await sql.begin(async (tx) => {
    await tx`UPDATE users SET password_hash = ${hash}, updated_at = now() WHERE id = ${userId}`
    const gone = await tx`
      DELETE FROM sessions WHERE user_id = ${userId} AND token_hash IS DISTINCT FROM ${keepTokenHash ?? null}
      RETURNING 1`
    // Every process that remembers a token of this user (token-cache.ts) forgets it at our commit;
    // by user, not by hash, so the message stays small however many sessions ended. The session
    // kept is looked up again on its next request.
    if (gone.length > 0) await announceEnded(tx, { user: userId })
    return gone.length
  })) as number
  if (ended > 0) forget(sql, { user: userId })
  return ended
}

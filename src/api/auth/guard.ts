// Who is calling. Routes call these with plain values (the Authorization header), not Elysia's
// context, so the rules are readable in one place and testable without HTTP.
import type { Sql } from '../../db/connect'
import type { Scope } from '../../queue/task'
import { forbidden, unauthorized } from '../errors'
import { userOfToken } from './sessions'
import { bearer } from './tokens'
import type { User } from './users'

export interface Caller {
  user: User
  /** What the caller may see: an admin everything, a user their own tasks. */
  scope: Scope
  /** Recorded in task_events.actor for what this caller does. */
  actor: string
}

export function callerOf(user: User): Caller {
  return { user, scope: user.role === 'admin' ? {} : { userId: user.id }, actor: `user:${user.id}` }
}

export async function authenticate(sql: Sql, authorization: string | null | undefined): Promise<Caller> {
  const token = bearer(authorization)
  if (!token) throw unauthorized()
  const user = await userOfToken(sql, token)
  if (!user) throw unauthorized('The session token is invalid, expired or logged out; log in again.')
  return callerOf(user)
}

export function requireAdmin(caller: Caller): void {
  if (caller.user.role !== 'admin') throw forbidden('Only an admin may do this.')
}

/** Constant-time comparison of the worker credential. */
export function isWorkerToken(
  configured: string | undefined,
  authorization: string | null | undefined,
): boolean {
  const token = bearer(authorization)
  if (!configured || !token) return false
  const a = Buffer.from(token)
  const b = Buffer.from(configured)
  return a.length === b.length && crypto.timingSafeEqual(a, b)
}

/**
 * Checks that a request carries a credential that works (a live session or the worker token)
 * before its body is read; the route still decides what that caller may do. A session seen
 * valid in the last second is not looked up again, so a client posting tasks in a loop costs
 * one extra lookup a second, not one per request.
 */
export function credentialGate(sql: Sql, workerToken: string | undefined) {
  const seen = new Map<string, number>()
  return async (authorization: string | null | undefined): Promise<void> => {
    if (isWorkerToken(workerToken, authorization)) return
    const token = bearer(authorization)
    if (!token) throw unauthorized()
    const at = seen.get(token)
    if (at !== undefined && Date.now() - at < 1000) return
    if (!(await userOfToken(sql, token)))
      throw unauthorized('The session token is invalid, expired or logged out; log in again.')
    if (seen.size > 10_000) seen.clear()
    seen.set(token, Date.now())
  }
}

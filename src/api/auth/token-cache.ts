// Verified session tokens, remembered for 5 s per pool. Each authenticated request used to cost a
// session lookup (a join of sessions and users) before its own work: the single-task enqueue's
// most frequent statement. A hit costs a Map lookup. Logging out evicts at once in this process
// and, through a NOTIFY on SESSIONS_CHANNEL, in every other tasklab process within milliseconds;
// anything else that ends a session (expiry, a deleted user) is seen within TOKEN_CACHE_MS.
import type { Sql, TransactionSql } from '../../db/connect'
import type { User } from './users'

export const TOKEN_CACHE_MS = 5000
const SESSIONS_CHANNEL = 'tasklab_sessions'
/** Sessions that ended: these (by token hash), or all of a user's. */
export type Ended = { hashes: string[] } | { user: string }
/** Bounds memory under a flood of distinct valid tokens; entries expire long before this matters. */
const MAX_ENTRIES = 10_000

interface Entry {
  user: User
  until: number
}

interface Cache {
  byHash: Map<string, Entry>
  listening: boolean
  /** Bumped by every eviction: a lookup that overlapped one does not store what it read. */
  epoch: number
}

const caches = new WeakMap<Sql, Cache>()

function cacheOf(sql: Sql): Cache {
  let c = caches.get(sql)
  if (!c) {
    c = { byHash: new Map(), listening: false, epoch: 0 }
    caches.set(sql, c)
  }
  if (!c.listening) {
    c.listening = true
    const cache = c
    sql
      .listen(SESSIONS_CHANNEL, (payload) => applyEviction(cache, payload))
      .catch(() => {
        // Without the listener other processes' logouts reach this cache only by expiry: retry on
        // the next use rather than never.
        cache.listening = false
      })
  }
  return c
}

function applyEviction(cache: Cache, payload: string): void {
  cache.epoch++
  let msg: { hashes?: unknown; user?: unknown }
  try {
    msg = JSON.parse(payload)
  } catch {
    return
  }
  if (Array.isArray(msg.hashes)) for (const h of msg.hashes) cache.byHash.delete(String(h))
  if (typeof msg.user === 'string') evictUser(cache, msg.user)
}

function evictUser(cache: Cache, userId: string): void {
  for (const [hash, e] of cache.byHash) if (e.user.id === userId) cache.byHash.delete(hash)
}

/** The cached user, or the epoch to pass to rememberUser after reading the database. */
export function cachedUser(sql: Sql, hash: string): { user: User } | { epoch: number } {
  const c = cacheOf(sql)
  const e = c.byHash.get(hash)
  if (e && e.until > Date.now()) return { user: e.user }
  if (e) c.byHash.delete(hash)
  return { epoch: c.epoch }
}

export function rememberUser(sql: Sql, hash: string, user: User, expiresAt: Date, epoch: number): void {
  const c = cacheOf(sql)
  // A logout (here or elsewhere) landed while we read: what we read may be the ended session.
  if (c.epoch !== epoch) return
  if (c.byHash.size >= MAX_ENTRIES) {
    const now = Date.now()
    for (const [h, e] of c.byHash) if (e.until <= now) c.byHash.delete(h)
    if (c.byHash.size >= MAX_ENTRIES) c.byHash.clear()
  }
  c.byHash.set(hash, { user, until: Math.min(Date.now() + TOKEN_CACHE_MS, expiresAt.getTime()) })
}

/**
 * The one way to tell every process's token cache that sessions ended. Call it in the transaction
 * (`tx`) that deletes them: the message is delivered at its commit, and not at all on rollback.
 */
export async function announceEnded(tx: TransactionSql, ended: Ended): Promise<void> {
  await tx`SELECT pg_notify(${SESSIONS_CHANNEL}, ${JSON.stringify(ended)})`
}

/**
 * Ends sessions in the cache of this process. The caller runs it after its DELETE committed (a
 * lookup that overlapped the DELETE is then not stored either); announceEnded() in that DELETE's
 * transaction tells the other processes.
 */
export function forget(sql: Sql, ended: Ended): void {
  applyEviction(cacheOf(sql), JSON.stringify(ended))
}

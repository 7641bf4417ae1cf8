// A database that cannot be reached at start-up is the most common first-run failure; the driver's
// own message (`connect ECONNREFUSED 127.0.0.1:1`) names neither the setting nor what to do.
import { redactUrl } from '../db/connect'

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused (is PostgreSQL running there, on that port?)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
  ETIMEDOUT: 'the connection timed out (a firewall, or the wrong host?)',
  CONNECT_TIMEOUT: 'the connection timed out (a firewall, or the wrong host?)',
  EHOSTUNREACH: 'the host is unreachable',
  ECONNRESET: 'the server closed the connection',
  '28P01': 'the password was rejected',
  '28000': 'the server refused this user (pg_hba.conf or a missing role)',
  '42501': 'the user may not create the database (it needs CREATEDB, or create the database first)',
  '53300': 'the server has no free connections',
  '57P03': 'the server is starting up or shutting down',
}

/**
 * A sentence naming where the URL came from (`DATABASE_URL` or `--database-url`), the URL without
 * its password, and what failed; undefined when `err` is not a failure to reach the database.
 */
export function explainDatabaseError(err: unknown, url: string, source: string): Error | undefined {
  const e = err as { code?: string; message?: string }
  const code = e?.code ?? ''
  const reason = REASONS[code] ?? (code.startsWith('08') ? 'the connection failed' : undefined)
  if (!reason) return undefined
  return new Error(
    `Could not use the database given by ${source} (${redactUrl(url)}): ${reason}. ` +
      `Check ${source}, or leave it unset to use the embedded database. (${e.message ?? code})`,
  )
}

import postgres from 'postgres'

export type Sql = postgres.Sql
export type { TransactionSql } from 'postgres'

export interface ConnectOptions {
  max?: number
  applicationName?: string
}

export function connect(url: string, opts: ConnectOptions = {}): Sql {
  const { url: target, path } = unixSocket(url)
  return postgres(target, {
    path,
    max: opts.max ?? 10,
    // Fail fast while the database is down so callers can back off and report, rather than hang.
    connect_timeout: 5,
    idle_timeout: 60,
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? 'tasklab' },
  })
}

/**
 * libpq's unix-socket form, `postgres://user@localhost/db?host=/run/postgresql` (the embedded
 * database uses it), which postgres.js does not read: it would send `host` as a server setting.
 */
export function unixSocket(url: string): { url: string; path: string | undefined } {
  const u = URL.canParse(url) ? new URL(url) : undefined
  const dir = u?.searchParams.get('host')
  if (!u || !dir?.startsWith('/')) return { url, path: undefined }
  u.searchParams.delete('host')
  return { url: u.toString(), path: `${dir}/.s.PGSQL.${u.port || 5432}` }
}

/** The URL with its password replaced, safe to print. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '<invalid url>'
  }
}

/**
 * Creates the URL's database when it does not exist yet (so the default
 * postgres://postgres@127.0.0.1:5432/tasklab works on a fresh server). Needs CREATEDB on the server.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const { url: target, path } = unixSocket(url)
  const probe = postgres(target, { path, max: 1, connect_timeout: 5, onnotice: () => {} })
  try {
    await probe`SELECT 1`
    return false
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err
  } finally {
    await probe.end({ timeout: 1 })
  }
  const u = new URL(target)
  const name = decodeURIComponent(u.pathname.slice(1))
  u.pathname = '/postgres'
  const admin = postgres(u.toString(), { path, max: 1, connect_timeout: 5, onnotice: () => {} })
  try {
    await admin.unsafe(`CREATE DATABASE "${name.replaceAll('"', '""')}"`)
  } catch (err) {
    // Another process created it between our probe and now.
    if ((err as { code?: string }).code !== '42P04') throw err
  } finally {
    await admin.end({ timeout: 1 })
  }
  return true
}

/** True for errors that mean "the database is (temporarily) unreachable", worth retrying. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; errno?: string; message?: string }
  const code = e?.code ?? ''
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'CONNECTION_CLOSED',
      'CONNECTION_ENDED',
      'CONNECTION_DESTROYED',
      'CONNECT_TIMEOUT',
    ].includes(code) ||
    code.startsWith('08') || // connection exceptions
    code === '57P01' || // admin_shutdown (pg_terminate_backend, server restart)
    code === '57P02' ||
    code === '57P03' || // cannot_connect_now (server starting up)
    code === '53300' || // too_many_connections: others hold every slot for now
    // ALTER DATABASE ... ALLOW_CONNECTIONS false (maintenance); 55000 alone is too broad to retry.
    (code === '55000' && /not currently accepting connections/.test(e.message ?? ''))
  )
}

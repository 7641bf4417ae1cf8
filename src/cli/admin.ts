// `tasklab admin reset-link`: let an admin back in without a restart. Works on the database
// directly, so it serves a running tasklab and a stopped one alike: the admin's password is
// cleared, their sessions and old links end, and a fresh one-time link is printed. The panel asks
// for a new password right after the link is used.
import { openSession } from '../api/auth/sessions'
import { announceEnded } from '../api/auth/token-cache'
import { NO_PASSWORD, type User } from '../api/auth/users'
import { type Config, ConfigError, type Flags } from '../config'
import { connect, type Sql } from '../db/connect'
import { migrate } from '../db/migrate'
import { resolveDatabase } from '../db/resolve'
import type { Logger } from '../log'

export async function resetLoginLink(sql: Sql, username?: string): Promise<{ user: User; token: string }> {
  return sql.begin(async (tx) => {
    const admins = await tx<User[]>`
      SELECT id, username, email, role, created_at FROM users
      WHERE role = 'admin' AND (${username ?? null}::text IS NULL OR lower(username) = lower(${username ?? null}::text))
      ORDER BY created_at`
    if (admins.length === 0)
      throw new ConfigError(
        username
          ? `There is no admin named "${username}".`
          : 'There is no admin yet: start tasklab once, and it prints the first login link.',
      )
    if (!username && admins.length > 1)
      throw new ConfigError(
        `There are ${admins.length} admins (${admins.map((a) => a.username).join(', ')}); name one with --user.`,
      )
    const user = admins[0]!
    await tx`UPDATE users SET password_hash = ${NO_PASSWORD}, updated_at = now() WHERE id = ${user.id}`
    await tx`DELETE FROM sessions WHERE user_id = ${user.id}`
    // A running tasklab's token cache drops them at commit, as on logout (token-cache.ts).
    await announceEnded(tx, { user: user.id })
    const link = await openSession(tx as unknown as Sql, user, 'login_link')
    return { user, token: link.session_token }
  }) as Promise<{ user: User; token: string }>
}

/**
 * The instance's database: its URL; or, on the embedded database, the server a running tasklab
 * keeps there, joined the way `tasklab worker` joins it; or, when none runs, one started here.
 */
async function openDatabase(config: Config, log: Logger) {
  if (config.databaseUrl) return resolveDatabase(config, log)
  try {
    return await resolveDatabase(config, log, 'worker')
  } catch {
    return resolveDatabase(config, log)
  }
}

export async function runAdmin(
  positional: string[],
  flags: Flags,
  config: Config,
  log: Logger,
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  if (positional[0] !== 'reset-link' || positional.length > 1)
    throw new ConfigError('tasklab admin takes one action: reset-link (see tasklab admin --help).')
  const base =
    typeof flags.url === 'string'
      ? flags.url.replace(/\/+$/, '')
      : `http://${config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host}:${config.server.port}`
  const db = await openDatabase(config, log)
  const sql = connect(db.url, { max: 1, applicationName: 'tasklab-admin' })
  try {
    await migrate(sql)
    const { user, token } = await resetLoginLink(sql, typeof flags.user === 'string' ? flags.user : undefined)
    out(
      `one-time login link for admin "${user.username}" (valid 24 h; their password is cleared and their sessions ended):\n` +
        `${base}/?login=${token}\n`,
    )
    return 0
  } finally {
    await sql.end()
    await db.close()
  }
}

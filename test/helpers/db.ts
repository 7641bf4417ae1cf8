// A fresh database per test file, cloned from a migrated template (graphile-worker's approach):
// CREATE DATABASE ... TEMPLATE copies files, ~50 ms, instead of migrating each time.
import { createHash } from 'node:crypto'
import postgres from 'postgres'
import { connect, type Sql } from '../../src/db/connect'
import { migrate } from '../../src/db/migrate'
import { MIGRATIONS } from '../../src/db/migrations'

/** The server tests run against; each test file gets its own database on it. */
export const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

const hash = createHash('sha256')
  .update(MIGRATIONS.map((m) => m.sql).join('\n'))
  .digest('hex')
  .slice(0, 10)
const TEMPLATE = `tasklab_tpl_${hash}`

export function urlFor(database: string): string {
  const u = new URL(TEST_SERVER_URL)
  u.pathname = `/${database}`
  return u.toString()
}

let templateReady: Promise<void> | undefined

async function ensureTemplate(admin: Sql): Promise<void> {
  // Several test processes may race to create it: serialize on a session advisory lock held on a
  // reserved connection (CREATE DATABASE cannot run inside a transaction).
  const lock = await admin.reserve()
  try {
    await lock`SELECT pg_advisory_lock(7461730002)`
    await dropLeftovers(lock)
    const [exists] = await lock`SELECT 1 FROM pg_database WHERE datname = ${TEMPLATE}`
    if (exists) return
    await lock.unsafe(`CREATE DATABASE ${TEMPLATE}`)
    const tpl = connect(urlFor(TEMPLATE), { max: 1 })
    try {
      await migrate(tpl)
    } catch (err) {
      await tpl.end()
      await lock.unsafe(`DROP DATABASE IF EXISTS ${TEMPLATE}`)
      throw err
    }
    await tpl.end()
  } finally {
    await lock`SELECT pg_advisory_unlock(7461730002)`
    lock.release()
  }
}

/**
 * A run that is killed cannot drop its databases. Each name carries its creation time
 * (tasklab_t_[label_]<base-36 ms>_<rand>): drop those over 6 hours old, and templates of other
 * migration sets over 6 hours old, so a machine that runs the suite daily does not fill up.
 * Databases in use are left alone, and so are young templates: on a shared server, another
 * checkout's run (other migrations, another template) may be using its template right now.
 */
async function dropLeftovers(sql: Sql): Promise<void> {
  const rows = await sql<{ datname: string; made: Date | null }[]>`
    SELECT datname,
           CASE WHEN starts_with(datname, 'tasklab_tpl_')
             THEN (pg_stat_file('base/' || oid || '/PG_VERSION', true)).modification END AS made
    FROM pg_database d
    WHERE (starts_with(datname, 'tasklab_t_') OR (starts_with(datname, 'tasklab_tpl_') AND datname <> ${TEMPLATE}))
      AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`.catch(
    // pg_stat_file needs a superuser (or pg_read_server_files): without it, drop no templates.
    () => sql<{ datname: string; made: Date | null }[]>`
      SELECT datname, NULL::timestamptz AS made FROM pg_database
      WHERE starts_with(datname, 'tasklab_t_')`,
  )
  const cutoff = Date.now() - 6 * 3600_000
  for (const { datname, made } of rows) {
    // The stamp is the second-to-last part: names may carry a label before it (tasklab_t_bin_<ms>_<rand>).
    const stamp = datname.startsWith('tasklab_tpl_')
      ? (made?.getTime() ?? Number.NaN)
      : Number.parseInt(datname.split('_').at(-2) ?? '', 36)
    if (Number.isFinite(stamp) && stamp < cutoff)
      await sql.unsafe(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => {})
  }
}

export interface TestDatabase {
  name: string
  url: string
  sql: Sql
  drop(): Promise<void>
}

/**
 * `template` names another migrated template to clone (the bench's, made by an older binary's own
 * `tasklab migrate`, whose schema this checkout's template would be too new for).
 */
export async function createTestDatabase(
  opts: { max?: number; template?: string } = {},
): Promise<TestDatabase> {
  const admin = postgres(TEST_SERVER_URL, { max: 2, onnotice: () => {} })
  try {
    const name = `tasklab_t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
    await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${opts.template ?? TEMPLATE}`).catch(async (err) => {
      // The template went away since this process made it (someone dropped it by hand): make it again.
      if ((err as { code?: string }).code !== '3D000' || opts.template) throw err
      templateReady = ensureTemplate(admin)
      await templateReady
      await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`)
    })
    const url = urlFor(name)
    const sql = connect(url, { max: opts.max ?? 10, applicationName: 'tasklab-test' })
    return {
      name,
      url,
      sql,
      async drop() {
        await sql.end({ timeout: 1 })
        const a = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} })
        try {
          await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        } finally {
          await a.end()
        }
      },
    }
  } finally {
    await admin.end()
  }
}

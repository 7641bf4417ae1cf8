// The embedded database: PostgreSQL (PGlite) inside this process, kept in <data dir>/pgdata and
// served on <data dir>/.s.PGSQL.5432 to this process's own pool. Used when no database URL is
// given, so that one downloaded file is all it takes. One process per data dir (datadir-lock.ts).
//
// What differs from a real server, and how tasklab copes (measured on PGlite 0.5.14 under Bun 1.4):
// - One backend session for the whole process. pglite-server.ts hands it to one connection per
//   protocol cycle or transaction, so there is one transaction at a time, and a statement on
//   another connection awaited inside sql.begin would wait forever: the engine's transaction bodies
//   use only `tx` (checked: migrate, enqueueBatch, rescueExpired, recordBreaker, actions' asActor).
// - SKIP LOCKED is accepted but never skips (no other transaction can hold a row). Harmless here:
//   the only worker is in this process.
// - LISTEN/NOTIFY work: the server copies notifications to every connection (see pglite-server.ts).
// - PostgreSQL 18 here, 14-17 on users' servers: migrations stay portable; the matrix tests both.
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Logger } from '../log'
import { lockDataDir } from './datadir-lock'
import { EMBEDDED_POOL_SIZE, openPGlite, serveSocket } from './pglite'
import { embeddedClusterTemplate } from './pglite-template'
import type { Database } from './resolve'

export async function openEmbedded(dir: string, log: Logger): Promise<Database> {
  // Absolute, so the banner and the lock message say where the data really is.
  const dataDir = resolve(dir)
  const lock = lockDataDir(dataDir)
  try {
    const pgdata = join(dataDir, 'pgdata')
    const fresh = !(await Bun.file(join(pgdata, 'PG_VERSION')).exists())
    // A binary carries an empty cluster (pglite-template.ts): loading it replaces initdb.
    const template = fresh ? embeddedClusterTemplate() : undefined
    if (fresh)
      log.info('creating the embedded database', {
        dir: pgdata,
        from: template ? 'built-in cluster' : 'initdb',
      })
    mkdirSync(pgdata, { recursive: true, mode: 0o700 })
    const started = performance.now()
    const pg = await openPGlite({ dataDir: pgdata, loadDataDir: template })
    const server = await serveSocket(pg, dataDir)
    log.debug('embedded database ready', { dir: pgdata, ms: Math.round(performance.now() - started) })
    return {
      url: server.url,
      label: `embedded at ${dataDir}`,
      embedded: true,
      maxConnections: EMBEDDED_POOL_SIZE,
      async close() {
        try {
          await server.stop()
          // Closing flushes PGlite's buffers to pgdata and shuts PostgreSQL down cleanly.
          await pg.close()
        } finally {
          lock.release()
        }
      },
    }
  } catch (err) {
    lock.release()
    throw err
  }
}

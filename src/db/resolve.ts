// Which database this process uses: DATABASE_URL / --database-url when given, otherwise the
// embedded PostgreSQL in the data directory (embedded.ts): `tasklab worker` joins the one a
// `tasklab start` or `serve` runs there; the other commands run it themselves.
import type { Config } from '../config'
import type { Logger } from '../log'
import { ensureDatabase, redactUrl } from './connect'
import { joinEmbedded, openEmbedded } from './embedded'

export interface Database {
  url: string
  /** What the banner prints: the URL without its password; for the embedded server one psql accepts. */
  label: string
  embedded: boolean
  /** The data dir of the embedded server (owned or joined): where the chaos lab restarts it. */
  embeddedDir?: string
  /** The most connections the database accepts from this process; the pool must not exceed it. */
  maxConnections?: number
  close(): Promise<void>
}

export async function resolveDatabase(config: Config, log: Logger, role?: string): Promise<Database> {
  const url = config.databaseUrl
  if (!url) {
    if (role === 'worker') return joinEmbedded(config.dataDir, 'tasklab worker')
    return openEmbedded(config.dataDir, log)
  }
  if (await ensureDatabase(url)) log.info('created database', { url: redactUrl(url) })
  return { url, label: redactUrl(url), embedded: false, close: async () => {} }
}

/** The pool size to use: the configured one, capped by what the database accepts. */
export function poolSizeFor(db: Database, configured: number): number {
  return db.maxConnections ? Math.min(configured, db.maxConnections) : configured
}

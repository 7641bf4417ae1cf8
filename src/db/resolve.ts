// Which database this process uses: DATABASE_URL / --database-url when given, otherwise the
// embedded PostgreSQL in the data directory (embedded.ts).
import type { Config } from '../config'
import { ConfigError } from '../config'
import type { Logger } from '../log'
import { ensureDatabase, redactUrl } from './connect'
import { openEmbedded } from './embedded'

export interface Database {
  url: string
  /** What the banner prints: the URL without its password, or "embedded at <dir>". */
  label: string
  embedded: boolean
  /** The most connections the database accepts from this process; the pool must not exceed it. */
  maxConnections?: number
  close(): Promise<void>
}

/** `tasklab worker` needs a database other processes can reach; the embedded one is private. */
export const WORKER_NEEDS_URL =
  'tasklab worker needs a shared PostgreSQL: set DATABASE_URL (or --database-url), e.g. ' +
  'DATABASE_URL=postgres://postgres@127.0.0.1:5432/tasklab tasklab worker --id 1. ' +
  'Without a database URL, run `tasklab start` instead: it serves the API and runs a worker in one process ' +
  'on the embedded database.'

export async function resolveDatabase(config: Config, log: Logger, role?: string): Promise<Database> {
  const url = config.databaseUrl
  if (!url) {
    if (role === 'worker') throw new ConfigError(WORKER_NEEDS_URL)
    if (role === 'serve')
      log.warn(
        'serve on the embedded database runs no worker, and none can join it: tasks will wait. Use tasklab start, or a DATABASE_URL shared with tasklab worker processes.',
      )
    return openEmbedded(config.dataDir, log)
  }
  if (await ensureDatabase(url)) log.info('created database', { url: redactUrl(url) })
  return { url, label: redactUrl(url), embedded: false, close: async () => {} }
}

/** The pool size to use: the configured one, capped by what the database accepts. */
export function poolSizeFor(db: Database, configured: number): number {
  return db.maxConnections ? Math.min(configured, db.maxConnections) : configured
}

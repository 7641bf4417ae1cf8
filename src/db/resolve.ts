// Which database this process uses: DATABASE_URL / --database-url when given, otherwise the local
// default server (the embedded database replaces this fallback in its own issue).
import type { Config } from '../config'
import type { Logger } from '../log'
import { ensureDatabase, redactUrl } from './connect'

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tasklab'

export interface Database {
  url: string
  /** What the banner prints: the URL without its password, or "embedded at <dir>". */
  label: string
  embedded: boolean
  close(): Promise<void>
}

export async function resolveDatabase(config: Config, log: Logger): Promise<Database> {
  const url = config.databaseUrl ?? DEFAULT_DATABASE_URL
  if (await ensureDatabase(url)) log.info('created database', { url: redactUrl(url) })
  return { url, label: redactUrl(url), embedded: false, close: async () => {} }
}

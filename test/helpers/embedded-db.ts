// TEST_DB=embedded: each test database is its own in-memory PGlite, served on a unix socket in a
// temp folder, so the same tests (and the same postgres.js client) run against the embedded engine.
// The migrated state is built once and kept as a tarball (the template), ~0.5 s to load, instead
// of initdb + migrate (~5-9 s) per test file.
import { createHash } from 'node:crypto'
import { mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import { connect, type Sql } from '../../src/db/connect'
import { migrate } from '../../src/db/migrate'
import { MIGRATIONS } from '../../src/db/migrations'
import { EMBEDDED_POOL_SIZE, openPGlite, serveSocket } from '../../src/db/pglite'

/** Process tests point child tasklab processes (pool 10 each) at the test's socket too. */
const TEST_MAX_CONNECTIONS = 64

const hash = createHash('sha256')
  .update(MIGRATIONS.map((m) => m.sql).join('\n'))
  .digest('hex')
  .slice(0, 10)
/** Shared by test processes (spawned ones too) through the file system; keyed by the migrations. */
const TEMPLATE_FILE = join(tmpdir(), `tasklab-pglite-tpl-${hash}.tar`)

let template: Promise<Blob> | undefined

/**
 * Builds the template once, before `bun test` starts (npm run test:embedded does): initdb takes
 * 4-9 s on this 2-core machine, longer than a beforeAll hook may run.
 */
export function prepareEmbeddedTemplate(): Promise<Blob> {
  template ??= buildTemplate()
  return template
}

async function buildTemplate(): Promise<Blob> {
  const cached = Bun.file(TEMPLATE_FILE)
  if (await cached.exists()) return new Blob([await cached.arrayBuffer()])
  const { pg, url, stop } = await serve()
  const sql = connect(url, { max: 1 })
  try {
    await migrate(sql)
  } finally {
    await sql.end({ timeout: 1 })
  }
  const tar = await pg.dumpDataDir('none')
  await stop()
  // Write then rename, so a concurrent test process never reads half a file.
  const tmp = `${TEMPLATE_FILE}.${process.pid}`
  await Bun.write(tmp, tar)
  renameSync(tmp, TEMPLATE_FILE)
  return tar
}

async function serve(loadDataDir?: Blob): Promise<{ pg: PGlite; url: string; stop(): Promise<void> }> {
  // Short paths: a unix socket path must fit in ~100 bytes.
  const dir = mkdtempSync(join('/tmp', 'tlpg-'))
  const pg = await openPGlite({ loadDataDir })
  const server = await serveSocket(pg, dir, TEST_MAX_CONNECTIONS)
  return {
    pg,
    url: server.url,
    async stop() {
      await server.stop()
      await pg.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface EmbeddedTestDatabase {
  name: string
  url: string
  sql: Sql
  embedded: true
  drop(): Promise<void>
}

export async function createEmbeddedTestDatabase(opts: { max?: number } = {}): Promise<EmbeddedTestDatabase> {
  const { url, stop } = await serve(await prepareEmbeddedTemplate())
  const sql = connect(url, { max: opts.max ?? EMBEDDED_POOL_SIZE, applicationName: 'tasklab-test' })
  return {
    name: `pglite:${url}`,
    url,
    sql,
    embedded: true,
    async drop() {
      await sql.end({ timeout: 1 })
      await stop()
    },
  }
}

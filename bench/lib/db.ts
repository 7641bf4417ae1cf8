// Every measurement gets a fresh database cloned from a migrated template (the tests' approach),
// so none sees another's rows, dead tuples or statistics. A spawned binary gets a template that
// binary migrated itself (`tasklab migrate`): a binary built from an older commit refuses a
// database migrated by this checkout ("newer than this tasklab knows"), which is what kept
// `--baseline` from measuring one.
import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import postgres from 'postgres'
import { upsertTypes } from '../../src/queue/registry'
import { createTestDatabase, TEST_SERVER_URL, type TestDatabase, urlFor } from '../../test/helpers/db'

export type BenchDatabase = TestDatabase

const templates = new Map<string, Promise<string>>()

/** The name of a template migrated by `bin` itself, made on first use (one per binary file). */
function binaryTemplate(bin: string): Promise<string> {
  const st = statSync(bin)
  const key = createHash('sha256').update(`${bin}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 10)
  const name = `tasklab_tpl_bin_${key}`
  let made = templates.get(name)
  if (!made) {
    made = (async () => {
      const admin = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} })
      try {
        const [exists] = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`
        if (exists) return name
        await admin.unsafe(`CREATE DATABASE ${name}`)
        const mig = Bun.spawn([bin, 'migrate'], {
          env: { ...process.env, DATABASE_URL: urlFor(name), STARTER__LOG__LEVEL: 'warn' },
          stdout: 'ignore',
          stderr: 'pipe',
        })
        if ((await mig.exited) !== 0) {
          const err = await new Response(mig.stderr).text()
          await admin.unsafe(`DROP DATABASE IF EXISTS ${name}`)
          throw new Error(`bench: ${bin} migrate failed: ${err}`)
        }
        return name
      } finally {
        await admin.end()
      }
    })()
    templates.set(name, made)
  }
  return made
}

/**
 * A fresh database with the bench task types registered (enqueue refuses unknown types); cloned
 * from `bin`'s own template when a binary will run against it, else from this checkout's.
 */
export async function freshDatabase(poolSize = 10, bin?: string): Promise<BenchDatabase> {
  const db = await createTestDatabase({
    max: poolSize,
    template: bin ? await binaryTemplate(bin) : undefined,
  })
  await upsertTypes(db.sql, [
    { name: 'delay_task', description: 'bench no-op: delay_seconds 0' },
    { name: 'bench_lat', description: 'bench latency probe' },
    { name: 'bench_probe', description: 'bench claim-latency probe (no worker runs it)' },
    { name: 'bench_paused', description: 'bench: due tasks of a paused type' },
  ])
  return db
}

/** Tasks not yet finished. Both partial indexes answer it without touching finished rows. */
export async function unfinished(db: BenchDatabase): Promise<boolean> {
  const [row] = await db.sql`
    SELECT EXISTS (SELECT 1 FROM tasks WHERE status IN ('pending', 'scheduled', 'retrying'))
        OR EXISTS (SELECT 1 FROM tasks WHERE status = 'running') AS busy`
  return row!.busy as boolean
}

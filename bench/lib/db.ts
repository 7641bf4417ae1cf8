// Every measurement gets a fresh database cloned from the migrated template (the tests' approach),
// so none sees another's rows, dead tuples or statistics.
import { upsertTypes } from '../../src/queue/registry'
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db'

export type BenchDatabase = TestDatabase

/** A fresh database with the bench task types registered (enqueue refuses unknown types). */
export async function freshDatabase(poolSize = 10): Promise<BenchDatabase> {
  const db = await createTestDatabase({ max: poolSize })
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

// The paused-type claim: n due tasks of a paused type wait ahead of everything in the ready index
// (they are older); how long does a claim of 10 tasks of another type take? A claim whose cost
// grows with the paused backlog reads past all of them (issue 13 measured 147 ms for 200,000).
import { enqueueBatch, type NewTask } from '../../src/queue/enqueue'
import { freshDatabase } from '../lib/db'
import { addProbeTasks, claimMs } from './claim-probe'
import { DEFAULTS } from './enqueue'

export async function pausedClaim(n: number): Promise<{ n: number; claimMs: number }> {
  const db = await freshDatabase(2)
  try {
    await db.sql`UPDATE task_types SET paused = true WHERE name = 'bench_paused'`
    const batch: NewTask[] = Array.from({ length: 1000 }, () => ({ task_type: 'bench_paused', payload: {} }))
    for (let k = 0; k < n; k += 1000)
      await enqueueBatch(db.sql, batch.slice(0, Math.min(1000, n - k)), {
        createdBy: null,
        defaults: DEFAULTS,
      })
    await addProbeTasks(db)
    await db.sql`ANALYZE tasks`
    return { n, claimMs: await claimMs(db, 9) }
  } finally {
    await db.drop()
  }
}

// Times one claim of 10 tasks of a type no running worker handles, against whatever else the
// table holds (a soak's million finished rows, 200,000 due tasks of a paused type). The claimed
// tasks are handed back after each sample, so the same 10 are claimed every time.
import { claimTasks } from '../../src/queue/claim'
import { enqueueBatch } from '../../src/queue/enqueue'
import { handBack } from '../../src/queue/hand-back'
import type { BenchDatabase } from '../lib/db'
import { median, nowMs } from '../lib/stats'
import { DEFAULTS } from './enqueue'

export const PROBE_TYPE = 'bench_probe'
const PROBE_WORKER = 'bench-claim-probe'

export async function addProbeTasks(db: BenchDatabase): Promise<void> {
  await enqueueBatch(
    db.sql,
    Array.from({ length: 10 }, () => ({ task_type: PROBE_TYPE, payload: {} })),
    { createdBy: null, defaults: DEFAULTS },
  )
}

/** Median of `samples` claims of the 10 probe tasks, in ms. */
export async function claimMs(db: BenchDatabase, samples = 7): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < samples; i++) {
    const t0 = nowMs()
    const got = await claimTasks(db.sql, {
      workerId: PROBE_WORKER,
      types: [PROBE_TYPE],
      limit: 10,
      leaseMs: 60_000,
    })
    times.push(nowMs() - t0)
    if (got.length !== 10) throw new Error(`bench: the claim probe got ${got.length} of 10 tasks`)
    await handBack(
      db.sql,
      PROBE_WORKER,
      got.map((t) => t.id),
    )
  }
  return median(times)
}

// The soak: n no-op tasks through one `tasklab worker` at full speed, the producer keeping a
// backlog of 20,000–40,000 ready tasks (so the ready set stays the same size while finished rows
// pile up, as in an hour of steady traffic). Reported at the start and at the end: throughput over
// the first and the last tenth of the tasks (from completed_at), the time to claim 10 tasks of
// another type (claim-probe.ts, under the same load, at 5 % and 95 % done) and the sizes of the
// tasks table, its indexes and task_events.
import { enqueueBatch, type NewTask } from '../../src/queue/enqueue'
import { freshDatabase } from '../lib/db'
import { Tasklab } from '../lib/proc'
import { until } from '../lib/stats'
import { addProbeTasks, claimMs } from './claim-probe'
import { DEFAULTS } from './enqueue'
import { queueSizes, type RelationSize } from './sizes'

export interface SoakResult {
  n: number
  concurrency: number
  perSec: number
  startPerSec: number
  endPerSec: number
  claimMsStart: number
  claimMsEnd: number
  sizesStart: RelationSize[]
  sizesEnd: RelationSize[]
}

const BACKLOG_LOW = 20_000
const BATCH = 1000

export async function soak(
  bin: string,
  n: number,
  concurrency: number,
  log: (s: string) => void,
): Promise<SoakResult> {
  const db = await freshDatabase(4)
  const noop: NewTask[] = Array.from({ length: BATCH }, () => ({
    task_type: 'delay_task',
    payload: { delay_seconds: 0 },
  }))
  let worker: Tasklab | undefined
  try {
    await addProbeTasks(db)
    let enqueued = 0
    const fill = async (upTo: number) => {
      while (enqueued < Math.min(upTo, n)) {
        const k = Math.min(BATCH, n - enqueued)
        await enqueueBatch(db.sql, noop.slice(0, k), { createdBy: null, defaults: DEFAULTS })
        enqueued += k
      }
    }
    await fill(2 * BACKLOG_LOW)
    await db.sql`ANALYZE tasks`
    worker = new Tasklab(bin, 'worker', db.url, { STARTER__WORKER__CONCURRENCY: String(concurrency) })
    const w = worker
    const unfinished = async () => {
      const [r] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM tasks WHERE status IN ('pending', 'running') AND task_type = 'delay_task'`
      return r!.n
    }
    let claimMsStart = Number.NaN
    let sizesStart: RelationSize[] = []
    let claimMsEnd = Number.NaN
    let lastLog = 0
    // Every 500 ms: the count reads the status index, whose dead entries grow with the soak (a
    // 50 ms poll took 20 % of a core by the end of 1,000,000 and slowed what it measured).
    await until('the soak to drain', 6 * 3600_000, 500, async () => {
      if (w.proc.exitCode !== null) throw new Error(`bench: soak worker exited: ${w.stderr}`)
      const left = await unfinished()
      const done = enqueued - left
      if (left < BACKLOG_LOW && enqueued < n) await fill(enqueued + (2 * BACKLOG_LOW - left))
      if (Number.isNaN(claimMsStart) && done >= n * 0.05) {
        claimMsStart = await claimMs(db)
        sizesStart = await queueSizes(db)
      }
      if (Number.isNaN(claimMsEnd) && done >= n * 0.95) claimMsEnd = await claimMs(db)
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now()
        log(`soak: ${done.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} done`)
      }
      return done >= n ? true : undefined
    })
    const sizesEnd = await queueSizes(db)
    const [q] = await db.sql<{ t: string[] }[]>`
      SELECT array[
        extract(epoch FROM min(started_at)),
        extract(epoch FROM percentile_disc(0.1) WITHIN GROUP (ORDER BY completed_at)),
        extract(epoch FROM percentile_disc(0.9) WITHIN GROUP (ORDER BY completed_at)),
        extract(epoch FROM max(completed_at))
      ]::text[] AS t
      FROM tasks WHERE task_type = 'delay_task' AND status = 'completed'`
    const [t0, t10, t90, t100] = q!.t.map(Number) as [number, number, number, number]
    return {
      n,
      concurrency,
      perSec: n / (t100 - t0),
      startPerSec: (0.1 * n) / (t10 - t0),
      endPerSec: (0.1 * n) / (t100 - t90),
      claimMsStart,
      claimMsEnd,
      sizesStart,
      sizesEnd,
    }
  } finally {
    await worker?.stop()
    await db.drop()
  }
}

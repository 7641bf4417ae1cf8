// Processing throughput: N no-op tasks (delay_task, delay_seconds 0) are queued first, then
// `processes` × `tasklab worker --concurrency C` drain them. Rate = N / (first attempt start →
// last completion), both read from the tasks table (started_at of the first claim, completed_at of
// the last outcome written), so the bench's own polling (every 20 ms) neither loads the database
// nor adds its interval to the result. The peers' harness measures the same span, ending at the
// first 5 ms poll that sees no unfinished job.
import { freshDatabase, unfinished } from '../lib/db'
import { Tasklab } from '../lib/proc'
import { until } from '../lib/stats'
import { fillNoop } from './enqueue'

export interface ProcessResult {
  perSec: number
  drainMs: number
  startupMs: number
}

export async function processDrain(
  bin: string,
  n: number,
  concurrency: number,
  processes: number,
): Promise<ProcessResult> {
  const db = await freshDatabase(2, bin)
  const workers: Tasklab[] = []
  try {
    await fillNoop(db.sql, n)
    const spawnedAt = Date.now()
    for (let i = 0; i < processes; i++)
      workers.push(new Tasklab(bin, 'worker', db.url, { STARTER__WORKER__CONCURRENCY: String(concurrency) }))
    await until('the queue to drain', 300_000, 20, async () => {
      for (const w of workers)
        if (w.proc.exitCode !== null) throw new Error(`bench: worker exited: ${w.stderr}`)
      return (await unfinished(db)) ? undefined : true
    })
    const [span] = await db.sql`
      SELECT extract(epoch FROM min(started_at)) * 1000 AS first, extract(epoch FROM max(completed_at)) * 1000 AS last,
             count(*) FILTER (WHERE status = 'completed')::int AS done
      FROM tasks`
    if (span!.done !== n) throw new Error(`bench: expected ${n} completed tasks, found ${span!.done}`)
    const drainMs = Number(span!.last) - Number(span!.first)
    return { perSec: n / (drainMs / 1000), drainMs, startupMs: Number(span!.first) - spawnedAt }
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
    await db.drop()
  }
}

// Resident memory of `tasklab start` (API + worker + maintenance in one process) on real
// PostgreSQL: settled idle RSS and its high-water mark after start-up, then the high-water mark
// while it drains N no-op tasks at concurrency 10.
import { Notifier } from '../../src/queue/notify'
import { freshDatabase, unfinished } from '../lib/db'
import { Tasklab } from '../lib/proc'
import { until } from '../lib/stats'
import { fillNoop } from './enqueue'

export interface MemoryResult {
  idleRssMb: number
  idlePeakMb: number
  drainPeakMb: number
}

export async function memory(bin: string, n: number, idleMs: number): Promise<MemoryResult> {
  const db = await freshDatabase(2, bin)
  const app = new Tasklab(bin, 'start', db.url, { STARTER__WORKER__CONCURRENCY: '10' })
  try {
    await app.ready()
    await Bun.sleep(idleMs)
    const idle = app.rss()
    const notifier = new Notifier(db.sql)
    await fillNoop(db.sql, n, () => notifier.poke())
    await until('the queue to drain', 300_000, 50, async () => ((await unfinished(db)) ? undefined : true))
    return { idleRssMb: idle.rssMb, idlePeakMb: idle.peakMb, drainPeakMb: app.rss().peakMb }
  } finally {
    await app.stop()
    await db.drop()
  }
}

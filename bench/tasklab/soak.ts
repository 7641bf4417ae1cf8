// The soak: n no-op tasks through one `tasklab worker` at full speed, the producer keeping a
// backlog of 20,000–40,000 ready tasks (so the ready set stays the same size while finished rows
// pile up, as in an hour of steady traffic). Reported at the start and at the end: throughput over
// the first and the last tenth of the tasks (from completed_at), the time to claim 10 tasks of
// another type (claim-probe.ts, under the same load, at 5 % and 95 % done) and the sizes of the
// tasks table, its indexes and task_events. Also counted: the VACUUMs of tasks during the soak
// (tasklab's own when autovacuum is off, src/maintenance/vacuum.ts; autovacuum's otherwise) and
// how often one was running when the progress poll looked.
import { loadavg } from 'node:os'
import { enqueueBatch, type NewTask } from '../../src/queue/enqueue'
import { freshDatabase } from '../lib/db'
import { cpuTicks, Tasklab } from '../lib/proc'
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
  /** VACUUMs of tasks (manual + auto) over the soak, and n_dead_tup at the end. */
  vacuums: number
  deadAtEnd: number
  /** Share of the 500 ms progress polls that saw a VACUUM running (any table of the database). */
  vacuumBusy: number
  /** Throughput over each tenth of the tasks, first to last (from completed_at). */
  tenths: number[]
  /**
   * CPU per task (µs) of the worker process and every backend of the soak's database (the
   * vacuum's included, the bench's own not) over the first and the last tenth: unlike
   * throughput, it barely moves when other work loads the machine's shared cores.
   */
  cpuUsStart: number
  cpuUsEnd: number
  /** The 1-minute load average at the first and the last tenth. */
  loadStart: number
  loadEnd: number
}

/** utime + stime of a process in clock ticks (1/100 s), or undefined once it is gone. */
function ticksIfAlive(pid: number): number | undefined {
  try {
    return cpuTicks(pid)
  } catch {
    return undefined
  }
}

interface CpuSample {
  done: number
  ticks: number
  load: number
}

/** CPU µs per task between the samples nearest to done = a and done = b. */
function cpuPerTask(samples: CpuSample[], a: number, b: number): { us: number; load: number } {
  const near = (x: number) =>
    samples.reduce((best, s) => (Math.abs(s.done - x) < Math.abs(best.done - x) ? s : best))
  const s0 = near(a)
  const s1 = near(b)
  return {
    us: s1.done > s0.done ? ((s1.ticks - s0.ticks) * 10_000) / (s1.done - s0.done) : Number.NaN,
    load: s1.load,
  }
}

const BACKLOG_LOW = 20_000
const BATCH = 1000

export async function soak(
  bin: string,
  n: number,
  concurrency: number,
  log: (s: string) => void,
): Promise<SoakResult> {
  const db = await freshDatabase(4, bin)
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
    let polls = 0
    let busyPolls = 0
    const ticks = new Map<number, number>()
    const cpu: CpuSample[] = []
    // Every 500 ms: the count reads the status index, whose dead entries grow with the soak (a
    // 50 ms poll took 20 % of a core by the end of 1,000,000 and slowed what it measured).
    await until('the soak to drain', 6 * 3600_000, 500, async () => {
      if (w.proc.exitCode !== null) throw new Error(`bench: soak worker exited: ${w.stderr}`)
      const left = await unfinished()
      const [v] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_progress_vacuum WHERE datname = current_database()`
      polls++
      if (v!.n > 0) busyPolls++
      const backends = await db.sql<{ pid: number }[]>`
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND application_name <> 'tasklab-test'`
      for (const pid of [w.pid, ...backends.map((b) => b.pid)]) {
        const t = ticksIfAlive(pid)
        if (t !== undefined) ticks.set(pid, t)
      }
      cpu.push({
        done: enqueued - left,
        ticks: [...ticks.values()].reduce((a, b) => a + b, 0),
        load: loadavg()[0]!,
      })
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
    const [vs] = await db.sql<{ vacuums: number; dead: number }[]>`
      SELECT (vacuum_count + autovacuum_count)::int AS vacuums, n_dead_tup::float8 AS dead
      FROM pg_stat_user_tables WHERE relname = 'tasks'`
    const [q] = await db.sql<{ t: string[] }[]>`
      SELECT (array[extract(epoch FROM min(started_at))]
          || percentile_disc(array[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1])
               WITHIN GROUP (ORDER BY extract(epoch FROM completed_at)))::text[] AS t
      FROM tasks WHERE task_type = 'delay_task' AND status = 'completed'`
    const edges = q!.t.map(Number)
    const tenths = edges.slice(1).map((t, i) => (0.1 * n) / (t - edges[i]!))
    const [t0, t100] = [edges[0]!, edges[10]!]
    // From 1 %: the worker's start-up CPU is not the queue's cost per task.
    const first = cpuPerTask(cpu, 0.01 * n, 0.1 * n)
    const last = cpuPerTask(cpu, 0.9 * n, n)
    return {
      n,
      concurrency,
      perSec: n / (t100 - t0),
      startPerSec: tenths[0]!,
      endPerSec: tenths[9]!,
      claimMsStart,
      claimMsEnd,
      sizesStart,
      sizesEnd,
      vacuums: vs!.vacuums,
      deadAtEnd: vs!.dead,
      vacuumBusy: polls > 0 ? busyPolls / polls : 0,
      tenths,
      cpuUsStart: first.us,
      cpuUsEnd: last.us,
      loadStart: first.load,
      loadEnd: last.load,
    }
  } finally {
    await worker?.stop()
    await db.drop()
  }
}

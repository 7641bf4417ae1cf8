// Issue 13, item 5: CPU per task of a drain, split between the worker process and its PostgreSQL
// backends, for one or more tasklab binaries run back to back, interleaved (the order flips every
// pair). CPU time, unlike a rate, keeps meaning on a busy machine, though contention still inflates
// it: compare binaries within one run only.
//
//   bun bench/tasklab/cpu-split.ts [--n 40000] [--pairs 3] [--concurrency 50] <bin> [<bin>…]
//
// The worker's start-up is excluded: its CPU is read once the first task was claimed and again when
// the last is completed. The backends are every connection of the worker to its fresh database.
import { readFileSync } from 'node:fs'
import { freshDatabase, unfinished } from '../lib/db'
import { cpuTicks, Tasklab, TICK_MS } from '../lib/proc'
import { median, until } from '../lib/stats'
import { fillNoop } from './enqueue'

const args = process.argv.slice(2)
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return dflt
  const v = Number(args[i + 1])
  args.splice(i, 2)
  return v
}
const N = opt('n', 40_000)
const PAIRS = opt('pairs', 3)
const C = opt('concurrency', 50)
const bins = args
if (bins.length === 0) throw new Error('usage: cpu-split.ts [--n N] [--pairs P] [--concurrency C] <bin>…')

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')

interface Run {
  bin: string
  perSec: number
  workerUs: number
  pgUs: number
  stmtsPer100: number
  load: string
}

async function drain(bin: string): Promise<Run> {
  const db = await freshDatabase(2, bin)
  let w: Tasklab | undefined
  try {
    await fillNoop(db.sql, N)
    const worker = new Tasklab(bin, 'worker', db.url, { STARTER__WORKER__CONCURRENCY: String(C) })
    w = worker
    const backends = async () =>
      (
        await db.sql<{ pid: number }[]>`
          SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`
      ).map((r) => r.pid)
    await until('the first claim', 60_000, 2, async () => {
      if (worker.proc.exitCode !== null) throw new Error(`bench: worker exited: ${worker.stderr}`)
      const [r] = await db.sql`SELECT EXISTS (SELECT 1 FROM tasks WHERE status <> 'pending') AS busy`
      return r!.busy ? true : undefined
    })
    const w0 = cpuTicks(worker.pid)
    const start = new Map((await backends()).map((p) => [p, cpuTicks(p)]))
    const commits = async () =>
      Number(
        (
          await db.sql`SELECT pg_stat_get_db_xact_commit(oid) AS n FROM pg_database WHERE datname = current_database()`
        )[0]!.n,
      )
    const x0 = await commits()
    await until('the queue to drain', 300_000, 20, async () => ((await unfinished(db)) ? undefined : true))
    const w1 = cpuTicks(worker.pid)
    const x1 = await commits()
    // A backend that appeared after the first claim counts from zero.
    let p1 = 0
    for (const p of await backends()) p1 += cpuTicks(p) - (start.get(p) ?? 0)
    const [span] = await db.sql`
      SELECT extract(epoch FROM max(completed_at) - min(started_at)) * 1000 AS ms FROM tasks`
    return {
      bin,
      perSec: Math.round(N / (Number(span!.ms) / 1000)),
      workerUs: +(((w1 - w0) * TICK_MS * 1000) / N).toFixed(1),
      pgUs: +((p1 * TICK_MS * 1000) / N).toFixed(1),
      // Statements per 100 tasks (each worker statement is its own transaction; the bench's polls add ~1 per 20 ms).
      stmtsPer100: +(((x1 - x0) * 100) / N).toFixed(2),
      load: load(),
    }
  } finally {
    await w?.stop()
    await db.drop()
  }
}

const runs: Run[] = []
for (let p = 0; p < PAIRS; p++) {
  const order = p % 2 === 0 ? bins : [...bins].reverse()
  for (const bin of order) {
    const r = await drain(bin)
    runs.push(r)
    console.error(JSON.stringify({ pair: p, ...r }))
  }
}
console.log(`${N} no-op tasks, c=${C}, ${PAIRS} runs each, medians (min–max)`)
console.log('| binary | tasks/s | worker µs/task | PostgreSQL µs/task | transactions per 100 tasks |')
console.log('|---|---|---|---|---|')
const cell = (xs: number[]) => `${+median(xs).toFixed(1)} (${Math.min(...xs)}–${Math.max(...xs)})`
for (const bin of bins) {
  const rs = runs.filter((r) => r.bin === bin)
  console.log(
    `| ${bin} | ${cell(rs.map((r) => r.perSec))} | ${cell(rs.map((r) => r.workerUs))} | ${cell(rs.map((r) => r.pgUs))} | ${cell(rs.map((r) => r.stmtsPer100))} |`,
  )
}

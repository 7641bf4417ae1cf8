// Issue 13, item 5: where the worker's CPU goes per attempt. Queues N no-op tasks, runs
// `bun --cpu-prof src/main.ts worker` (c=50) until they are drained, stops it, and prints the top
// self-time functions of the profile (`bun bench/tasklab/worker-profile.ts [n] [outdir]`).
import { readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { freshDatabase, unfinished } from '../lib/db'
import { cpuTicks, QUIET, TICK_MS } from '../lib/proc'
import { until } from '../lib/stats'
import { fillNoop } from './enqueue'

const N = Number(process.argv[2] ?? 100_000)
const OUT = process.argv[3] ?? '/tmp/tasklab-worker-prof'
const db = await freshDatabase(2)
try {
  await fillNoop(db.sql, N)
  const proc = Bun.spawn(
    ['bun', '--cpu-prof', `--cpu-prof-dir=${OUT}`, resolve(import.meta.dir, '../../src/main.ts'), 'worker'],
    {
      env: {
        ...process.env,
        ...QUIET,
        DATABASE_URL: db.url,
        STARTER__WORKER__CONCURRENCY: '50',
        STARTER__DATA_DIR: `${OUT}/data`,
      },
      stdout: 'ignore',
      stderr: 'inherit',
    },
  )
  await until('the queue to drain', 300_000, 50, async () => ((await unfinished(db)) ? undefined : true))
  const cpuMs = cpuTicks(proc.pid) * TICK_MS
  proc.kill('SIGTERM')
  await proc.exited
  const [span] =
    await db.sql`SELECT extract(epoch FROM max(completed_at) - min(started_at)) * 1000 AS ms FROM tasks`
  console.log(
    `drained ${N} in ${Math.round(Number(span!.ms))} ms; worker CPU incl. start-up ${cpuMs} ms = ${((cpuMs * 1000) / N).toFixed(1)} µs/task`,
  )
  const file = readdirSync(OUT)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
    .pop()!
  const prof = JSON.parse(readFileSync(`${OUT}/${file}`, 'utf8'))
  const dt = new Map<number, number>()
  for (let i = 0; i < prof.samples.length; i++)
    dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0))
  const self = new Map<string, number>()
  let total = 0
  for (const n of prof.nodes) {
    const t = dt.get(n.id) ?? 0
    total += t
    const cf = n.callFrame
    const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber}`
    self.set(key, (self.get(key) ?? 0) + t)
  }
  const idle = [...self]
    .filter(([k]) => k.startsWith('(idle)') || k.startsWith('(program)'))
    .reduce((s, [, v]) => s + v, 0)
  console.log(`profile ${(total / 1000).toFixed(0)} ms, idle/program ${(idle / 1000).toFixed(0)} ms`)
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40))
    console.log(`${((100 * v) / (total - idle)).toFixed(1).padStart(5)} %  ${k}`)
} finally {
  await db.drop()
}

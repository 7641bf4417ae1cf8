// Enqueue → handler start, with an idle worker in another process: `warmup` tasks, a 1 s pause,
// then `samples` tasks, one `gapMs` apart, each enqueue awaited (as the peers' harness does). The
// time is taken just before the enqueue call, so the latency includes the INSERT and its commit,
// the NOTIFY, the claim and the dispatch.
import { resolve } from 'node:path'
import { enqueue } from '../../src/queue/enqueue'
import { Notifier } from '../../src/queue/notify'
import { freshDatabase } from '../lib/db'
import { drain } from '../lib/proc'
import { type LatencySummary, nowMs, summarize, until } from '../lib/stats'
import { DEFAULTS } from './enqueue'

export interface LatencySettings {
  samples: number
  gapMs: number
  warmup: number
}

export async function latency(s: LatencySettings): Promise<LatencySummary & { enqueueCallP50: number }> {
  const db = await freshDatabase(2)
  const child = Bun.spawn(['bun', resolve(import.meta.dir, 'latency-worker.ts'), db.url, String(s.samples)], {
    stdout: 'pipe',
    stderr: 'inherit',
  })
  let out = ''
  void drain(child.stdout, (s) => (out += s))
  const notifier = new Notifier(db.sql)
  const opts = { createdBy: null, defaults: DEFAULTS }
  const add = async (payload: object) => {
    await enqueue(db.sql, { task_type: 'bench_lat', payload }, opts)
    notifier.poke()
  }
  try {
    await until('the latency worker', 30_000, 10, () => (out.includes('ready') ? true : undefined))
    for (let i = 0; i < s.warmup; i++) {
      await add({ t: nowMs(), warm: true })
      await Bun.sleep(s.gapMs)
    }
    await Bun.sleep(1000)
    const callMs: number[] = []
    const start = nowMs()
    for (let i = 0; i < s.samples; i++) {
      const wait = start + i * s.gapMs - nowMs()
      if (wait > 0) await Bun.sleep(wait)
      const t = nowMs()
      await add({ t })
      callMs.push(nowMs() - t)
    }
    const line = await until('the latencies', 60_000, 10, () =>
      out.split('\n').find((l) => l.startsWith('{')),
    )
    const { latencies } = JSON.parse(line) as { latencies: number[] }
    return { ...summarize(latencies), enqueueCallP50: summarize(callMs).p50 }
  } finally {
    child.kill('SIGTERM')
    await child.exited
    await db.drop()
  }
}

// Worker child process. Started by bench.mjs with one JSON argument:
//   { lib, db, kind, concurrency, phase: 'process'|'latency'|'crash', expect }
// Reports to the parent over IPC; all times are nowMs() (CLOCK_MONOTONIC, ms).
import { dbUrl, nowMs, sleep } from './lib/common.mjs'

const opts = JSON.parse(process.argv[2])
const lib = await import(`./lib/${opts.lib}.mjs`)
const send = (m) => process.send?.(m)

let handled = 0
let firstAt = null
const latencies = []
const handlers = {
  async noop() {
    if (firstAt === null) {
      firstAt = nowMs()
      send({ type: 'first', t: firstAt })
    }
    if (++handled === opts.expect) send({ type: 'handled', t: nowMs(), count: handled })
  },
  async lat(payload) {
    const t = nowMs()
    if (payload.warm) return
    latencies.push(t - payload.t)
    if (latencies.length === opts.expect) send({ type: 'lat', values: latencies })
  },
  async long(payload, meta) {
    send({ type: 'long-start', t: nowMs(), id: meta.id, attempt: meta.attempt, pid: process.pid })
    await sleep(payload.sleepMs ?? 60_000)
  },
}

const tasks = { process: ['noop'], latency: ['lat'], crash: ['long'] }[opts.phase]
const cfg = lib.workerConfig(opts.kind, opts.concurrency)

send({ type: 'starting', t: nowMs() })
const worker = await lib.startWorker(dbUrl(opts.db), cfg, handlers, tasks)
send({ type: 'ready', t: nowMs() })

process.on('message', async (m) => {
  if (m?.type === 'stop') {
    const timer = setTimeout(() => process.exit(3), 10_000)
    try {
      await worker.stop()
    } finally {
      clearTimeout(timer)
      process.exit(0)
    }
  }
})
process.on('disconnect', () => process.exit(0))

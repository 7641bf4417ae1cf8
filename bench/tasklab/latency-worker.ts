// The idle worker of the latency test, in its own process (as the peers' worker.mjs): the engine's
// Worker at concurrency 10 with one handler that subtracts the enqueue time carried in the payload
// (wall clock with sub-ms precision, comparable across processes) on entry. Prints "ready", then one JSON line with
// every latency once `expect` samples arrived.
import { Type } from '@sinclair/typebox'
import { connect } from '../../src/db/connect'
import { defineHandler } from '../../src/handlers/contract'
import { silentLogger } from '../../src/log'
import { QueueEventBus } from '../../src/queue/events'
import { Worker } from '../../src/worker/runner'
import { nowMs } from '../lib/stats'

const [url, expectArg] = process.argv.slice(2)
const expect = Number(expectArg)
const latencies: number[] = []

const probe = defineHandler({
  type: 'bench_lat',
  description: 'bench latency probe',
  schema: Type.Object({ t: Type.Number(), warm: Type.Optional(Type.Boolean()) }),
  example: { t: 0 },
  async run(p) {
    const t = nowMs()
    if (p.warm) return null
    latencies.push(t - p.t)
    if (latencies.length === expect) process.stdout.write(`${JSON.stringify({ latencies })}\n`)
    return null
  },
})

const sql = connect(url!, { max: 10, applicationName: 'tasklab-bench-latency' })
const worker = new Worker({
  sql,
  events: new QueueEventBus(),
  log: silentLogger,
  handlers: [probe],
  concurrency: 10,
  pollIntervalMs: 5000,
  leaseMs: 30_000,
  shutdownGraceMs: 0,
  defaultTimeoutMs: 60_000,
})
await worker.start()
process.stdout.write('ready\n')
process.on('SIGTERM', async () => {
  await worker.stop(0)
  await sql.end({ timeout: 1 })
  process.exit(0)
})

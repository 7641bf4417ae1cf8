// Not a test: measures the embedded database against the real PostgreSQL on the same machine, for
// the numbers in the README (`bun test/embedded/measure.ts`). Same engine code, same worker, only
// the database differs: one-by-one enqueues from 16 concurrent callers, then a 2,000-task drain by
// one in-process worker of concurrency 8 (data_processing, no I/O: the queue is the bottleneck).
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { connect, type Sql } from '../../src/db/connect'
import { openEmbedded } from '../../src/db/embedded'
import { migrate } from '../../src/db/migrate'
import { EMBEDDED_POOL_SIZE } from '../../src/db/pglite'
import { builtinHandlers } from '../../src/handlers'
import { silentLogger } from '../../src/log'
import { enqueue, enqueueBatch, type NewTask } from '../../src/queue/enqueue'
import { QueueEventBus } from '../../src/queue/events'
import { Notifier } from '../../src/queue/notify'
import { upsertTypes } from '../../src/queue/registry'
import { defaultRetryStrategy } from '../../src/queue/retry'
import { Worker } from '../../src/worker/runner'
import { createTestDatabase } from '../helpers/db'

const defaults = { maxAttempts: 3, retryStrategy: defaultRetryStrategy(100, 3) }
const task = (i: number): NewTask => ({
  task_type: 'data_processing',
  payload: { operation: 'sum', data: [i, 1, 2] },
})

async function measure(name: string, sql: Sql): Promise<void> {
  const handlers = builtinHandlers({ sandboxDir: '/tmp' })
  await upsertTypes(
    sql,
    handlers.map((h) => ({
      name: h.type,
      description: h.description,
      payload_schema: {},
      example_payload: h.example,
    })),
  )
  // 1,000 single enqueues, 16 at a time (what concurrent API clients do).
  let next = 0
  let t = performance.now()
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < 1000) await enqueue(sql, task(next++), { createdBy: null, defaults })
    }),
  )
  const enqueueRate = 1000 / ((performance.now() - t) / 1000)
  await sql`DELETE FROM tasks`

  for (let b = 0; b < 4; b++)
    await enqueueBatch(
      sql,
      Array.from({ length: 500 }, (_, i) => task(i)),
      { createdBy: null, defaults },
    )
  const events = new QueueEventBus()
  let done = 0
  const all = new Promise<void>((resolve) =>
    events.on('task:transition', (e) => {
      if (e.to === 'completed' && ++done === 2000) resolve()
    }),
  )
  const worker = new Worker({
    sql,
    events,
    log: silentLogger,
    handlers,
    concurrency: 8,
    pollIntervalMs: 1000,
    leaseMs: 30_000,
    shutdownGraceMs: 1000,
    defaultTimeoutMs: 30_000,
    notifier: new Notifier(sql),
  })
  t = performance.now()
  await worker.start()
  await all
  const drainRate = 2000 / ((performance.now() - t) / 1000)
  await worker.stop()
  const rss = Math.round(process.memoryUsage().rss / 1024 / 1024)
  console.log(
    `${name.padEnd(10)} enqueue ${Math.round(enqueueRate)}/s   drain ${Math.round(drainRate)}/s   rss ${rss} MiB`,
  )
}

const which = process.argv[2] ?? 'both'
if (which !== 'embedded') {
  const db = await createTestDatabase()
  await measure('postgres', db.sql)
  await db.drop()
}
if (which !== 'postgres') {
  const dir = mkdtempSync(join('/tmp', 'tlmeasure-'))
  const started = performance.now()
  const edb = await openEmbedded(dir, silentLogger)
  const sql = connect(edb.url, { max: Number(process.env.POOL ?? EMBEDDED_POOL_SIZE) })
  await migrate(sql)
  console.log(`embedded   first open + migrate ${Math.round(performance.now() - started)} ms`)
  await measure('embedded', sql)
  await sql.end()
  await edb.close()
  rmSync(dir, { recursive: true, force: true })
}
process.exit(0)

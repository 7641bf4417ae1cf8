// Chaos off means no fault code on the hot path: createWorker checks the flag once and the worker
// holds no hooks, so a rule sitting in the database (fail, p = 1) changes nothing and the table is
// never read. With chaos on, the same rule fails every attempt, and the table is read on load and
// refresh — a handful of times, not once per task.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createWorker } from '../../src/cli/run'
import { loadConfig } from '../../src/config'
import type { Sql } from '../../src/db/connect'
import { silentLogger } from '../../src/log'
import { enqueueBatch } from '../../src/queue/enqueue'
import { QueueEventBus } from '../../src/queue/events'
import { Notifier } from '../../src/queue/notify'
import { enqueueDefaultsOf, type Runtime } from '../../src/runtime'
import type { WorkerOptions } from '../../src/worker/runner'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { statusCounts } from '../helpers/proc'
import { waitFor } from '../helpers/wait'

const TASKS = 60

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

/** The pool, with every statement's text recorded (tagged-template calls are what the engine makes). */
function recording(sql: Sql): { sql: Sql; statements: string[] } {
  const statements: string[] = []
  const proxy = new Proxy(sql, {
    apply(target, self, args) {
      const [strings] = args
      if (Array.isArray(strings) && 'raw' in strings) statements.push(strings.join('$'))
      return Reflect.apply(target, self, args)
    },
  })
  return { sql: proxy, statements }
}

async function runBatch(chaos: boolean, tag: string) {
  const config = loadConfig({}, { STARTER__CHAOS__ENABLED: String(chaos), STARTER__WORKER__CONCURRENCY: '8' })
  const rec = recording(db.sql)
  const rt = {
    config,
    log: silentLogger,
    sql: rec.sql,
    events: new QueueEventBus(),
    notifier: new Notifier(db.sql),
    enqueueDefaults: enqueueDefaultsOf(config),
  } as unknown as Runtime
  const worker = createWorker(rt, { idSuffix: tag, pollIntervalMs: 200 })
  const opts = (worker as unknown as { opts: WorkerOptions }).opts
  const tasks = Array.from({ length: TASKS }, () => ({
    task_type: 'delay_task',
    payload: { delay_seconds: 0 },
    metadata: { tag },
    max_attempts: 1,
  }))
  await worker.start()
  try {
    await enqueueBatch(db.sql, tasks, { createdBy: null, defaults: enqueueDefaultsOf(config) })
    rt.notifier.poke()
    await waitFor(`${TASKS} tasks of ${tag} to finish`, async () => {
      const [row] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM tasks WHERE metadata->>'tag' = ${tag} AND status IN ('completed', 'failed')`
      return row!.n === TASKS
    })
  } finally {
    await worker.stop()
  }
  const [outcome] = await db.sql<{ completed: number; failed: number }[]>`
    SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status = 'failed')::int AS failed
    FROM tasks WHERE metadata->>'tag' = ${tag}`
  return {
    opts,
    outcome: outcome!,
    faultReads: rec.statements.filter((s) => s.includes('chaos_faults')).length,
    statements: rec.statements.length,
  }
}

test('chaos off: no hooks, a p = 1 fail rule in the table is never read and never applied', async () => {
  await db.sql`INSERT INTO chaos_faults (task_type, kind, permanent, expires_at) VALUES ('*', 'fail', true, now() + interval '1 hour')`
  const off = await runBatch(false, 'off')
  expect(off.opts.beforeRun).toBeUndefined()
  expect(off.opts.onControl).toBeUndefined()
  expect(off.outcome).toEqual({ completed: TASKS, failed: 0 })
  expect(off.statements).toBeGreaterThan(0) // the recording saw the worker's statements
  expect(off.faultReads).toBe(0)

  // The control: the same rule with chaos on fails every attempt, from a few reads of the table.
  const on = await runBatch(true, 'on')
  expect(on.opts.beforeRun).toBeFunction()
  expect(on.outcome).toEqual({ completed: 0, failed: TASKS })
  expect(on.faultReads).toBeGreaterThanOrEqual(1)
  expect(on.faultReads).toBeLessThan(TASKS / 4)
  expect(await statusCounts(db.sql)).toEqual({ completed: TASKS, failed: TASKS })
})

// The two ways chaos ends a worker process abruptly, against real `tasklab worker --chaos`
// processes: a crash rule (SIGKILL mid-task) and a kill message (POST /chaos/workers/{id}/kill).
// Neither cleans up: the task stays running until its lease expires and rescue gives it back.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { killWorker } from '../../src/faults/kill'
import { createFault } from '../../src/faults/rules'
import { enqueue } from '../../src/queue/enqueue'
import { rescueExpired } from '../../src/queue/rescue'
import { defaultRetryStrategy } from '../../src/queue/retry'
import { WORKER_LOST } from '../../src/shared/states'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { wakeWorkers } from '../helpers/load'
import { type Child, spawnTasklab, waitFor, workerRegistered } from '../helpers/proc'
import { statusOf } from '../helpers/worker'

let db: TestDatabase
const children: Child[] = []
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  await db.drop()
})

const worker = (id: string) => {
  const child = spawnTasklab(['worker', '--chaos', '--id', id], {
    env: {
      DATABASE_URL: db.url,
      STARTER__WORKER__LEASE_SECS: '1',
      STARTER__WORKER__POLL_INTERVAL_SECS: '0.2',
    },
  })
  children.push(child)
  return child
}

const add = async (metadata: Record<string, unknown>, delay = 0) => {
  const { task } = await enqueue(
    db.sql,
    { task_type: 'delay_task', payload: { delay_seconds: delay }, metadata, max_attempts: 3 },
    { createdBy: null, defaults: { maxAttempts: 3, retryStrategy: defaultRetryStrategy(10, 3) } },
  )
  await wakeWorkers(db.sql)
  return task
}

/** The task's lease runs out with nobody heartbeating it; rescue (ours, or a live worker's) takes it. */
const rescued = (id: string) =>
  waitFor(
    `task ${id} to be rescued`,
    async () => {
      await rescueExpired(db.sql)
      const [e] = await db.sql<{ attempt: number; actor: string }[]>`
        SELECT attempt, actor FROM task_events
        WHERE task_id = ${id} AND from_status = 'running' AND to_status = 'retrying' AND error = ${WORKER_LOST}`
      return e
    },
    { timeoutMs: 15_000 },
  )

test('a crash rule SIGKILLs the worker mid-task; the task is rescued as "worker lost"', async () => {
  const child = worker('crash1')
  await workerRegistered(db.sql, child)
  await createFault(db.sql, { task_type: 'delay_task', kind: 'crash', match: { crash: true } }, null)
  // The worker learns of the rule through a control notification; a task it claimed before then
  // would simply complete. Wait until it says it holds the rule.
  await waitFor(
    'the worker to load the crash rule',
    () => /chaos fault rules loaded.*"rules":1/.test(child.output()),
    {
      timeoutMs: 10_000,
      detail: () => child.output(),
    },
  )
  const task = await add({ crash: true })
  await child.waitExit(15_000)
  expect(child.proc.signalCode).toBe('SIGKILL')
  const [row] = await db.sql<
    { stopped_at: Date | null }[]
  >`SELECT stopped_at FROM workers WHERE pid = ${child.pid}`
  expect(row!.stopped_at).toBeNull() // no cleanup ran
  expect((await statusOf(db.sql, task.id)).status).toBe('running')
  expect(await rescued(task.id)).toEqual({ attempt: 1, actor: 'rescue' })
  await db.sql`DELETE FROM chaos_faults`
})

test('a kill message ends exactly the worker it names, holding its task', async () => {
  const a = worker('a')
  const b = worker('b')
  const ids = new Map([
    [await workerRegistered(db.sql, a), a],
    [await workerRegistered(db.sql, b), b],
  ])
  const task = await add({ long: true }, 30)
  const owner = await waitFor(
    'the long task to start',
    async () => (await statusOf(db.sql, task.id)).locked_by ?? undefined,
    {
      timeoutMs: 10_000,
    },
  )
  const target = ids.get(owner)!
  const other = target === a ? b : a
  await killWorker(db.sql, owner)
  await target.waitExit(10_000)
  expect(target.proc.signalCode).toBe('SIGKILL')
  expect(await rescued(task.id)).toEqual({ attempt: 1, actor: 'rescue' })
  expect(other.proc.exitCode).toBeNull()
})

// Configuration end to end, through real worker processes: a flag beats its environment variable,
// which beats the default, and the seed's STARTER__WORKER__* settings really change behaviour
// (what the worker registers, how many tasks it runs at once, how often it polls, its timeout).
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { WorkerRow } from '../../src/queue/workers'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'
import { delayTasks, enqueueAll } from '../helpers/load'
import { type Child, spawnTasklab, tempDir, waitFor, workerRegistered } from '../helpers/proc'

let db: TestDatabase
let dir: string
const children: Child[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  dir = await tempDir('config')
  await registerTypes(db.sql, 'delay_task')
})

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  await db?.drop()
})

function startWorker(args: string[], env: Record<string, string>): Child {
  const child = spawnTasklab(['worker', ...args], {
    env: { DATABASE_URL: db.url, STARTER__DATA_DIR: dir, STARTER__LOG__LEVEL: 'warn', ...env },
  })
  children.push(child)
  return child
}

async function stop(...workers: Child[]): Promise<void> {
  for (const w of workers) w.proc.kill('SIGTERM')
  expect(await Promise.all(workers.map((w) => w.waitExit(15_000)))).toEqual(workers.map(() => 0))
}

async function workerRow(child: Child): Promise<WorkerRow> {
  const id = await workerRegistered(db.sql, child)
  const [row] = await db.sql<WorkerRow[]>`SELECT * FROM workers WHERE id = ${id}`
  return row!
}

test('flag > environment variable > default, as the worker registers itself', async () => {
  const env = {
    STARTER__WORKER__CONCURRENCY: '7',
    STARTER__WORKER__LEASE_SECS: '2.5',
    STARTER__WORKER__ID: 'fromenv',
  }
  const plain = startWorker([], {})
  const fromEnv = startWorker([], env)
  const fromFlags = startWorker(['--concurrency', '3', '--lease-secs=4', '--id', 'fromflag'], env)
  const rows = await Promise.all([plain, fromEnv, fromFlags].map(workerRow))
  expect(rows.map((r) => [r.concurrency, r.lease_ms, r.id.split('-').at(-1)])).toEqual([
    [4, 30_000, 'w0'],
    [7, 2500, 'wfromenv'],
    [3, 4000, 'wfromflag'],
  ])
  await stop(plain, fromEnv, fromFlags)
}, 60_000)

test('STARTER__WORKER__CONCURRENCY bounds the tasks a worker runs at once (strict: PREFETCH=0)', async () => {
  // With prefetch on (the default) the table also counts tasks claimed ahead and finished tasks
  // whose outcome is not written yet as running; how many *execute* is bounded all the same
  // (test/worker/prefetch.test.ts). PREFETCH=0 keeps the table itself within concurrency.
  const worker = startWorker([], { STARTER__WORKER__CONCURRENCY: '3', STARTER__WORKER__PREFETCH: '0' })
  const id = await workerRegistered(db.sql, worker)
  const tasks = await enqueueAll(db.sql, delayTasks(6, 1.5))
  const ids = tasks.map((t) => t.id)
  let most = 0
  await waitFor(
    'all 6 tasks to complete',
    async () => {
      const [row] = await db.sql<{ running: number; completed: number }[]>`
        SELECT count(*) FILTER (WHERE status = 'running')::int AS running,
               count(*) FILTER (WHERE status = 'completed')::int AS completed
        FROM tasks WHERE id = ANY(${ids}::uuid[])`
      most = Math.max(most, row!.running)
      return row!.completed === 6
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  )
  // Never more than 3 at once, and 3 at once was reached (6 tasks of 1.5 s, all ready together).
  expect(most).toBe(3)
  const [runs] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM task_events WHERE to_status = 'running' AND worker_id = ${id} AND task_id = ANY(${ids}::uuid[])`
  expect(runs!.n).toBe(6)
  await stop(worker)
}, 60_000)

/**
 * Inserts tasks without any NOTIFY, one after another, each right after the previous one completed
 * (when the worker has just re-armed its poll timer): only the poll can find them. With a 0.2 s
 * poll each is found at once; with the 5 s default or a 1 h poll, not within 2.5 s.
 */
async function silentTasksFound(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const task = await insertTask(db.sql, { task_type: 'delay_task', payload: { delay_seconds: 0 } })
    await waitFor(
      `silent task ${i + 1} to be found by the poll`,
      async () => {
        const [row] = await db.sql`SELECT status::text FROM tasks WHERE id = ${task.id}`
        return row!.status === 'completed'
      },
      { timeoutMs: 2500, intervalMs: 25 },
    )
  }
}

test('--poll-interval-secs beats STARTER__WORKER__POLL_INTERVAL_SECS', async () => {
  const worker = startWorker(['--poll-interval-secs', '0.2'], { STARTER__WORKER__POLL_INTERVAL_SECS: '3600' })
  await workerRegistered(db.sql, worker)
  await silentTasksFound()
  await stop(worker)
}, 60_000)

test('every STARTER__WORKER__* variable is accepted; poll interval and timeout take effect', async () => {
  const worker = startWorker([], {
    STARTER__WORKER__POLL_INTERVAL_SECS: '0.2',
    STARTER__WORKER__TIMEOUT_SECS: '0.3',
    STARTER__WORKER__MAX_RETRIES: '5',
    STARTER__WORKER__RETRY_BACKOFF_BASE_SECS: '0.5',
    STARTER__WORKER__SHUTDOWN_GRACE_SECS: '2',
    STARTER__WORKER__LEASE_SECS: '5',
    STARTER__WORKER__CONCURRENCY: '2',
    STARTER__WORKER__ID: 'all',
    STARTER__DATABASE__POOL_SIZE: '4',
  })
  const row = await workerRow(worker)
  expect([row.concurrency, row.lease_ms]).toEqual([2, 5000])
  await silentTasksFound()

  // No per-task or per-type timeout: the configured default (0.3 s) cuts a 5 s task.
  const [slow] = await enqueueAll(db.sql, delayTasks(1, 5, { max_attempts: 1 }))
  await waitFor(
    'the slow task to time out',
    async () => {
      const [t] = await db.sql`SELECT status::text, last_error FROM tasks WHERE id = ${slow!.id}`
      return t!.status === 'failed' && t
    },
    { timeoutMs: 10_000 },
  )
  const [t] = await db.sql`SELECT last_error FROM tasks WHERE id = ${slow!.id}`
  expect(t!.last_error).toBe('timed out after 300 ms')
  await stop(worker)
}, 60_000)

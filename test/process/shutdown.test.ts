// SIGTERM drains: the worker stops claiming, lets running attempts finish within the grace period,
// hands back (running → pending, attempt not counted) what is still running, and exits 0. No task
// may be left `running` behind it, even when the signal lands while a claim is in flight.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { enqueueBatch } from '../../src/queue/enqueue'
import type { TaskEvent } from '../../src/queue/task'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { delayTasks, enqueueAll, TEST_DEFAULTS, wakeWorkers } from '../helpers/load'
import {
  type Child,
  holdLock,
  spawnTasklab,
  statusCounts,
  tempDir,
  waitFor,
  workerRegistered,
} from '../helpers/proc'

const GRACE_MS = 1000
let db: TestDatabase
let dir: string
const children: Child[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  dir = await tempDir('shutdown')
  await registerTypes(db.sql, 'delay_task')
})

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  await db?.drop()
})

function startWorker(extra: Record<string, string> = {}): Child {
  const child = spawnTasklab(['worker'], {
    env: {
      DATABASE_URL: db.url,
      STARTER__DATA_DIR: dir,
      STARTER__WORKER__CONCURRENCY: '4',
      STARTER__WORKER__SHUTDOWN_GRACE_SECS: String(GRACE_MS / 1000),
      STARTER__LOG__LEVEL: 'warn',
      ...extra,
    },
  })
  children.push(child)
  return child
}

async function completedCount(): Promise<number> {
  return (await statusCounts(db.sql)).completed ?? 0
}

test('SIGTERM under load exits 0 within the grace period, hands back long tasks, leaves nothing running', async () => {
  // Short tasks keep the claim loop busy so the signal often lands mid-claim; the long one cannot
  // finish within the grace period and must be handed back, every round.
  const [long] = await enqueueAll(db.sql, delayTasks(1, 600, { priority: 'critical' }))
  await enqueueAll(db.sql, delayTasks(1500, 0.02))

  for (let round = 1; round <= 3; round++) {
    const worker = startWorker()
    const workerId = await workerRegistered(db.sql, worker)
    const before = await completedCount()
    await waitFor(
      'the worker to complete some tasks and hold the long one',
      async () => {
        const [row] = await db.sql`SELECT locked_by FROM tasks WHERE id = ${long!.id}`
        return row!.locked_by === workerId && (await completedCount()) >= before + 30
      },
      { timeoutMs: 20_000 },
    )

    worker.proc.kill('SIGTERM')
    const signalledAt = performance.now()
    expect(await worker.waitExit(GRACE_MS + 15_000)).toBe(0)
    const exitMs = Math.round(performance.now() - signalledAt)
    console.log(`shutdown: round ${round} exited 0 ${exitMs} ms after SIGTERM (grace ${GRACE_MS} ms)`)

    const counts = await statusCounts(db.sql)
    expect(counts.running ?? 0).toBe(0)
    expect(counts.retrying ?? 0).toBe(0)
    // The hand-back does not count the attempt: the long task is as if never claimed.
    const [task] =
      await db.sql`SELECT status::text, current_attempt, locked_by, started_at FROM tasks WHERE id = ${long!.id}`
    expect(task).toEqual({ status: 'pending', current_attempt: 0, locked_by: null, started_at: null })
    const [handBack] = await db.sql<TaskEvent[]>`
      SELECT * FROM task_events WHERE task_id = ${long!.id} AND from_status = 'running' ORDER BY id DESC LIMIT 1`
    expect([handBack!.to_status, handBack!.worker_id, handBack!.actor]).toEqual([
      'pending',
      workerId,
      'worker',
    ])
    const [w] = await db.sql`SELECT stopped_at FROM workers WHERE id = ${workerId}`
    expect(w!.stopped_at).not.toBeNull()
  }
}, 120_000)

test('SIGTERM lets attempts that fit in the grace period finish, then exits 0', async () => {
  await db.sql`DELETE FROM tasks`
  const worker = startWorker({ STARTER__WORKER__SHUTDOWN_GRACE_SECS: '20' })
  const workerId = await workerRegistered(db.sql, worker)
  const tasks = await enqueueAll(db.sql, delayTasks(2, 1.5))
  const ids = tasks.map((t) => t.id)
  await waitFor(
    'both tasks to run',
    async () => {
      const rows = await db.sql`SELECT 1 FROM tasks WHERE id = ANY(${ids}::uuid[]) AND status = 'running'`
      return rows.length === 2
    },
    { timeoutMs: 15_000 },
  )

  worker.proc.kill('SIGTERM')
  expect(await worker.waitExit(20_000 + 10_000)).toBe(0)
  const rows =
    await db.sql`SELECT status::text, locked_by, current_attempt FROM tasks WHERE id = ANY(${ids}::uuid[])`
  expect([...rows]).toEqual([
    { status: 'completed', locked_by: null, current_attempt: 1 },
    { status: 'completed', locked_by: null, current_attempt: 1 },
  ])
  const [events] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM task_events WHERE task_id = ANY(${ids}::uuid[]) AND to_status = 'completed' AND worker_id = ${workerId}`
  expect(events!.n).toBe(2)
}, 60_000)

test('SIGTERM while a claim is in flight: the claimed tasks are run or handed back, never left running', async () => {
  await db.sql`DELETE FROM tasks`
  // A 1 h poll: this worker claims only when notified, so the test decides when the claim starts.
  const worker = startWorker({ STARTER__LOG__LEVEL: 'info', STARTER__WORKER__POLL_INTERVAL_SECS: '3600' })
  await workerRegistered(db.sql, worker)
  await waitFor('the worker to go idle', () => worker.output().includes('worker started'), {
    timeoutMs: 10_000,
  })
  const inserted = await enqueueBatch(db.sql, delayTasks(3, 3), { createdBy: null, defaults: TEST_DEFAULTS })
  const ids = inserted.map((r) => r.task.id)

  // Hold a SHARE lock on tasks: the worker's claim (an UPDATE) waits on it, in flight, until we let go.
  const release = await holdLock(db.sql, 'LOCK TABLE tasks IN SHARE MODE')
  try {
    await wakeWorkers(db.sql)
    await waitFor(
      'the claim to wait on the lock',
      async () => {
        const rows = await db.sql`
        SELECT 1 FROM pg_stat_activity
        WHERE datname = ${db.name} AND application_name = 'tasklab-worker' AND wait_event_type = 'Lock'
          AND query LIKE '%picked%'`
        return rows.length > 0
      },
      { timeoutMs: 10_000 },
    )

    worker.proc.kill('SIGTERM')
    await waitFor('the drain to begin', () => worker.output().includes('SIGTERM received'), {
      timeoutMs: 10_000,
    })
    // Give a drain that ignores the claim in flight time to finish and say so (it must not).
    await waitFor(
      'the drain to end or the grace period to pass',
      () => worker.output().includes('worker stopped'),
      {
        timeoutMs: GRACE_MS + 1000,
      },
    ).catch(() => {})
  } finally {
    await release()
  }
  expect(await worker.waitExit(GRACE_MS + 15_000)).toBe(0)

  const rows = await db.sql`SELECT status::text, locked_by FROM tasks WHERE id = ANY(${ids}::uuid[])`
  expect(rows.filter((r) => r.status === 'running')).toEqual([])
  expect(rows.map((r) => r.status)).toEqual(['pending', 'pending', 'pending'])
}, 60_000)

test('SIGTERM during start-up drains too: exit 0, nothing left running', async () => {
  await db.sql`DELETE FROM tasks`
  const tasks = await enqueueAll(db.sql, delayTasks(2, 3))
  const ids = tasks.map((t) => t.id)
  // Hold task_types: the worker's start-up (it registers its types first) waits on it, mid-start.
  const release = await holdLock(db.sql, 'LOCK TABLE task_types IN ACCESS EXCLUSIVE MODE')
  let worker: Child
  try {
    worker = startWorker({ STARTER__LOG__LEVEL: 'info' })
    await waitFor(
      'the worker to be mid-start',
      async () => {
        const rows = await db.sql`
        SELECT 1 FROM pg_stat_activity
        WHERE datname = ${db.name} AND application_name = 'tasklab-worker' AND wait_event_type = 'Lock'`
        return rows.length > 0
      },
      { timeoutMs: 15_000, detail: () => worker.output() },
    )
    worker.proc.kill('SIGTERM')
    await waitFor(
      'the signal to be handled',
      () => worker.output().includes('SIGTERM received') || worker.hasExited(),
      {
        timeoutMs: 10_000,
      },
    )
  } finally {
    await release()
  }
  expect(await worker.waitExit(GRACE_MS + 15_000)).toBe(0)
  const rows =
    await db.sql`SELECT status::text FROM tasks WHERE id = ANY(${ids}::uuid[]) AND status = 'running'`
  expect(rows.length).toBe(0)
}, 60_000)

test('a second SIGTERM during the drain exits at once with 130', async () => {
  await db.sql`DELETE FROM tasks`
  const worker = startWorker({ STARTER__WORKER__SHUTDOWN_GRACE_SECS: '60', STARTER__LOG__LEVEL: 'info' })
  const workerId = await workerRegistered(db.sql, worker)
  const [task] = await enqueueAll(db.sql, delayTasks(1, 600))
  await waitFor(
    'the task to run',
    async () => (await db.sql`SELECT locked_by FROM tasks WHERE id = ${task!.id}`)[0]!.locked_by === workerId,
    { timeoutMs: 15_000 },
  )
  worker.proc.kill('SIGTERM')
  await waitFor('the drain to begin', () => worker.output().includes('SIGTERM received'), {
    timeoutMs: 10_000,
  })
  worker.proc.kill('SIGTERM')
  // Well inside the 60 s grace period: the second signal does not wait for it.
  expect(await worker.waitExit(10_000)).toBe(130)
}, 60_000)

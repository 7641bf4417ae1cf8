// Claim-ahead with real `tasklab worker` processes. A worker holds two long tasks in its two slots
// and has claimed more ahead (they are `running` in the table, not executing). SIGTERM hands those
// back uncounted, as if never claimed; SIGKILL leaves them to the lease, and they are rescued and
// run by another worker like any task of a dead worker.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { delayTasks, enqueueAll } from '../helpers/load'
import {
  type Child,
  readJournal,
  spawnTasklab,
  statusCounts,
  tempDir,
  waitFor,
  workerRegistered,
} from '../helpers/proc'

const LONG_SECONDS = 3
let db: TestDatabase
const children: Child[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'delay_task')
})

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  await db?.drop()
})

async function workerWithTasksAhead(label: string) {
  await db.sql`DELETE FROM tasks`
  const dir = await tempDir(`prefetch-${label}`)
  const journal = join(dir, 'journal.jsonl')
  const env = {
    DATABASE_URL: db.url,
    STARTER__DATA_DIR: dir,
    STARTER__WORKER__CONCURRENCY: '2',
    STARTER__WORKER__PREFETCH: '4',
    STARTER__WORKER__LEASE_SECS: '2',
    STARTER__WORKER__SHUTDOWN_GRACE_SECS: '1',
    STARTER__WORKER__JOURNAL_FILE: journal,
    STARTER__LOG__LEVEL: 'warn',
  }
  const worker = spawnTasklab(['worker', '--id', label], { env })
  children.push(worker)
  const workerId = await workerRegistered(db.sql, worker)
  // A warm-up: the worker claims ahead only once it has seen how long its tasks take.
  await enqueueAll(db.sql, delayTasks(30, 0))
  await waitFor('the warm-up to complete', async () => (await statusCounts(db.sql)).completed === 30, {
    timeoutMs: 20_000,
  })
  // The two long ones take both slots; the short ones queued after them are claimed ahead.
  await enqueueAll(db.sql, delayTasks(2, LONG_SECONDS, { priority: 'critical' }))
  const short = await enqueueAll(db.sql, delayTasks(8, 0))
  const ahead = await waitFor(
    'the worker to hold more tasks than slots',
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM tasks WHERE status = 'running' AND locked_by = ${workerId}`
      const executing = readJournal(journal).filter((e) => short.some((s) => s.id === e.task_id)).length
      return row!.n > 2 && executing === 0 ? row!.n - 2 : undefined
    },
    { timeoutMs: 15_000, intervalMs: 20, detail: async () => JSON.stringify(await statusCounts(db.sql)) },
  ).catch(() => 0)
  return { worker, workerId, journal, env, short, ahead }
}

test('SIGTERM hands the tasks claimed ahead back uncounted: pending, attempt 0, never run', async () => {
  const { worker, workerId, journal, short, ahead } = await workerWithTasksAhead('term')
  expect(ahead).toBeGreaterThan(0)
  worker.proc.kill('SIGTERM')
  expect(await worker.waitExit(15_000)).toBe(0)
  const held = await db.sql<{ id: string; status: string; current_attempt: number }[]>`
    SELECT t.id, t.status::text, t.current_attempt FROM tasks t
    WHERE t.id = ANY(${short.map((s) => s.id)}::uuid[])
      AND EXISTS (SELECT 1 FROM task_events e WHERE e.task_id = t.id AND e.to_status = 'running' AND e.worker_id = ${workerId})`
  expect(held.length).toBe(ahead)
  expect(held.filter((t) => t.status !== 'pending' || t.current_attempt !== 0)).toEqual([])
  // Handed back, not failed: running → pending by the worker, no retrying, no rescue.
  for (const t of held) {
    const events =
      await db.sql`SELECT from_status, to_status, attempt, actor FROM task_events WHERE task_id = ${t.id} ORDER BY id`
    expect([...events]).toEqual([
      { from_status: null, to_status: 'pending', attempt: 0, actor: 'system' },
      { from_status: 'pending', to_status: 'running', attempt: 1, actor: 'worker' },
      { from_status: 'running', to_status: 'pending', attempt: 0, actor: 'worker' },
    ])
  }
  const ran = new Set(readJournal(journal).map((e) => e.task_id))
  expect(held.filter((t) => ran.has(t.id))).toEqual([])
  expect((await statusCounts(db.sql)).running ?? 0).toBe(0)
}, 60_000)

test('SIGKILL: the tasks claimed ahead are rescued with the running ones and completed elsewhere', async () => {
  const { worker, workerId, journal, env, short, ahead } = await workerWithTasksAhead('kill')
  expect(ahead).toBeGreaterThan(0)
  const heldAhead = (
    await db.sql<{ id: string }[]>`
      SELECT id FROM tasks WHERE status = 'running' AND locked_by = ${workerId} AND id = ANY(${short.map((s) => s.id)}::uuid[])`
  ).map((r) => r.id)
  worker.proc.kill('SIGKILL')
  expect(await worker.waitExit(5000)).not.toBe(0)
  const survivor = spawnTasklab(['worker', '--id', 'survivor'], { env })
  children.push(survivor)
  const survivorId = await workerRegistered(db.sql, survivor)
  await waitFor('every task to complete', async () => (await statusCounts(db.sql)).completed === 40, {
    timeoutMs: 30_000,
    intervalMs: 100,
    detail: async () => JSON.stringify(await statusCounts(db.sql)),
  })
  for (const id of heldAhead) {
    const events =
      await db.sql`SELECT from_status, to_status, attempt, worker_id, actor, error FROM task_events WHERE task_id = ${id} ORDER BY id`
    expect([...events]).toEqual([
      { from_status: null, to_status: 'pending', attempt: 0, worker_id: null, actor: 'system', error: null },
      {
        from_status: 'pending',
        to_status: 'running',
        attempt: 1,
        worker_id: workerId,
        actor: 'worker',
        error: null,
      },
      {
        from_status: 'running',
        to_status: 'retrying',
        attempt: 1,
        worker_id: workerId,
        actor: 'rescue',
        error: 'worker lost',
      },
      {
        from_status: 'retrying',
        to_status: 'running',
        attempt: 2,
        worker_id: survivorId,
        actor: 'worker',
        error: null,
      },
      {
        from_status: 'running',
        to_status: 'completed',
        attempt: 2,
        worker_id: survivorId,
        actor: 'worker',
        error: null,
      },
    ])
  }
  // The victim never executed them; the survivor did, once.
  const entries = readJournal(journal).filter((e) => heldAhead.includes(e.task_id))
  expect(entries.map((e) => `${e.worker}:${e.attempt}`)).toEqual(heldAhead.map(() => `${survivorId}:2`))
  survivor.proc.kill('SIGTERM')
  expect(await survivor.waitExit(15_000)).toBe(0)
}, 60_000)

// kill -9 of a worker mid-task: with a 3 s lease, a surviving worker process rescues the task
// (the lost attempt recorded as running → retrying, "worker lost", actor rescue) and completes it.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { TaskEvent } from '../../src/queue/task'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { delayTasks, enqueueAll } from '../helpers/load'
import {
  type Child,
  duplicateExecutions,
  readJournal,
  spawnTasklab,
  tempDir,
  waitFor,
  workerRegistered,
} from '../helpers/proc'

const LEASE_MS = 3000
const TASK_SECONDS = 4
let db: TestDatabase
const children: Child[] = []

beforeAll(async () => {
  db = await createTestDatabase()
})

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  await db?.drop()
})

test('a SIGKILLed worker’s running tasks are rescued within the lease and completed by another worker', async () => {
  const dir = await tempDir('crash')
  const journal = join(dir, 'journal.jsonl')
  const env = {
    DATABASE_URL: db.url,
    STARTER__DATA_DIR: dir,
    STARTER__WORKER__LEASE_SECS: String(LEASE_MS / 1000),
    STARTER__WORKER__CONCURRENCY: '2',
    STARTER__WORKER__JOURNAL_FILE: journal,
  }
  await registerTypes(db.sql, 'delay_task')
  const victim = spawnTasklab(['worker', '--id', 'victim'], { env })
  children.push(victim)
  const victimId = await workerRegistered(db.sql, victim)

  // Fixed 100 ms retries: what follows the rescue is the retry strategy's doing, kept short here.
  const tasks = await enqueueAll(
    db.sql,
    delayTasks(2, TASK_SECONDS, { retry_strategy: { type: 'fixed', interval_ms: 100, max_attempts: 3 } }),
  )
  const ids = tasks.map((t) => t.id)
  await waitFor(
    'the victim to run both tasks',
    async () => {
      const rows =
        await db.sql`SELECT 1 FROM tasks WHERE id = ANY(${ids}::uuid[]) AND status = 'running' AND locked_by = ${victimId}`
      return rows.length === 2
    },
    { timeoutMs: 15_000 },
  )

  // The survivor starts only now, so the victim is certain to hold both tasks.
  const survivor = spawnTasklab(['worker', '--id', 'survivor'], { env })
  children.push(survivor)
  const survivorId = await workerRegistered(db.sql, survivor)
  // Still mid-task: the kill lands while both attempts are running.
  const [stillRunning] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM tasks WHERE id = ANY(${ids}::uuid[]) AND status = 'running' AND locked_by = ${victimId}`
  expect(stillRunning!.n).toBe(2)

  victim.proc.kill('SIGKILL')
  const killedAt = Date.now()
  expect(await victim.waitExit(5000)).not.toBe(0)

  await waitFor(
    'both tasks to complete after the rescue',
    async () => {
      const rows = await db.sql`SELECT 1 FROM tasks WHERE id = ANY(${ids}::uuid[]) AND status = 'completed'`
      return rows.length === 2
    },
    { timeoutMs: LEASE_MS + TASK_SECONDS * 1000 + 20_000, detail: () => survivor.output().slice(-3000) },
  )
  const completedAt = Date.now()

  for (const id of ids) {
    const events = await db.sql<TaskEvent[]>`SELECT * FROM task_events WHERE task_id = ${id} ORDER BY id`
    expect(events.map((e) => [e.from_status, e.to_status, e.attempt, e.worker_id, e.actor, e.error])).toEqual(
      [
        [null, 'pending', 0, null, 'system', null],
        ['pending', 'running', 1, victimId, 'worker', null],
        ['running', 'retrying', 1, victimId, 'rescue', 'worker lost'],
        ['retrying', 'running', 2, survivorId, 'worker', null],
        ['running', 'completed', 2, survivorId, 'worker', null],
      ],
    )
    // Rescued within the lease (counted from the kill, the last heartbeat was earlier) plus the
    // rescue sweep's 1 s period and slack for a loaded machine.
    const rescuedAt = events[2]!.at.getTime()
    const rescueMs = rescuedAt - killedAt
    console.log(
      `crash: task rescued ${rescueMs} ms after SIGKILL (lease ${LEASE_MS} ms), completed ${completedAt - killedAt} ms after`,
    )
    expect(rescueMs).toBeLessThan(LEASE_MS + 5000)
    const [task] = await db.sql`SELECT current_attempt, last_error, locked_by FROM tasks WHERE id = ${id}`
    expect(task).toEqual({ current_attempt: 2, last_error: 'worker lost', locked_by: null })
  }

  const entries = readJournal(journal)
  expect(duplicateExecutions(entries)).toEqual([])
  expect(entries.map((e) => `${e.attempt}:${e.worker}`).sort()).toEqual(
    [`1:${victimId}`, `1:${victimId}`, `2:${survivorId}`, `2:${survivorId}`].sort(),
  )

  survivor.proc.kill('SIGTERM')
  expect(await survivor.waitExit(15_000)).toBe(0)
}, 90_000)

test('a frozen worker (SIGSTOP past its lease) loses the task; when it wakes, its late outcome changes nothing', async () => {
  await db.sql`DELETE FROM tasks`
  const dir = await tempDir('freeze')
  const env = {
    DATABASE_URL: db.url,
    STARTER__DATA_DIR: dir,
    STARTER__WORKER__LEASE_SECS: String(LEASE_MS / 1000),
    STARTER__WORKER__CONCURRENCY: '1',
  }
  const frozen = spawnTasklab(['worker', '--id', 'frozen'], { env })
  children.push(frozen)
  const frozenId = await workerRegistered(db.sql, frozen)
  const [task] = await enqueueAll(
    db.sql,
    delayTasks(1, TASK_SECONDS, { retry_strategy: { type: 'fixed', interval_ms: 100, max_attempts: 3 } }),
  )
  const lockedBy = async () =>
    (await db.sql`SELECT locked_by FROM tasks WHERE id = ${task!.id}`)[0]!.locked_by
  await waitFor(
    'the task to run on the worker about to freeze',
    async () => (await lockedBy()) === frozenId,
    {
      timeoutMs: 15_000,
    },
  )
  const other = spawnTasklab(['worker', '--id', 'other'], { env })
  children.push(other)
  const otherId = await workerRegistered(db.sql, other)

  frozen.proc.kill('SIGSTOP')
  try {
    await waitFor('the other worker to take the task over', async () => (await lockedBy()) === otherId, {
      timeoutMs: LEASE_MS + 15_000,
    })
  } finally {
    frozen.proc.kill('SIGCONT')
  }
  await waitFor(
    'the task to complete on the other worker',
    async () =>
      (await db.sql`SELECT status::text FROM tasks WHERE id = ${task!.id}`)[0]!.status === 'completed',
    { timeoutMs: TASK_SECONDS * 1000 + 15_000 },
  )
  const events = await db.sql<TaskEvent[]>`SELECT * FROM task_events WHERE task_id = ${task!.id} ORDER BY id`
  expect(events.map((e) => [e.from_status, e.to_status, e.attempt, e.worker_id, e.actor])).toEqual([
    [null, 'pending', 0, null, 'system'],
    ['pending', 'running', 1, frozenId, 'worker'],
    ['running', 'retrying', 1, frozenId, 'rescue'],
    ['retrying', 'running', 2, otherId, 'worker'],
    ['running', 'completed', 2, otherId, 'worker'],
  ])
  // The thawed worker learns of it through its heartbeat (lease lost: the handler is aborted) or
  // its own late completion, refused by the guard. Either way its slot is free again: with the
  // other worker gone, it runs new work.
  other.proc.kill('SIGTERM')
  expect(await other.waitExit(15_000)).toBe(0)
  const [next] = await enqueueAll(db.sql, delayTasks(1, 0))
  await waitFor(
    'the thawed worker to run new work',
    async () =>
      (await db.sql`SELECT status::text FROM tasks WHERE id = ${next!.id}`)[0]!.status === 'completed',
    { timeoutMs: 15_000, detail: () => frozen.output().slice(-2000) },
  )
  const [ran] =
    await db.sql`SELECT worker_id FROM task_events WHERE task_id = ${next!.id} AND to_status = 'completed'`
  expect(ran!.worker_id).toBe(frozenId)
  frozen.proc.kill('SIGTERM')
  expect(await frozen.waitExit(15_000)).toBe(0)
}, 90_000)

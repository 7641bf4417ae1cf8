// Three real `tasklab worker` processes drain 3,000 tasks from one database. Every execution is
// journaled by the workers themselves (STARTER__WORKER__JOURNAL_FILE); the journal must show each
// task run exactly once per attempt, and the database must show every task completed.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { delayTasks, enqueueAll } from '../helpers/load'
import {
  type Child,
  duplicateExecutions,
  readJournal,
  spawnTasklab,
  statusCounts,
  tail,
  tempDir,
  waitFor,
  workerRegistered,
} from '../helpers/proc'

const TASKS = 3000
let db: TestDatabase
const workers: Child[] = []

beforeAll(async () => {
  db = await createTestDatabase()
})

afterAll(async () => {
  for (const w of workers) w.proc.kill('SIGKILL')
  await db?.drop()
})

test('3 worker processes drain 3,000 tasks, each exactly once per attempt', async () => {
  const dir = await tempDir('concurrency')
  const journal = join(dir, 'journal.jsonl')
  await registerTypes(db.sql, 'delay_task')
  for (let i = 1; i <= 3; i++)
    workers.push(
      spawnTasklab(['worker', '--id', String(i)], {
        env: {
          DATABASE_URL: db.url,
          STARTER__DATA_DIR: dir,
          STARTER__WORKER__CONCURRENCY: '8',
          STARTER__WORKER__JOURNAL_FILE: journal,
          STARTER__LOG__LEVEL: 'warn',
        },
      }),
    )
  const ids = await Promise.all(workers.map((w) => workerRegistered(db.sql, w)))
  expect(new Set(ids).size).toBe(3)

  // Mostly no-op tasks (pure queue overhead); a tenth sleep 20 ms so attempts overlap.
  const started = performance.now()
  const tasks = await enqueueAll(db.sql, [...delayTasks(TASKS * 0.9, 0), ...delayTasks(TASKS * 0.1, 0.02)])
  expect(tasks.length).toBe(TASKS)

  await waitFor('all 3,000 tasks to complete', async () => (await statusCounts(db.sql)).completed === TASKS, {
    timeoutMs: 90_000,
    intervalMs: 200,
    detail: async () =>
      `${JSON.stringify(await statusCounts(db.sql))}\n${workers.map((w) => tail(w.output(), 5)).join('\n')}`,
  })
  const drainMs = Math.round(performance.now() - started)
  console.log(`concurrency: 3 workers drained ${TASKS} tasks in ${drainMs} ms`)

  expect(await statusCounts(db.sql)).toEqual({ completed: TASKS })

  // The workers' own record of what they executed.
  const entries = readJournal(journal)
  expect(duplicateExecutions(entries)).toEqual([])
  const ran = new Set(entries.map((e) => e.task_id))
  expect(tasks.filter((t) => !ran.has(t.id)).map((t) => t.id)).toEqual([])
  // Nothing failed or was rescued, so each task ran once, as attempt 1.
  expect(entries.length).toBe(TASKS)
  expect(entries.every((e) => e.attempt === 1)).toBe(true)
  // All three took part (otherwise this tested one worker, not three).
  const perWorker = new Map<string, number>()
  for (const e of entries) perWorker.set(e.worker, (perWorker.get(e.worker) ?? 0) + 1)
  console.log(`concurrency: executions per worker ${JSON.stringify(Object.fromEntries(perWorker))}`)
  expect([...perWorker.keys()].sort()).toEqual([...ids].sort())

  // The database's record agrees: one claim and one completion per task, by the worker journaled.
  const events = await db.sql<{ task_id: string; to_status: string; worker_id: string | null; n: number }[]>`
    SELECT task_id, to_status::text, worker_id, count(*)::int AS n FROM task_events
    WHERE to_status IN ('running', 'completed') GROUP BY task_id, to_status, worker_id`
  expect(events.filter((e) => e.n !== 1)).toEqual([])
  expect(events.length).toBe(TASKS * 2)
  const journaledBy = new Map(entries.map((e) => [e.task_id, e.worker]))
  expect(events.filter((e) => e.worker_id !== journaledBy.get(e.task_id))).toEqual([])

  // A clean shutdown of all three.
  for (const w of workers) w.proc.kill('SIGTERM')
  expect(await Promise.all(workers.map((w) => w.waitExit(20_000)))).toEqual([0, 0, 0])
  const [live] = await db.sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL`
  expect(live!.n).toBe(0)
}, 150_000)

test('one of 3 workers is SIGKILLed mid-drain: its attempts are rescued, no (task, attempt) runs twice', async () => {
  await db.sql`DELETE FROM tasks`
  await db.sql`DELETE FROM task_events`
  const dir = await tempDir('concurrency-kill')
  const journal = join(dir, 'journal.jsonl')
  const env = {
    DATABASE_URL: db.url,
    STARTER__DATA_DIR: dir,
    STARTER__WORKER__CONCURRENCY: '4',
    STARTER__WORKER__LEASE_SECS: '3',
    STARTER__WORKER__JOURNAL_FILE: journal,
    STARTER__LOG__LEVEL: 'warn',
  }
  const three = [1, 2, 3].map((i) => spawnTasklab(['worker', '--id', `k${i}`], { env }))
  workers.push(...three)
  const ids = await Promise.all(three.map((w) => workerRegistered(db.sql, w)))
  const total = 600
  const tasks = await enqueueAll(
    db.sql,
    delayTasks(total, 0.05, { retry_strategy: { type: 'fixed', interval_ms: 100, max_attempts: 3 } }),
  )
  // Kill the first worker while it holds tasks.
  await waitFor(
    'the victim to be mid-drain',
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM tasks WHERE status = 'running' AND locked_by = ${ids[0]!}`
      return row!.n > 0 && ((await statusCounts(db.sql)).completed ?? 0) >= 100
    },
    { timeoutMs: 30_000, intervalMs: 20 },
  )
  three[0]!.proc.kill('SIGKILL')
  await waitFor('all tasks to complete', async () => (await statusCounts(db.sql)).completed === total, {
    timeoutMs: 60_000,
    intervalMs: 200,
    detail: async () => JSON.stringify(await statusCounts(db.sql)),
  })

  const entries = readJournal(journal)
  expect(duplicateExecutions(entries)).toEqual([])
  // Every task's last journaled attempt is the attempt it completed on.
  const last = new Map<string, number>()
  for (const e of entries) last.set(e.task_id, Math.max(last.get(e.task_id) ?? 0, e.attempt))
  const rows = await db.sql<{ id: string; current_attempt: number }[]>`SELECT id, current_attempt FROM tasks`
  expect(rows.filter((r) => last.get(r.id) !== r.current_attempt)).toEqual([])
  expect(tasks.every((t) => last.has(t.id))).toBe(true)
  // What the victim held was rescued as "worker lost" and finished by the survivors.
  const rescued = await db.sql<{ task_id: string; attempt: number }[]>`
    SELECT task_id, attempt FROM task_events WHERE actor = 'rescue' AND error = 'worker lost' AND worker_id = ${ids[0]!}`
  expect(rescued.length).toBeGreaterThan(0)
  console.log(
    `concurrency: SIGKILL mid-drain, ${rescued.length} attempts rescued, ${entries.length} executions for ${total} tasks`,
  )
  const finishers = await db.sql<{ worker_id: string }[]>`
    SELECT worker_id FROM task_events WHERE to_status = 'completed' AND task_id = ANY(${rescued.map((r) => r.task_id)}::uuid[])`
  expect(finishers.filter((f) => f.worker_id === ids[0])).toEqual([])

  for (const w of three.slice(1)) w.proc.kill('SIGTERM')
  expect(await Promise.all(three.slice(1).map((w) => w.waitExit(15_000)))).toEqual([0, 0])
}, 120_000)

// insertBatch (a batch without idempotency keys: one statement, the answer built in JS) against
// insertRows (RETURNING what the database resolved) for the same rows, and against the rows stored.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { validateNewTask } from '../../src/queue/enqueue'
import { insertBatch, insertRows } from '../../src/queue/insert'
import { defaultRetryStrategy } from '../../src/queue/retry'
import type { Task } from '../../src/queue/task'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'

let db: TestDatabase
const defaults = { maxAttempts: 3, retryStrategy: defaultRetryStrategy(2000, 3) }

beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'alpha', 'beta', 'gamma')
  await db.sql`UPDATE task_types SET retry_strategy = '{"type": "fixed", "interval_ms": 40}' WHERE name = 'beta'`
  await db.sql`UPDATE task_types SET retry_strategy = '{"type": "fixed", "interval_ms": 5, "max_attempts": 6}', is_active = true WHERE name = 'gamma'`
})
afterAll(() => db.drop())

const count = async () => (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks`)[0]!.n

const soon = () => new Date(Date.now() + 60_000).toISOString()
const inputs = () => [
  { task_type: 'alpha' },
  { task_type: 'beta', payload: { x: 'y' }, priority: 'high' },
  { task_type: 'beta', max_attempts: 8 },
  { task_type: 'gamma' },
  { task_type: 'gamma', max_attempts: 2, metadata: { k: [1, 2] } },
  { task_type: 'alpha', scheduled_at: soon(), timeout_ms: 100 },
  { task_type: 'alpha', scheduled_at: '1999-12-31T23:59:59.999Z' },
  {
    task_type: 'beta',
    retry_strategy: { type: 'linear', base_delay_ms: 1, increment_ms: 2, max_delay_ms: 9 },
  },
  {
    task_type: 'gamma',
    retry_strategy: { type: 'fixed', interval_ms: 0, max_attempts: 11 },
    max_attempts: 5,
  },
]
const rowsOf = (list: ReturnType<typeof inputs>, by: string | null = null) =>
  list.map((t, i) => validateNewTask(t, by, defaults.maxAttempts, i))

// What differs between two inserts of the same input: the ids and the statement's clock.
const MOVING = ['id', 'created_at', 'updated_at', 'run_at'] as const
const still = (t: Task) =>
  Object.fromEntries(Object.entries(t).filter(([k]) => !(MOVING as readonly string[]).includes(k)))

describe('insertBatch', () => {
  test('answers what insertRows answers for the same rows, defaults and strategies resolved alike', async () => {
    const list = inputs()
    const lean = await insertBatch(db.sql, rowsOf(list), defaults)
    const slow = await insertRows(db.sql, rowsOf(list), defaults)
    if (!('tasks' in lean)) throw new Error('expected tasks')
    expect(lean.tasks.map(still)).toEqual(slow.map(still))
    expect(lean.tasks.map((t) => t.status)).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
      'pending',
      'scheduled',
      'pending',
      'pending',
      'pending',
    ])
    expect(lean.tasks.map((t) => t.max_attempts)).toEqual([3, 3, 8, 6, 2, 3, 3, 3, 5])
    // One statement: every task of the batch has the same created_at, and run_at is it or scheduled_at.
    expect(new Set(lean.tasks.map((t) => t.created_at.getTime())).size).toBe(1)
    expect(lean.tasks[5]!.run_at).toEqual(lean.tasks[5]!.scheduled_at!)
  })

  test('answers exactly the rows stored', async () => {
    const lean = await insertBatch(db.sql, rowsOf(inputs()), defaults)
    if (!('tasks' in lean)) throw new Error('expected tasks')
    const ids = lean.tasks.map((t) => t.id)
    const stored = await db.sql<Task[]>`SELECT * FROM tasks WHERE id = ANY(${ids}::uuid[])`
    const byId = new Map(stored.map((t) => [t.id, t]))
    for (const t of lean.tasks) {
      const row = byId.get(t.id)!
      for (const k of Object.keys(t) as (keyof Task)[]) expect([k, t[k]]).toEqual([k, row[k]])
    }
  })

  test('an unregistered or inactive type stores nothing and is named', async () => {
    await db.sql`UPDATE task_types SET is_active = false WHERE name = 'gamma'`
    try {
      const before = await count()
      const made = await insertBatch(db.sql, rowsOf([...inputs(), { task_type: 'nope' }]), defaults)
      expect(made).toEqual({ missing: ['gamma', 'nope'] })
      expect(await count()).toBe(before)
    } finally {
      await db.sql`UPDATE task_types SET is_active = true WHERE name = 'gamma'`
    }
  })

  test('a scheduled_at in the statement’s own millisecond is decided as SQL decides it', async () => {
    // Rows scheduled around now: the answer's status must equal the stored one whatever the clock.
    const near = Array.from({ length: 200 }, (_, i) => ({
      task_type: 'alpha',
      scheduled_at: new Date(Date.now() + (i - 100)).toISOString(),
    }))
    const lean = await insertBatch(db.sql, rowsOf(near), defaults)
    if (!('tasks' in lean)) throw new Error('expected tasks')
    const stored = await db.sql<{ id: string; status: string }[]>`
      SELECT id, status FROM tasks WHERE id = ANY(${lean.tasks.map((t) => t.id)}::uuid[])`
    const status = new Map(stored.map((s) => [s.id, s.status]))
    for (const t of lean.tasks) expect(t.status).toBe(status.get(t.id) as Task['status'])
  })
})

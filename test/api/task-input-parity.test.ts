// The API route and the engine check a new task against one schema (src/shared/task-input.ts): the
// same inputs are refused by both, naming the same field in the same sentence, and the same inputs
// are accepted by both.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { enqueue, enqueueBatch, type NewTask } from '../../src/queue/enqueue'
import { QueueError } from '../../src/queue/errors'
import { type Harness, harness } from './harness'

let h: Harness
let token: string
let userId: string

beforeAll(async () => {
  h = await harness()
  ;({ token, id: userId } = await h.user('pat'))
})
afterAll(() => h.close())

const engine = () => ({ createdBy: userId, defaults: h.deps.enqueueDefaults })
const type = 'email'
const big = (bytes: number) => ({ big: 'x'.repeat(bytes) })

/** Inputs both sides refuse, with the field they must name. */
const BAD: [unknown, string][] = [
  [{}, 'task_type'],
  [{ task_type: 42 }, 'task_type'],
  [{ task_type: '' }, 'task_type'],
  [{ task_type: 'x'.repeat(64) }, 'task_type'],
  [{ task_type: type, payload: [1] }, 'payload'],
  [{ task_type: type, payload: 'text' }, 'payload'],
  [{ task_type: type, payload: null }, 'payload'],
  [{ task_type: type, payload: big(1024 * 1024) }, 'payload'],
  [{ task_type: type, metadata: [] }, 'metadata'],
  [{ task_type: type, metadata: big(64 * 1024) }, 'metadata'],
  [{ task_type: type, priority: 'urgent' }, 'priority'],
  [{ task_type: type, priority: 3 }, 'priority'],
  [{ task_type: type, priority: null }, 'priority'],
  [{ task_type: type, max_attempts: 0 }, 'max_attempts'],
  [{ task_type: type, max_attempts: 1001 }, 'max_attempts'],
  [{ task_type: type, max_attempts: 2.5 }, 'max_attempts'],
  [{ task_type: type, max_attempts: '3' }, 'max_attempts'],
  [{ task_type: type, timeout_ms: 0 }, 'timeout_ms'],
  [{ task_type: type, timeout_ms: 86_400_001 }, 'timeout_ms'],
  [{ task_type: type, scheduled_at: 'tomorrow' }, 'scheduled_at'],
  [{ task_type: type, scheduled_at: '2026-02-30T10:00:00Z' }, 'scheduled_at'],
  [{ task_type: type, scheduled_at: 12 }, 'scheduled_at'],
  [{ task_type: type, scheduled_at: `2030-01-01T00:00:00Z${' '.repeat(60)}` }, 'scheduled_at'],
  [{ task_type: type, idempotency_key: '' }, 'idempotency_key'],
  [{ task_type: type, idempotency_key: 'k'.repeat(256) }, 'idempotency_key'],
  [{ task_type: type, idempotency_key: 7 }, 'idempotency_key'],
  [{ task_type: type, retry_strategy: 'fast' }, 'retry_strategy'],
  [{ task_type: type, retry_strategy: { type: 'never' } }, 'retry_strategy'],
  [{ task_type: type, retry_strategy: { type: 'fixed' } }, 'retry_strategy'],
  [{ task_type: type, retry_strategy: { type: 'fixed', interval_ms: -1 } }, 'retry_strategy'],
  [{ task_type: type, retry_strategy: { type: 'fixed', interval_ms: '5' } }, 'retry_strategy'],
  [{ task_type: type, retry_strategy: { type: 'fixed', interval_ms: 7 * 86_400_000 + 1 } }, 'retry_strategy'],
  [{ task_type: type, retry_strategy: { type: 'fixed', interval_ms: 5, max_attempts: 0 } }, 'retry_strategy'],
  [{ task_type: type, retry_strategy: { type: 'fixed', interval_ms: 5, multiplier: 2 } }, 'retry_strategy'],
  [
    {
      task_type: type,
      retry_strategy: { type: 'exponential', base_delay_ms: 1, multiplier: 0.5, max_delay_ms: 9 },
    },
    'retry_strategy',
  ],
  [
    {
      task_type: type,
      retry_strategy: { type: 'exponential', base_delay_ms: 0, multiplier: 2, max_delay_ms: 9 },
    },
    'retry_strategy',
  ],
  [
    {
      task_type: type,
      retry_strategy: { type: 'linear', base_delay_ms: 10, increment_ms: 1, max_delay_ms: 9 },
    },
    'retry_strategy',
  ],
]

/** Inputs both sides accept, at the edges of each bound. */
const GOOD: ({ task_type: string } & Record<string, unknown>)[] = [
  { task_type: type },
  { task_type: type, payload: {}, metadata: null, priority: 'critical' },
  { task_type: type, max_attempts: 1, timeout_ms: 86_400_000 },
  { task_type: type, max_attempts: 1000, timeout_ms: 1, scheduled_at: null, retry_strategy: null },
  { task_type: type, scheduled_at: '2030-01-31T12:00:00Z', idempotency_key: 'k' },
  { task_type: type, idempotency_key: 'k'.repeat(255) },
  { task_type: type, retry_strategy: { type: 'fixed', interval_ms: 0 } },
  {
    task_type: type,
    retry_strategy: {
      type: 'exponential',
      base_delay_ms: 1,
      multiplier: 100,
      max_delay_ms: 7 * 86_400_000,
      max_attempts: 1000,
    },
  },
  { task_type: type, retry_strategy: { type: 'linear', base_delay_ms: 0, increment_ms: 5, max_delay_ms: 0 } },
]

const engineError = async (run: () => Promise<unknown>) => {
  const err = await run().then(
    () => null,
    (e) => e,
  )
  expect(err).toBeInstanceOf(QueueError)
  return err as QueueError
}

describe('one task', () => {
  test.each(BAD)('%#: refused by the route and the engine, naming %s', async (input, field) => {
    const before = await h.counts()
    const r = await h.call('POST', '/api/v1/tasks', { token, body: input })
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field } })
    expect(r.body.error.message).toContain(field)
    const err = await engineError(() => enqueue(h.db.sql, input as NewTask, engine()))
    expect(err.code).toBe('VALIDATION_ERROR')
    expect(err.details).toMatchObject({ field })
    expect(err.message).toContain(field)
    expect(r.body.error.message).toBe(err.message)
    expect(await h.counts()).toEqual(before)
  })

  test.each(GOOD.map((g, i) => [i, g] as const))(
    '%#: accepted by the route and the engine',
    async (i, input) => {
      // Keys differ per side so that each side creates its own task.
      const key = (side: string) =>
        typeof input.idempotency_key === 'string' ? { idempotency_key: `${side}${i}`.slice(0, 255) } : {}
      const r = await h.call('POST', '/api/v1/tasks', { token, body: { ...input, ...key('a') } })
      expect(r.status).toBe(201)
      const { created } = await enqueue(h.db.sql, { ...input, ...key('e') } as NewTask, engine())
      expect(created).toBe(true)
    },
  )
})

describe('a batch', () => {
  test.each(BAD)('%#: a bad second task is refused by both as tasks[1].%s', async (input, field) => {
    const tasks = [{ task_type: type }, input]
    const before = await h.counts()
    const r = await h.call('POST', '/api/v1/tasks/batch', { token, body: { tasks } })
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: `tasks[1].${field}` } })
    const err = await engineError(() => enqueueBatch(h.db.sql, tasks as NewTask[], engine()))
    expect(err.details).toMatchObject({ field: `tasks[1].${field}` })
    expect(r.body.error.message).toBe(err.message)
    expect(await h.counts()).toEqual(before)
  })

  test('an empty batch and one over the limit are refused by both, naming tasks', async () => {
    for (const tasks of [[], Array.from({ length: 1001 }, () => ({ task_type: type }))]) {
      const r = await h.call('POST', '/api/v1/tasks/batch', { token, body: { tasks } })
      expect(r.status).toBe(400)
      expect(r.body.error.details?.field).toBe('tasks')
      const err = await engineError(() => enqueueBatch(h.db.sql, tasks, engine()))
      expect(err.details).toMatchObject({ field: 'tasks' })
      expect(r.body.error.message).toBe(err.message)
    }
  })

  test('the good inputs are accepted by both as one batch', async () => {
    const side = (s: string) =>
      GOOD.map((g, i) => (typeof g.idempotency_key === 'string' ? { ...g, idempotency_key: `b${s}${i}` } : g))
    const r = await h.call('POST', '/api/v1/tasks/batch', { token, body: { tasks: side('a') } })
    expect(r.status).toBe(201)
    const made = await enqueueBatch(h.db.sql, side('e') as NewTask[], engine())
    expect(made.every((m) => m.created)).toBe(true)
  })
})

// The create routes build their answers themselves (src/api/tasks/answer.ts), and a batch without
// idempotency keys takes the lean insert (src/queue/insert.ts): each answer must be exactly the
// task as stored, as GET /tasks/:id (which Elysia cuts to the schema) reads it back.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Value } from '@sinclair/typebox/value'
import { cutTask, taskAnswer } from '../../src/api/tasks/answer'
import { Task } from '../../src/api/tasks/schemas'
import type { Task as EngineTask } from '../../src/queue/task'
import { type Harness, harness } from './harness'

let h: Harness
let token: string

beforeAll(async () => {
  h = await harness()
  ;({ token } = await h.user('ada'))
  // A type with its own retry strategy, whose defaults a task without one takes.
  await h.db.sql`
    UPDATE task_types SET retry_strategy = '{"type": "linear", "base_delay_ms": 100, "increment_ms": 50, "max_delay_ms": 1000, "max_attempts": 7}'
    WHERE name = 'data_processing'`
})
afterAll(() => h.close())

const post = <P extends string>(path: P, body: unknown, headers?: Record<string, string>) =>
  h.call('POST', `/api/v1${path}` as const, { token, body, headers })
const stored = async (id: string) => {
  const r = await h.call('GET', `/api/v1/tasks/${id}`, { token })
  expect(r.status).toBe(200)
  return r.body.data
}

const future = new Date(Date.now() + 3_600_000).toISOString()
/** One of each shape a task can be sent in: defaults, scheduled, priorities, metadata, strategies. */
const VARIETY = [
  { task_type: 'email' },
  { task_type: 'email', payload: { to: 'a@example.com', n: [1, 2.5, 'x'] }, priority: 'critical' },
  { task_type: 'data_processing', payload: { rows: 3 } },
  { task_type: 'data_processing', max_attempts: 2 },
  {
    task_type: 'delay_task',
    scheduled_at: future,
    priority: 'low',
    metadata: { tag: 'x', nested: { a: 1 } },
  },
  { task_type: 'delay_task', scheduled_at: '2001-01-01T00:00:00Z', timeout_ms: 5000 },
  { task_type: 'email', metadata: null, retry_strategy: { type: 'fixed', interval_ms: 25 } },
  {
    task_type: 'data_processing',
    retry_strategy: {
      type: 'exponential',
      base_delay_ms: 10,
      multiplier: 3,
      max_delay_ms: 500,
      max_attempts: 9,
    },
    max_attempts: 4,
  },
  { task_type: 'email', priority: 'high', payload: { unicode: 'é ✓ \u2028 "q" \\ \t' } },
]

describe('answers are the stored tasks', () => {
  test('POST /tasks: each shape answers exactly what GET reads back, with the app headers', async () => {
    for (const body of VARIETY) {
      const r = await post('/tasks', body, { 'x-request-id': 'create-answer-1' })
      expect(r.status).toBe(201)
      expect(r.headers.get('content-type')).toContain('application/json')
      expect(r.headers.get('x-request-id')).toBe('create-answer-1')
      expect(r.headers.get('x-content-type-options')).toBe('nosniff')
      expect(r.body.message).toBe(`Task ${r.body.data.id} created.`)
      expect(r.body.data).toEqual(await stored(r.body.data.id))
    }
  })

  test('POST /tasks/batch without keys: in order, each exactly as stored', async () => {
    const r = await post('/tasks/batch', { tasks: VARIETY })
    expect(r.status).toBe(201)
    expect(r.body.message).toBe(`${VARIETY.length} task(s) created.`)
    const data = r.body.data!
    expect(data.map((t) => t.task_type)).toEqual(VARIETY.map((t) => t.task_type))
    for (const t of data) expect(t).toEqual(await stored(t.id as string))
    expect(data.map((t) => t.status)).toEqual(
      VARIETY.map((t) => (t.scheduled_at === future ? 'scheduled' : 'pending')),
    )
    expect(data[2]!.retry_strategy).toEqual({
      type: 'linear',
      base_delay_ms: 100,
      increment_ms: 50,
      max_delay_ms: 1000,
      max_attempts: 7,
    })
    expect(data[3]!.max_attempts).toBe(2)
    expect(data[7]!.retry_strategy).toMatchObject({ type: 'exponential', max_attempts: 4 })
  })

  test('a batch with idempotency keys answers the same fields as one without, old tasks marked', async () => {
    const plain = (await post('/tasks/batch', { tasks: VARIETY })).body.data!
    const keyed = VARIETY.map((t, i) => ({ ...t, idempotency_key: `answer-${i}` }))
    const first = await post('/tasks/batch', { tasks: keyed })
    expect(first.status).toBe(201)
    const data = first.body.data!
    const moving = ['id', 'idempotency_key', 'created_at', 'updated_at', 'run_at']
    const still = (t: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(t).filter(([k]) => !moving.includes(k)))
    expect(data.map(still)).toEqual(plain.map(still))
    for (const t of data) expect(t).toEqual(await stored(t.id as string))
    // Again with one new task: the old ones come back unchanged, the new one is created.
    const again = await post('/tasks/batch', {
      tasks: [...keyed, { task_type: 'email', idempotency_key: 'answer-new' }],
    })
    expect(again.status).toBe(201)
    expect(again.body.message).toBe(`1 task(s) created, ${VARIETY.length} matched earlier idempotency keys.`)
    expect(again.body.data.slice(0, VARIETY.length)).toEqual(data)
  })
})

describe('bad input in a batch changes nothing', () => {
  const tasks = async () => (await h.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks`)[0]!.n
  test.each([
    ['a bad field', { task_type: 'email', priority: 'urgent' }, 'VALIDATION_ERROR', 'tasks[4].priority'],
    ['an unregistered type', { task_type: 'no_such_type' }, 'TASK_TYPE_NOT_REGISTERED', undefined],
    [
      'a wrong type of value',
      { task_type: 'email', payload: 'text' },
      'VALIDATION_ERROR',
      'tasks[4].payload',
    ],
  ])('%s at index 4', async (_, bad, code, field) => {
    const before = await tasks()
    const r = await post('/tasks/batch', { tasks: [...VARIETY.slice(0, 4), bad, ...VARIETY.slice(4)] })
    expect(r.status).toBe(400)
    expect(r.body.success).toBe(false)
    expect(r.body.error.code).toBe(code)
    if (field) expect(r.body.error.details?.field).toBe(field)
    expect(await tasks()).toBe(before)
  })

  test('an inactive type refuses the whole batch', async () => {
    await h.db.sql`UPDATE task_types SET is_active = false WHERE name = 'delay_task'`
    try {
      const before = await tasks()
      const r = await post('/tasks/batch', { tasks: VARIETY })
      expect([r.status, r.body.error.code]).toEqual([400, 'TASK_TYPE_NOT_REGISTERED'])
      expect(r.body.error.details).toEqual({ task_types: ['delay_task'] })
      expect(await tasks()).toBe(before)
    } finally {
      await h.db.sql`UPDATE task_types SET is_active = true WHERE name = 'delay_task'`
    }
  })
})

describe('cutTask', () => {
  const row = {
    id: '019a0000-0000-7000-8000-000000000001',
    task_type: 'email',
    status: 'pending',
    priority: 'normal',
    payload: { a: 1 },
    result: null,
    metadata: { m: true },
    retry_strategy: { type: 'fixed', interval_ms: 5, max_attempts: 3, stray: 1 },
    max_attempts: 3,
    current_attempt: 0,
    last_error: null,
    created_at: new Date(),
    updated_at: new Date(),
    scheduled_at: null,
    run_at: new Date(),
    started_at: null,
    completed_at: null,
    created_by: null,
    locked_by: null,
    lease_expires_at: null,
    timeout_ms: null,
    idempotency_key: null,
    cancel_requested: false,
    last_worker: null,
    // a column the schema does not name
    queue_position: 12,
  } as unknown as EngineTask

  test('leaves what Value.Clean leaves: unknown columns and strategy fields dropped', () => {
    expect(cutTask(row)).toEqual(Value.Clean(Task, structuredClone(row)) as Record<string, unknown>)
    expect(cutTask(row)).not.toHaveProperty('queue_position')
    expect(cutTask(row).retry_strategy).toEqual({ type: 'fixed', interval_ms: 5, max_attempts: 3 })
  })

  test('the answer reads as JSON.stringify of the cleaned tasks (timestamps as ISO text)', async () => {
    const later = {
      ...row,
      id: '019a0000-0000-7000-8000-000000000002',
      created_at: new Date(0),
      run_at: new Date(8.64e15),
    }
    const res = taskAnswer(201, [row, later, row], 'made')
    const clean = (t: EngineTask) => Value.Clean(Task, structuredClone(t))
    expect(res.status).toBe(201)
    expect(JSON.parse(await res.text())).toEqual(
      JSON.parse(JSON.stringify({ success: true, data: [row, later, row].map(clean), message: 'made' })),
    )
  })

  test('an answer that does not match the schema is refused, not sent', () => {
    expect(() => taskAnswer(201, { ...row, status: 'lost' } as unknown as EngineTask, 'x')).toThrow(/status/)
    expect(() => taskAnswer(201, [row, { ...row, id: 'nope' }], 'x')).toThrow(/id/)
  })
})

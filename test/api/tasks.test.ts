// Every /tasks route: the success shape and each error path with status and code.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Task } from '../../src/queue/task'
import { insertTask } from '../helpers/factory'
import { type Harness, harness } from './harness'

let h: Harness
let token: string
let userId: string
const MISSING = '00000000-0000-4000-8000-000000000000'

beforeAll(async () => {
  h = await harness()
  ;({ token, id: userId } = await h.user('tess'))
})
afterAll(() => h.close())

const create = (body: unknown, headers?: Record<string, string>) =>
  h.call('POST', '/api/v1/tasks', { token, body, headers })
const mine = (fields: Partial<Task> & { task_type: string }) =>
  insertTask(h.db.sql, { created_by: userId, ...fields })

describe('POST /tasks', () => {
  test('the seed example answers 201 with the whole task', async () => {
    const r = await create({
      task_type: 'email',
      payload: { to: 'user@example.com', subject: 'Hello', body: 'Hi' },
      priority: 'normal',
    })
    expect(r.status).toBe(201)
    expect(r.body.success).toBe(true)
    expect(r.body.data).toMatchObject({
      task_type: 'email',
      status: 'pending',
      priority: 'normal',
      created_by: userId,
      current_attempt: 0,
    })
    for (const f of [
      'id',
      'payload',
      'result',
      'metadata',
      'retry_strategy',
      'max_attempts',
      'last_error',
      'created_at',
      'updated_at',
      'scheduled_at',
      'started_at',
      'completed_at',
      'locked_by',
      'timeout_ms',
      'idempotency_key',
    ])
      expect(r.body.data).toHaveProperty(f)
  })

  test('a future scheduled_at makes it scheduled; options are kept', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString()
    const r = await create({
      task_type: 'email',
      scheduled_at: at,
      priority: 'critical',
      max_attempts: 5,
      timeout_ms: 1000,
      metadata: { k: 'v' },
    })
    expect(r.status).toBe(201)
    expect(r.body.data).toMatchObject({
      status: 'scheduled',
      priority: 'critical',
      max_attempts: 5,
      timeout_ms: 1000,
      metadata: { k: 'v' },
    })
  })

  test('an Idempotency-Key repeat returns the first task with 200', async () => {
    const first = await create({ task_type: 'email' }, { 'idempotency-key': 'order-1' })
    expect(first.status).toBe(201)
    const again = await create(
      { task_type: 'email', payload: { other: true } },
      { 'idempotency-key': 'order-1' },
    )
    expect(again.status).toBe(200)
    expect(again.body.data.id).toBe(first.body.data.id)
    const field = await create({ task_type: 'email', idempotency_key: 'order-1' })
    expect(field.body.data.id).toBe(first.body.data.id)
  })

  test('an unknown or inactive type is 400 TASK_TYPE_NOT_REGISTERED telling to start a worker', async () => {
    const r = await create({ task_type: 'nonexistent' })
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('TASK_TYPE_NOT_REGISTERED')
    expect(r.body.error.message).toContain('worker')
    await h.db.sql`UPDATE task_types SET is_active = false WHERE name = 'delay_task'`
    expect((await create({ task_type: 'delay_task' })).body.error.code).toBe('TASK_TYPE_NOT_REGISTERED')
    await h.db.sql`UPDATE task_types SET is_active = true WHERE name = 'delay_task'`
  })

  test.each([
    [{ task_type: 'email', priority: 'urgent' }, 'priority'],
    [{ task_type: 'email', scheduled_at: 'tomorrow' }, 'scheduled_at'],
    [{ task_type: 'email', payload: { big: 'x'.repeat(1024 * 1024) } }, 'payload'],
    [{ task_type: 'email', metadata: { big: 'x'.repeat(65 * 1024) } }, 'metadata'],
    [{ task_type: 'email', retry_strategy: { type: 'fixed', interval_ms: -1 } }, 'retry_strategy'],
    [{ task_type: 'email', max_attempts: 0 }, 'max_attempts'],
    [{ payload: {} }, 'task_type'],
  ])('%j is 400 naming %s', async (body, field) => {
    const before = await h.counts()
    const r = await create(body)
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('VALIDATION_ERROR')
    expect(r.body.error.details?.field).toBe(field)
    expect(await h.counts()).toEqual(before)
  })

  test('without a token it is 401', async () => {
    const r = await h.call('POST', '/api/v1/tasks', { body: { task_type: 'email' } })
    expect(r.status).toBe(401)
    expect(r.body.error.code).toBe('UNAUTHORIZED')
  })
})

describe('POST /tasks/batch', () => {
  test('creates all in order with 201', async () => {
    const r = await h.call('POST', '/api/v1/tasks/batch', {
      token,
      body: {
        tasks: [
          { task_type: 'email' },
          { task_type: 'data_processing', payload: { data: [1], operation: 'sum' } },
        ],
      },
    })
    expect(r.status).toBe(201)
    expect(r.body.data.map((t) => t.task_type)).toEqual(['email', 'data_processing'])
  })

  test('one bad task refuses the whole batch; over 1,000 is 400', async () => {
    const before = await h.counts()
    const r = await h.call('POST', '/api/v1/tasks/batch', {
      token,
      body: { tasks: [{ task_type: 'email' }, { task_type: 'nope' }] },
    })
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('TASK_TYPE_NOT_REGISTERED')
    const bad = await h.call('POST', '/api/v1/tasks/batch', {
      token,
      body: { tasks: [{ task_type: 'email' }, { task_type: 'email', priority: 'x' }] },
    })
    expect(bad.body.error.details?.field).toBe('tasks[1].priority')
    const big = await h.call('POST', '/api/v1/tasks/batch', {
      token,
      body: { tasks: Array.from({ length: 1001 }, () => ({ task_type: 'email' })) },
    })
    expect(big.status).toBe(400)
    expect(big.body.error.details?.field).toBe('tasks')
    expect(await h.counts()).toEqual(before)
  })
})

describe('reading', () => {
  let other: string
  beforeAll(async () => {
    other = (await h.user('uma')).id
    await insertTask(h.db.sql, { task_type: 'email', created_by: other, status: 'failed' })
    await mine({ task_type: 'webhookish', status: 'failed', last_error: 'network unreachable' }).catch(
      () => {},
    )
    for (let i = 0; i < 3; i++)
      await mine({
        task_type: 'data_processing',
        status: 'failed',
        last_error: `boom ${i}`,
        priority: 'high',
      })
    await mine({ task_type: 'email', status: 'completed', metadata: { order: 'A-77' } })
  })

  test('GET /tasks filters by status list, type, priority and q, with the total', async () => {
    const r = await h.call('GET', '/api/v1/tasks?status=failed,completed&limit=2', { token })
    expect(r.status).toBe(200)
    expect(r.body.data).toHaveLength(2)
    expect(r.body.meta).toEqual({ total: 5, limit: 2, offset: 0 })
    expect(r.headers.get('x-total-count')).toBe('5')
    const page2 = await h.call('GET', '/api/v1/tasks?status=failed,completed&limit=2&offset=4', { token })
    expect(page2.body.data).toHaveLength(1)
    const high = await h.call('GET', '/api/v1/tasks?priority=high&task_type=data_processing', { token })
    expect(high.body.meta.total).toBe(3)
    // Ids are time-ordered (UUIDv7: `…a-7…` is a plain id substring now), so search with a quote.
    const q = await h.call('GET', `/api/v1/tasks?q=${encodeURIComponent('"a-77')}`, { token })
    expect(q.body.data.map((t) => t.metadata)).toEqual([{ order: 'A-77' }])
    const err = await h.call('GET', `/api/v1/tasks?q=${encodeURIComponent('boom 1')}`, { token })
    expect(err.body.meta.total).toBe(1)
    const future = await h.call(
      'GET',
      `/api/v1/tasks?created_after=${new Date(Date.now() + 60_000).toISOString()}`,
      { token },
    )
    expect(future.body.meta.total).toBe(0)
    const past = await h.call(
      'GET',
      `/api/v1/tasks?created_before=${new Date(Date.now() + 60_000).toISOString()}&status=failed`,
      { token },
    )
    expect(past.body.meta.total).toBe(4)
  })

  test('GET /tasks rejects bad filters with the parameter named', async () => {
    for (const [qs, field] of [
      ['status=done', 'status'],
      ['priority=urgent', 'priority'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=-5', 'limit'],
      ['offset=-1', 'offset'],
      ['created_after=yesterday', 'created_after'],
    ]) {
      const r = await h.call('GET', `/api/v1/tasks?${qs}`, { token })
      expect(r.status).toBe(400)
      expect(r.body.error.details?.field).toBe(field!)
    }
  })

  test('GET /tasks/stats counts own tasks per status and type', async () => {
    const r = await h.call('GET', '/api/v1/tasks/stats', { token })
    expect(r.status).toBe(200)
    expect(r.body.data.failed).toBe(4)
    expect(r.body.data.by_type.data_processing?.failed).toBe(3)
    expect(r.body.data.total).toBe(
      Object.values(r.body.data.by_type).reduce((n: number, t) => n + (t as { total: number }).total, 0),
    )
  })

  test('GET /tasks/dead-letter lists own failed tasks with the total', async () => {
    const r = await h.call('GET', '/api/v1/tasks/dead-letter?limit=2', { token })
    expect(r.status).toBe(200)
    expect(r.body.meta.total).toBe(4)
    expect(r.body.data).toHaveLength(2)
    expect(r.body.data.every((t) => t.status === 'failed' && t.created_by === userId)).toBe(true)
  })
})

describe('one task', () => {
  test('GET /tasks/:id and its events oldest first; a missing id is 404', async () => {
    const id = (await create({ task_type: 'email' })).body.data.id
    const r = await h.call('GET', `/api/v1/tasks/${id}`, { token })
    expect(r.status).toBe(200)
    expect(r.body.data.id).toBe(id)
    await h.call('POST', `/api/v1/tasks/${id}/cancel`, { token })
    const ev = await h.call('GET', `/api/v1/tasks/${id}/events`, { token })
    expect(ev.status).toBe(200)
    expect(ev.body.data.map((e) => e.to_status)).toEqual(['pending', 'cancelled'])
    expect(ev.body.data[1]?.actor).toBe(`user:${userId}`)
    for (const path of [`/api/v1/tasks/${MISSING}`, `/api/v1/tasks/${MISSING}/events`]) {
      const m = await h.call('GET', path, { token })
      expect(m.status).toBe(404)
      expect(m.body.error.code).toBe('TASK_NOT_FOUND')
    }
  })

  test('cancel: waiting → cancelled, running → signalled, finished → 409', async () => {
    const waiting = await mine({ task_type: 'email', status: 'retrying' })
    const c = await h.call('POST', `/api/v1/tasks/${waiting.id}/cancel`, { token })
    expect(c.status).toBe(200)
    expect(c.body.data.status).toBe('cancelled')
    const running = await mine({ task_type: 'email', status: 'running' })
    const rc = await h.call('POST', `/api/v1/tasks/${running.id}/cancel`, { token })
    expect(rc.status).toBe(200)
    expect(rc.body.data).toMatchObject({ status: 'running', cancel_requested: true })
    for (const status of ['completed', 'failed', 'cancelled'] as const) {
      const t = await mine({ task_type: 'email', status })
      const r = await h.call('POST', `/api/v1/tasks/${t.id}/cancel`, { token })
      expect(r.status).toBe(409)
      expect(r.body.error).toMatchObject({ code: 'INVALID_STATE', details: { status } })
    }
    expect((await h.call('POST', `/api/v1/tasks/${MISSING}/cancel`, { token })).status).toBe(404)
  })

  test('retry: failed/cancelled → pending with attempts reset (seed message); others 409', async () => {
    const t = await mine({ task_type: 'email', status: 'failed', current_attempt: 3 })
    const r = await h.call('POST', `/api/v1/tasks/${t.id}/retry`, { token })
    expect(r.status).toBe(200)
    expect(r.body.data).toMatchObject({ status: 'pending', current_attempt: 0 })
    expect(r.body.message).toBe(`Task ${t.id} has been reset to pending status`)
    const again = await h.call('POST', `/api/v1/tasks/${t.id}/retry`, { token })
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe('INVALID_STATE')
    expect((await h.call('POST', `/api/v1/tasks/${MISSING}/retry`, { token })).status).toBe(404)
  })

  test('delete: finished tasks go with their history; waiting ones are 409', async () => {
    const t = await mine({ task_type: 'email', status: 'completed' })
    const r = await h.call('DELETE', `/api/v1/tasks/${t.id}`, { token })
    expect(r.status).toBe(200)
    expect(r.body.message).toBe(`Task ${t.id} has been permanently deleted`)
    expect(await h.db.sql`SELECT 1 FROM tasks WHERE id = ${t.id}`).toHaveLength(0)
    expect(await h.db.sql`SELECT 1 FROM task_events WHERE task_id = ${t.id}`).toHaveLength(0)
    const p = await mine({ task_type: 'email', status: 'pending' })
    const bad = await h.call('DELETE', `/api/v1/tasks/${p.id}`, { token })
    expect(bad.status).toBe(409)
    expect(bad.body.error.code).toBe('INVALID_STATE')
    expect((await h.call('DELETE', `/api/v1/tasks/${MISSING}`, { token })).status).toBe(404)
  })
})

describe('dead-letter bulk actions', () => {
  test('retry by ids touches only failed ones; by filter selects by type', async () => {
    const f1 = await mine({ task_type: 'delay_task', status: 'failed' })
    const f2 = await mine({ task_type: 'delay_task', status: 'failed' })
    const done = await mine({ task_type: 'delay_task', status: 'completed' })
    const r = await h.call('POST', '/api/v1/tasks/dead-letter/retry', {
      token,
      body: { ids: [f1.id, done.id, MISSING] },
    })
    expect(r.status).toBe(200)
    expect(r.body.data).toEqual({ retried: 1, ids: [f1.id] })
    const byFilter = await h.call('POST', '/api/v1/tasks/dead-letter/retry', {
      token,
      body: { filter: { task_type: 'delay_task' } },
    })
    expect(byFilter.body.data.ids).toEqual([f2.id])
  })

  test('delete by filter and by ids; neither or both is 400', async () => {
    const f = await mine({ task_type: 'email', status: 'failed', last_error: 'smtp 550 mailbox gone' })
    const keep = await mine({ task_type: 'email', status: 'failed', last_error: 'other' })
    const r = await h.call('DELETE', '/api/v1/tasks/dead-letter', {
      token,
      body: { filter: { q: 'mailbox gone' } },
    })
    expect(r.status).toBe(200)
    expect(r.body.data).toEqual({ deleted: 1, ids: [f.id] })
    const byIds = await h.call('DELETE', '/api/v1/tasks/dead-letter', { token, body: { ids: [keep.id] } })
    expect(byIds.body.data.deleted).toBe(1)
    for (const body of [{}, { ids: [keep.id], filter: {} }]) {
      const bad = await h.call('DELETE', '/api/v1/tasks/dead-letter', { token, body })
      expect(bad.status).toBe(400)
      expect(bad.body.error.code).toBe('VALIDATION_ERROR')
    }
  })
})

// /tasks/types: public listing, upsert by admin or worker credential, admin PATCH with a NOTIFY to
// the workers.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { CONTROL_CHANNEL } from '../../src/queue/notify'
import { waitFor } from '../helpers/wait'
import { type Harness, harness, WORKER_TOKEN } from './harness'

let h: Harness
let user: { token: string }
let admin: { token: string }

beforeAll(async () => {
  h = await harness()
  user = await h.user('ursula')
  admin = await h.admin()
})
afterAll(() => h.close())

describe('GET /tasks/types', () => {
  test('is public and shows the seed fields, breaker, paused and live workers', async () => {
    const r = await h.call('GET', '/api/v1/tasks/types')
    expect(r.status).toBe(200)
    const email = r.body.data.find((t) => t.task_type === 'email')
    expect(email).toMatchObject({
      task_type: 'email',
      is_active: true,
      paused: false,
      breaker: {
        state: 'closed',
        failures: 0,
        failure_threshold: 5,
        success_threshold: 2,
        cooldown_ms: 30000,
      },
      workers: { alive: 0, ids: [] },
    })
    for (const f of ['description', 'created_at', 'updated_at']) expect(email).toHaveProperty(f)
  })

  test('counts only workers heartbeating within their lease', async () => {
    await h.db.sql`INSERT INTO workers (id, host, pid, concurrency, lease_ms, task_types) VALUES
      ('w-live', 'h', 1, 4, 30000, '{email}'),
      ('w-stale', 'h', 2, 4, 1000, '{email}')`
    await h.db.sql`UPDATE workers SET heartbeat_at = now() - interval '5 seconds' WHERE id = 'w-stale'`
    const r = await h.call('GET', '/api/v1/tasks/types')
    const email = r.body.data.find((t) => t.task_type === 'email')
    expect(email!.workers).toEqual({ alive: 1, ids: ['w-live'] })
  })
})

describe('GET /tasks/types/{type}', () => {
  test('is public and shows the one type as the list does; an unknown type is 404', async () => {
    const list = await h.call('GET', '/api/v1/tasks/types')
    const one = await h.call('GET', '/api/v1/tasks/types/email')
    expect(one.status).toBe(200)
    expect(one.body.data).toEqual(list.body.data.find((t) => t.task_type === 'email')!)
    const missing = await h.call('GET', '/api/v1/tasks/types/no_such_type')
    expect(missing.status).toBe(404)
    expect(missing.body.error.code).toBe('TASK_TYPE_NOT_FOUND')
  })
})

describe('POST /tasks/types', () => {
  test('needs the worker credential or an admin', async () => {
    const body = { task_type: 'thumbnail', description: 'Make thumbnails' }
    expect((await h.call('POST', '/api/v1/tasks/types', { body })).status).toBe(401)
    const asUser = await h.call('POST', '/api/v1/tasks/types', { token: user.token, body })
    expect(asUser.status).toBe(403)
    expect(asUser.body.error.code).toBe('FORBIDDEN')
    const wrong = await h.call('POST', '/api/v1/tasks/types', { token: 'not-the-worker-credential', body })
    expect(wrong.status).toBe(401)
    const first = await h.call('POST', '/api/v1/tasks/types', { token: WORKER_TOKEN, body })
    expect(first.status).toBe(201)
    expect(first.body.data).toMatchObject({
      task_type: 'thumbnail',
      description: 'Make thumbnails',
      is_active: true,
    })
    const again = await h.call('POST', '/api/v1/tasks/types', {
      token: admin.token,
      body: { task_type: 'thumbnail' },
    })
    expect(again.status).toBe(200)
    expect(again.body.data.description).toBe('Make thumbnails')
    const task = await h.call('POST', '/api/v1/tasks', {
      token: user.token,
      body: { task_type: 'thumbnail' },
    })
    expect(task.status).toBe(201)
  })

  test('refuses a bad name with the field named', async () => {
    const before = await h.counts()
    for (const task_type of ['Bad Name', '1abc', 'x'.repeat(64), "a'; DROP TABLE tasks; --"]) {
      const r = await h.call('POST', '/api/v1/tasks/types', { token: admin.token, body: { task_type } })
      expect(r.status).toBe(400)
      expect(r.body.error.details?.field).toBe('task_type')
    }
    const none = await h.call('POST', '/api/v1/tasks/types', {
      token: admin.token,
      body: { description: 'x' },
    })
    expect(none.status).toBe(400)
    expect(await h.counts()).toEqual(before)
  })
})

describe('PATCH /tasks/types/:type', () => {
  test('pauses and tells the workers at once on tasklab_control', async () => {
    const heard: string[] = []
    const sub = await h.db.sql.listen(CONTROL_CHANNEL, (p) => heard.push(p))
    const r = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: { paused: true },
    })
    expect(r.status).toBe(200)
    expect(r.body.data.paused).toBe(true)
    await waitFor('the workers to be told on tasklab_control', () => heard.includes('{"kind":"types"}'), {
      timeoutMs: 5000,
      intervalMs: 10,
    })
    await sub.unlisten()
    const resumed = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: { paused: false },
    })
    expect(resumed.body.data.paused).toBe(false)
  })

  test('sets breaker thresholds, timeout and default strategy; null clears; state closed resets', async () => {
    await h.db
      .sql`UPDATE task_types SET breaker_state = 'open', breaker_failures = 9, breaker_opened_at = now() WHERE name = 'email'`
    const r = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: {
        timeout_ms: 5000,
        retry_strategy: {
          type: 'linear',
          base_delay_ms: 100,
          increment_ms: 50,
          max_delay_ms: 1000,
          max_attempts: 4,
        },
        breaker: { failure_threshold: 3, success_threshold: 1, cooldown_ms: 500, state: 'closed' },
      },
    })
    expect(r.status).toBe(200)
    expect(r.body.data).toMatchObject({
      timeout_ms: 5000,
      retry_strategy: { type: 'linear', max_attempts: 4 },
      breaker: { state: 'closed', failures: 0, failure_threshold: 3, success_threshold: 1, cooldown_ms: 500 },
    })
    // New tasks of the type take its default strategy.
    const t = await h.call('POST', '/api/v1/tasks', { token: user.token, body: { task_type: 'email' } })
    expect(t.body.data.retry_strategy.type).toBe('linear')
    expect(t.body.data.max_attempts).toBe(4)
    const cleared = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: { timeout_ms: null, retry_strategy: null },
    })
    expect(cleared.body.data).toMatchObject({ timeout_ms: null, retry_strategy: null })
  })

  test('deactivating makes new tasks of the type 400 TASK_TYPE_NOT_REGISTERED', async () => {
    await h.call('PATCH', '/api/v1/tasks/types/delay_task', {
      token: admin.token,
      body: { is_active: false },
    })
    const r = await h.call('POST', '/api/v1/tasks', { token: user.token, body: { task_type: 'delay_task' } })
    expect(r.body.error.code).toBe('TASK_TYPE_NOT_REGISTERED')
    await h.call('PATCH', '/api/v1/tasks/types/delay_task', { token: admin.token, body: { is_active: true } })
  })

  test('a refused value names its rule: a strategy in the words POST /tasks uses, a number its bound', async () => {
    const before = (await h.call('GET', '/api/v1/tasks/types/email')).body.data
    const strategies = [
      { type: 'random' },
      { type: 'fixed', interval_ms: -1 },
      { type: 'fixed', interval_ms: '5' },
      { type: 'exponential', base_delay_ms: 1, multiplier: 0.5, max_delay_ms: 9 },
      { type: 'linear', base_delay_ms: 1, increment_ms: 1, max_delay_ms: 1e12 },
      [],
    ]
    for (const retry_strategy of strategies) {
      const patch = await h.call('PATCH', '/api/v1/tasks/types/email', {
        token: admin.token,
        body: { retry_strategy } as never,
      })
      const post = await h.call('POST', '/api/v1/tasks', {
        token: admin.token,
        body: { task_type: 'email', payload: {}, retry_strategy } as never,
      })
      expect([patch.status, patch.body.error.details?.field]).toEqual([400, 'retry_strategy'])
      expect([retry_strategy, patch.body.error.message]).toEqual([retry_strategy, post.body.error.message])
    }
    // A union of a number and null is judged as the number that was sent, not "one of: integer, null".
    for (const [body, field] of [
      [{ timeout_ms: -5 }, 'timeout_ms'],
      [{ breaker: { cooldown_ms: -1 } }, 'breaker.cooldown_ms'],
    ] as const) {
      const r = await h.call('PATCH', '/api/v1/tasks/types/email', { token: admin.token, body })
      expect([r.status, r.body.error.details?.field]).toEqual([400, field])
      expect(r.body.error.message).toMatch(/greater or equal to/)
    }
    expect((await h.call('GET', '/api/v1/tasks/types/email')).body.data).toEqual(before)
  })

  test('errors: unknown type 404, empty or bad body 400, user 403, no token 401', async () => {
    const missing = await h.call('PATCH', '/api/v1/tasks/types/nope', {
      token: admin.token,
      body: { paused: true },
    })
    expect(missing.status).toBe(404)
    expect(missing.body.error.code).toBe('TASK_TYPE_NOT_FOUND')
    const empty = await h.call('PATCH', '/api/v1/tasks/types/email', { token: admin.token, body: {} })
    expect(empty.status).toBe(400)
    const strategy = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: { retry_strategy: { type: 'fixed' } },
    })
    expect(strategy.status).toBe(400)
    expect(strategy.body.error.details?.field).toBe('retry_strategy')
    const threshold = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: { breaker: { failure_threshold: 0 } },
    })
    expect(threshold.status).toBe(400)
    expect(threshold.body.error.details?.field).toBe('breaker.failure_threshold')
    expect(threshold.body.error.message).toContain('greater or equal to 1')
    expect(
      (await h.call('PATCH', '/api/v1/tasks/types/email', { token: user.token, body: { paused: true } }))
        .status,
    ).toBe(403)
    expect((await h.call('PATCH', '/api/v1/tasks/types/email', { body: { paused: true } })).status).toBe(401)
  })
})

// The HTTP worker protocol through app.handle: claim (with long-poll), heartbeat, complete, fail,
// the lease guard, the bad input the issue lists, timeouts and rescue of a silent remote worker.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { failOverdueRemote } from '../../src/queue/remote'
import { rescueExpired } from '../../src/queue/rescue'
import { parkedWaits } from '../../src/queue/wakeups'
import { waitFor } from '../helpers/wait'
import { type Harness, harness, WORKER_TOKEN } from './harness'

let h: Harness
let user: { token: string }
let admin: { token: string }
const W = { token: WORKER_TOKEN }

beforeAll(async () => {
  h = await harness({ STARTER__WORKER__LEASE_SECS: '1' })
  user = await h.user('rita')
  admin = await h.admin()
  for (const task_type of ['remote_echo', 'remote_other'])
    expect(
      (
        await h.call('POST', '/api/v1/tasks/types', {
          ...W,
          body: {
            task_type,
            description: 'echoes',
            payload_schema: { type: 'object', properties: { n: { type: 'integer' } } },
          },
        })
      ).status,
    ).toBe(201)
})
afterAll(() => h.close())

const create = async (task_type: string, extra: Record<string, unknown> = {}) => {
  const r = await h.call('POST', '/api/v1/tasks', {
    token: user.token,
    body: { task_type, payload: { n: 1 }, ...extra },
  })
  expect(r.status).toBe(201)
  return r.body.data as { id: string }
}
const claim = (body: Record<string, unknown>, token = WORKER_TOKEN) =>
  h.call('POST', '/api/v1/workers/claim', { token, body })
const report = (
  id: string,
  what: 'heartbeat' | 'complete' | 'fail',
  body: Record<string, unknown>,
  token = WORKER_TOKEN,
) => h.call('POST', `/api/v1/tasks/${id}/${what}`, { token, body })
const task = async (id: string) =>
  (await h.call('GET', `/api/v1/tasks/${id}`, { token: user.token })).body.data

describe('claim, heartbeat, complete', () => {
  test('a claimed task carries what a worker needs and completes with its result', async () => {
    const { id } = await create('remote_echo')
    const r = await claim({ worker_id: 'py-1', types: ['remote_echo'], limit: 5 })
    expect(r.status).toBe(200)
    expect(r.body.data).toHaveLength(1)
    const c = r.body.data[0]!
    expect(c).toMatchObject({
      id,
      task_type: 'remote_echo',
      payload: { n: 1 },
      current_attempt: 1,
      max_attempts: 3,
    })
    expect(c.timeout_ms).toBe(300_000)
    expect(new Date(c.lease_expires_at).getTime()).toBeGreaterThan(Date.now())

    const hb = await report(id, 'heartbeat', { worker_id: 'py-1' })
    expect(hb.status).toBe(200)
    expect(hb.body.data.cancel_requested).toBe(false)

    const done = await report(id, 'complete', { worker_id: 'py-1', result: { echoed: 1 } })
    expect(done.status).toBe(200)
    expect(done.body.data).toMatchObject({ status: 'completed', result: { echoed: 1 } })
    const history = (await h.call('GET', `/api/v1/tasks/${id}/events`, { token: user.token })).body.data
    expect(history.at(-1)).toMatchObject({
      from_status: 'running',
      to_status: 'completed',
      worker_id: 'py-1',
    })
  })

  test('the remote worker shows in GET /workers and in the live-worker count of its types', async () => {
    const workers = (await h.call('GET', '/api/v1/workers', { token: admin.token })).body.data
    expect(workers.find((w) => w.id === 'py-1')).toMatchObject({
      alive: true,
      kind: 'remote',
      task_types: ['remote_echo'],
    })
    const types = (await h.call('GET', '/api/v1/tasks/types')).body.data
    expect(types.find((t) => t.task_type === 'remote_echo')!.workers?.ids).toContain('py-1')
  })

  test('a late or foreign report is 409 LEASE_LOST and changes nothing', async () => {
    const { id } = await create('remote_echo')
    await claim({ worker_id: 'py-1', types: ['remote_echo'], limit: 1 })
    for (const [what, body] of [
      ['complete', { worker_id: 'py-2', result: 1 }],
      ['fail', { worker_id: 'py-2', error: 'no' }],
      ['heartbeat', { worker_id: 'py-2' }],
    ] as const) {
      const r = await report(id, what, body)
      expect(r.status).toBe(409)
      expect(r.body.error.code).toBe('LEASE_LOST')
    }
    expect(await task(id)).toMatchObject({ status: 'running', locked_by: 'py-1' })
    expect((await report(id, 'complete', { worker_id: 'py-1' })).status).toBe(200)
    const again = await report(id, 'complete', { worker_id: 'py-1', result: 'twice' })
    expect(again.status).toBe(409)
    expect((await task(id)).result).toBeNull()
  })
})

describe('fail', () => {
  test('a failure is retried by the strategy; a permanent one goes to failed at once', async () => {
    const retried = await create('remote_echo', { retry_strategy: { type: 'fixed', interval_ms: 10_000 } })
    await claim({ worker_id: 'py-1', types: ['remote_echo'], limit: 1 })
    const r = await report(retried.id, 'fail', { worker_id: 'py-1', error: 'flaky\u0000 upstream' })
    expect(r.status).toBe(200)
    expect(r.body.data).toMatchObject({ status: 'retrying', last_error: 'flaky upstream' })

    const dead = await create('remote_echo')
    await claim({ worker_id: 'py-1', types: ['remote_echo'], limit: 1 })
    const p = await report(dead.id, 'fail', { worker_id: 'py-1', error: 'bad sku', permanent: true })
    expect(p.body.data).toMatchObject({ status: 'failed', last_error: 'bad sku', current_attempt: 1 })
  })

  test('a long error (a traceback) is stored cut to 10,000 characters, not refused', async () => {
    const { id } = await create('remote_echo', { max_attempts: 1 })
    await claim({ worker_id: 'py-1', types: ['remote_echo'], limit: 1 })
    const traceback = `Traceback (most recent call last):\n${'  File "worker.py", line 1, in run\n'.repeat(1500)}`
    expect(traceback.length).toBeGreaterThan(50_000)
    const r = await report(id, 'fail', { worker_id: 'py-1', error: traceback })
    expect(r.status).toBe(200)
    expect(r.body.data.status).toBe('failed')
    expect(r.body.data.last_error).toBe(traceback.slice(0, 10_000))
  })

  test.each([
    ['over the size limit', { blob: 'x'.repeat(1024 * 1024 + 10) }, /limit is 1048576 bytes/],
    ['with U+0000', { text: 'a\u0000b' }, /cannot store/],
  ])(
    'a result %s fails the attempt with a clear error; the server keeps going',
    async (_, result, message) => {
      const { id } = await create('remote_echo', { max_attempts: 1 })
      await claim({ worker_id: 'py-1', types: ['remote_echo'], limit: 1 })
      const r = await report(id, 'complete', { worker_id: 'py-1', result })
      expect(r.status).toBe(400)
      expect(r.body.error).toMatchObject({
        code: 'RESULT_NOT_STORABLE',
        details: { field: 'result', status: 'failed' },
      })
      expect(r.body.error.message).toMatch(message)
      expect((await task(id)).last_error).toMatch(message)
      expect((await h.call('GET', '/api/v1/health')).status).toBe(200)
    },
  )

  test('cancel reaches the worker through heartbeat; its fail then ends the task cancelled', async () => {
    const { id } = await create('remote_echo')
    await claim({ worker_id: 'py-1', types: ['remote_echo'], limit: 1 })
    expect((await h.call('POST', `/api/v1/tasks/${id}/cancel`, { token: user.token })).status).toBe(200)
    const hb = await report(id, 'heartbeat', { worker_id: 'py-1' })
    expect(hb.body.data.cancel_requested).toBe(true)
    const f = await report(id, 'fail', { worker_id: 'py-1', error: 'stopped on cancel' })
    expect(f.body.data.status).toBe('cancelled')
  })
})

describe('bad input', () => {
  test('no token 401, unknown token 401, a user session 403; an admin session works', async () => {
    const body = { worker_id: 'py-1', types: ['remote_echo'], limit: 1 }
    expect((await h.call('POST', '/api/v1/workers/claim', { body })).status).toBe(401)
    expect((await claim(body, 'not-the-worker-token-0123456789')).status).toBe(401)
    expect((await claim(body, user.token)).status).toBe(403)
    expect((await claim(body, admin.token)).status).toBe(200)
    const { id } = await create('remote_echo')
    expect((await report(id, 'heartbeat', { worker_id: 'x' }, user.token)).status).toBe(403)
    await h.db.sql`UPDATE tasks SET status = 'cancelled', completed_at = now() WHERE id = ${id}`
  })

  test.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: 101 }, 'limit'],
    [{ wait_ms: 30_001 }, 'wait_ms'],
    [{ types: ['no_such_type'] }, 'types'],
    [{ types: [] }, 'types'],
    [{ worker_id: '' }, 'worker_id'],
  ])('claim with %j is 400 naming %s', async (change, field) => {
    const r = await claim({ worker_id: 'py-1', types: ['remote_echo'], limit: 1, ...change })
    expect(r.status).toBe(400)
    expect(r.body.error.details?.field).toBe(field)
  })

  test("a worker_id of one of tasklab's worker processes is refused", async () => {
    await h.db
      .sql`INSERT INTO workers (id, host, pid, concurrency, lease_ms) VALUES ('host-1-w0', 'h', 1, 1, 1000)`
    const r = await claim({ worker_id: 'host-1-w0', types: ['remote_echo'], limit: 1 })
    expect(r.status).toBe(400)
    expect(r.body.error.details?.field).toBe('worker_id')
  })
})

describe('long poll', () => {
  test('returns an empty list after wait_ms when nothing comes', async () => {
    const started = performance.now()
    const r = await claim({ worker_id: 'py-1', types: ['remote_other'], limit: 1, wait_ms: 300 })
    expect(r.status).toBe(200)
    expect(r.body.data).toEqual([])
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
  })

  test('is woken by an enqueue, not by its timeout', async () => {
    const waiting = claim({ worker_id: 'py-1', types: ['remote_other'], limit: 1, wait_ms: 30_000 })
    await waitFor('the claim to wait', () => parkedWaits() > 0)
    const { id } = await create('remote_other')
    const r = await waiting
    expect(r.body.data.map((t) => t.id)).toEqual([id])
    await report(id, 'complete', { worker_id: 'py-1' })
  })

  test('a paused type is not handed out', async () => {
    await h.call('PATCH', '/api/v1/tasks/types/remote_other', { token: admin.token, body: { paused: true } })
    const { id } = await create('remote_other')
    const r = await claim({ worker_id: 'py-1', types: ['remote_other'], limit: 1 })
    expect(r.body.data).toEqual([])
    // A claim waiting on the paused type gets the task once the type is resumed.
    const waiting = claim({ worker_id: 'py-1', types: ['remote_other'], limit: 1, wait_ms: 20_000 })
    await h.call('PATCH', '/api/v1/tasks/types/remote_other', { token: admin.token, body: { paused: false } })
    expect((await waiting).body.data[0]!.id).toBe(id)
    await report(id, 'complete', { worker_id: 'py-1' })
  })
})

describe('circuit breaker', () => {
  test("remote failures open the type's breaker; while open its tasks wait, not burned", async () => {
    await h.call('POST', '/api/v1/tasks/types', { ...W, body: { task_type: 'remote_brk' } })
    const patched = await h.call('PATCH', '/api/v1/tasks/types/remote_brk', {
      token: admin.token,
      body: { breaker: { failure_threshold: 2, cooldown_ms: 3_600_000 } },
    })
    expect(patched.status).toBe(200)
    const ids = [await create('remote_brk'), await create('remote_brk'), await create('remote_brk')].map(
      (t) => t.id,
    )
    for (let i = 0; i < 2; i++) {
      const [t] = (await claim({ worker_id: 'py-b', types: ['remote_brk'], limit: 1 })).body.data
      expect((await report(t!.id, 'fail', { worker_id: 'py-b', error: 'upstream down' })).status).toBe(200)
    }
    const type = (await h.call('GET', '/api/v1/tasks/types')).body.data.find(
      (x) => x.task_type === 'remote_brk',
    )!
    expect(type.breaker).toMatchObject({ state: 'open', failures: 2 })
    expect((await claim({ worker_id: 'py-b', types: ['remote_brk'], limit: 5 })).body.data).toEqual([])
    expect((await task(ids[2]!)).status).toBe('pending')
    await h.call('PATCH', '/api/v1/tasks/types/remote_brk', {
      token: admin.token,
      body: { breaker: { state: 'closed' } },
    })
    const after = (await claim({ worker_id: 'py-b', types: ['remote_brk'], limit: 1 })).body.data
    expect(after.map((t) => t.id)).toEqual([ids[2]!])
    await report(ids[2]!, 'complete', { worker_id: 'py-b' })
  })
})

describe('circuit breaker probes', () => {
  test('after the cool-down one probe task at a time; its success closes the breaker', async () => {
    await h.call('POST', '/api/v1/tasks/types', { ...W, body: { task_type: 'remote_probe' } })
    await h.call('PATCH', '/api/v1/tasks/types/remote_probe', {
      token: admin.token,
      body: { breaker: { failure_threshold: 1, success_threshold: 1, cooldown_ms: 0 } },
    })
    const slow = { retry_strategy: { type: 'fixed', interval_ms: 3_600_000 } }
    await create('remote_probe', slow)
    const [first] = (await claim({ worker_id: 'py-p', types: ['remote_probe'], limit: 1 })).body.data
    await report(first!.id, 'fail', { worker_id: 'py-p', error: 'down' })
    const waiting = [(await create('remote_probe')).id, (await create('remote_probe')).id]
    const breaker = async () =>
      (await h.call('GET', '/api/v1/tasks/types')).body.data.find((x) => x.task_type === 'remote_probe')!
        .breaker.state
    expect(await breaker()).toBe('open')

    const probe = (await claim({ worker_id: 'py-p', types: ['remote_probe'], limit: 5 })).body.data
    expect(probe).toHaveLength(1)
    expect(await breaker()).toBe('half_open')
    expect((await claim({ worker_id: 'py-q', types: ['remote_probe'], limit: 5 })).body.data).toEqual([])
    await report(probe[0]!.id, 'complete', { worker_id: 'py-p' })
    expect(await breaker()).toBe('closed')
    const rest = (await claim({ worker_id: 'py-q', types: ['remote_probe'], limit: 5 })).body.data
    expect([probe[0]!.id, ...rest.map((t) => t.id)].sort()).toEqual(waiting.sort())
    for (const t of rest) await report(t.id, 'complete', { worker_id: 'py-q' })
  })
})

describe('leases and timeouts', () => {
  test("a silent worker's task is rescued after its lease and another worker completes it", async () => {
    const { id } = await create('remote_other', { retry_strategy: { type: 'fixed', interval_ms: 0 } })
    await claim({ worker_id: 'py-dead', types: ['remote_other'], limit: 1 })
    await waitFor(
      'the lease to run out and the rescue to take the task',
      async () => (await rescueExpired(h.db.sql)).length > 0,
    )
    expect(await task(id)).toMatchObject({ status: 'retrying', last_error: 'worker lost' })
    const r = await claim({ worker_id: 'py-alive', types: ['remote_other'], limit: 1, wait_ms: 5000 })
    expect(r.body.data[0]).toMatchObject({ id, current_attempt: 2 })
    expect((await report(id, 'complete', { worker_id: 'py-dead' })).status).toBe(409)
    expect((await report(id, 'complete', { worker_id: 'py-alive' })).status).toBe(200)
  })

  test('the server fails a remote attempt past its timeout even if the worker never answers', async () => {
    const { id } = await create('remote_other', { timeout_ms: 50, max_attempts: 1 })
    const r = await claim({ worker_id: 'py-slow', types: ['remote_other'], limit: 1 })
    expect(r.body.data[0]!.timeout_ms).toBe(50)
    await waitFor(
      'the attempt to pass its timeout and be failed',
      async () => (await failOverdueRemote(h.db.sql, 300_000)).length > 0,
    )
    expect(await task(id)).toMatchObject({ status: 'failed', last_error: 'timed out after 50 ms' })
    expect((await report(id, 'heartbeat', { worker_id: 'py-slow' })).body.error.code).toBe('LEASE_LOST')
  })
})

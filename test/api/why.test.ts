// GET /tasks/{id}/why and GET /tasks/why: every reason code produced by really creating its
// condition against real workers in this process (scheduled ahead, paused, deactivated, a breaker
// opened by failures, a type no worker handles, every slot filled, a running task with its lease,
// a cancel requested, a finished task), and owner scoping.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Type } from '@sinclair/typebox'
import { defineHandler } from '../../src/handlers/contract'
import { claimTasks } from '../../src/queue/claim'
import { registerWorker } from '../../src/queue/workers'
import type { Worker } from '../../src/worker/runner'
import { insertTask, registerTypes } from '../helpers/factory'
import { waitFor } from '../helpers/wait'
import { testWorker } from '../helpers/worker'
import { type Harness, harness } from './harness'

let h: Harness
let alice: { token: string; id: string }
let bob: { token: string; id: string }
let admin: { token: string; id: string }
let gateWorker: Worker
let otherWorker: Worker
const gates: (() => void)[] = []

const any = Type.Any()
// Holds its slot until the test lets go; ignores the abort signal so a cancel stays "requested".
const gate = defineHandler({
  type: 'gate',
  description: 'waits to be released',
  schema: any,
  example: {},
  run: () => new Promise<void>((resolve) => gates.push(resolve)),
})
const flaky = defineHandler({
  type: 'flaky',
  description: 'always fails',
  schema: any,
  example: {},
  run: async () => {
    throw new Error('downstream is down')
  },
})
const quick = (type: string) =>
  defineHandler({
    type,
    description: `${type} is quick`,
    schema: any,
    example: {},
    run: async () => ({ ok: true }),
  })

beforeAll(async () => {
  h = await harness()
  ;[alice, bob, admin] = await Promise.all([h.user('alice'), h.user('bob'), h.admin()])
  // One slot for gate (so it fills), and a roomy worker for the rest; email has no worker at all.
  gateWorker = testWorker(h.db.sql, [gate], { concurrency: 1, idSuffix: 'gate' }).worker
  otherWorker = testWorker(h.db.sql, [flaky, quick('sleepy'), quick('idle')], { idSuffix: 'other' }).worker
  await Promise.all([gateWorker.start(), otherWorker.start()])
})
afterAll(async () => {
  for (const release of gates.splice(0)) release()
  await Promise.all([gateWorker?.stop(500), otherWorker?.stop(500)])
  await h.close()
})

const create = async (body: Record<string, unknown>, token = alice.token): Promise<string> => {
  const r = await h.call('POST', '/api/v1/tasks', { token, body: { payload: {}, ...body } })
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`)
  return r.body.data.id
}
const why = async (id: string, token = alice.token) => {
  const r = await h.call('GET', `/api/v1/tasks/${id}/why`, { token })
  if (r.status !== 200) throw new Error(`why: ${r.status} ${r.text}`)
  return r.body.data as {
    status: string
    runnable: boolean
    // biome-ignore lint/suspicious/noExplicitAny: evidence fields differ per code
    reasons: { code: string; message: string; [k: string]: any }[]
  }
}
const codes = async (id: string) => (await why(id)).reasons.map((r) => r.code)
const patchType = (type: string, body: unknown) =>
  h.call('PATCH', `/api/v1/tasks/types/${type}`, { token: admin.token, body })
const statusOf = async (id: string) =>
  (await h.call('GET', `/api/v1/tasks/${id}`, { token: alice.token })).body.data.status as string

describe('GET /tasks/{id}/why', () => {
  test("is owner-scoped: another user's task is 404, no token is 401, an admin sees it", async () => {
    const id = await create({
      task_type: 'email',
      scheduled_at: new Date(Date.now() + 3_600_000).toISOString(),
    })
    const other = await h.call('GET', `/api/v1/tasks/${id}/why`, { token: bob.token })
    expect(other.status).toBe(404)
    expect(other.body.error.code).toBe('TASK_NOT_FOUND')
    expect((await h.call('GET', `/api/v1/tasks/${id}/why`)).status).toBe(401)
    expect((await why(id, admin.token)).status).toBe('scheduled')
  })

  test('NO_WORKER: no live worker handles the type, and the message says how to start one', async () => {
    const id = await create({ task_type: 'email' })
    const w = await why(id)
    expect(w).toMatchObject({ status: 'pending', runnable: false })
    const r = w.reasons.find((x) => x.code === 'NO_WORKER')!
    expect(r.message).toContain('tasklab worker')
    expect(r.task_type).toBe('email')
  })

  test('SCHEDULED: waiting for scheduled_at, with the time', async () => {
    const at = new Date(Date.now() + 3_600_000)
    const id = await create({ task_type: 'sleepy', scheduled_at: at.toISOString() })
    const w = await why(id)
    expect(w.runnable).toBe(false)
    expect(w.reasons.map((r) => r.code)).toEqual(['SCHEDULED'])
    expect(new Date(w.reasons[0]!.scheduled_at).getTime()).toBe(Math.floor(at.getTime()))
  })

  test('TYPE_PAUSED, then TERMINAL once the type is resumed and the task has run', async () => {
    expect((await patchType('sleepy', { paused: true })).status).toBe(200)
    const id = await create({ task_type: 'sleepy' })
    expect(await codes(id)).toEqual(['TYPE_PAUSED'])
    expect((await why(id)).runnable).toBe(false)
    await patchType('sleepy', { paused: false })
    await waitFor('the resumed task to complete', async () => (await statusOf(id)) === 'completed')
    const w = await why(id)
    expect(w).toMatchObject({ status: 'completed', runnable: false })
    expect(w.reasons).toMatchObject([{ code: 'TERMINAL', can: ['delete'] }])
  })

  test('TYPE_INACTIVE: a deactivated type is not claimed', async () => {
    await patchType('idle', { paused: true })
    const id = await create({ task_type: 'idle' })
    await patchType('idle', { paused: false, is_active: false })
    expect(await codes(id)).toEqual(['TYPE_INACTIVE'])
    await patchType('idle', { is_active: true })
    await waitFor('the reactivated task to complete', async () => (await statusOf(id)) === 'completed')
  })

  test('BACKOFF: retrying, with when the backoff ends and the strategy that set it', async () => {
    const id = await create({
      task_type: 'flaky',
      max_attempts: 3,
      retry_strategy: { type: 'fixed', interval_ms: 600_000, max_attempts: 3 },
    })
    await waitFor('the first failure', async () => (await statusOf(id)) === 'retrying')
    const w = await why(id)
    expect(w.runnable).toBe(false)
    const r = w.reasons.find((x) => x.code === 'BACKOFF')!
    expect(r).toMatchObject({
      attempt: 1,
      max_attempts: 3,
      strategy: { type: 'fixed' },
      last_error: 'downstream is down',
    })
    expect(new Date(r.until).getTime()).toBeGreaterThan(Date.now() + 500_000)
    expect(r.message).toContain('fixed')
  })

  test('BREAKER_OPEN: opened by failures, with when it half-opens and the failures', async () => {
    // Closed afresh (the backoff test's failure would otherwise count as the first of the two).
    await patchType('flaky', { breaker: { state: 'closed', failure_threshold: 2, cooldown_ms: 600_000 } })
    const failing = await Promise.all([1, 2].map(() => create({ task_type: 'flaky', max_attempts: 1 })))
    await waitFor('the breaker of flaky to open', async () => {
      const types = (await h.call('GET', '/api/v1/tasks/types')).body.data as {
        task_type: string
        breaker: { state: string }
      }[]
      return types.find((t) => t.task_type === 'flaky')?.breaker.state === 'open'
    })
    for (const id of failing) expect(await statusOf(id)).toBe('failed')
    const id = await create({ task_type: 'flaky' })
    const w = await why(id)
    const r = w.reasons.find((x) => x.code === 'BREAKER_OPEN')!
    expect(r.failures).toBeGreaterThanOrEqual(2)
    expect(r.failure_threshold).toBe(2)
    expect(new Date(r.half_opens_at).getTime() - new Date(r.opened_at).getTime()).toBe(600_000)
    expect(w.runnable).toBe(false)
    // A failed task can be retried or deleted.
    expect((await why(failing[0]!)).reasons).toMatchObject([{ code: 'TERMINAL', can: ['retry', 'delete'] }])
  })

  test('RUNNING, WORKERS_BUSY (with what is ahead and why), then CANCEL_REQUESTED', async () => {
    const first = await create({ task_type: 'gate' })
    await waitFor('the gate task to run', async () => (await statusOf(first)) === 'running')
    const running = await why(first)
    expect(running.runnable).toBe(false)
    const r = running.reasons.find((x) => x.code === 'RUNNING')!
    expect(r.worker).toBe(gateWorker.id)
    expect(r.worker_alive).toBe(true)
    expect(r).toMatchObject({ attempt: 1, on_lease_expiry: 'retrying' })
    expect(new Date(r.lease_expires_at).getTime()).toBeGreaterThan(new Date(r.heartbeat_at).getTime())
    expect(r.message).toContain('rescue')

    const older = await create({ task_type: 'gate', priority: 'normal' })
    const urgent = await create({ task_type: 'gate', priority: 'critical' })
    const waiting = await create({ task_type: 'gate', priority: 'normal' })
    const busy = (await why(waiting)).reasons.find((x) => x.code === 'WORKERS_BUSY')!
    expect(busy).toMatchObject({
      slots: 1,
      running: 1,
      workers: [gateWorker.id],
      ahead: { total: 2, higher_priority: 1, same_priority_older: 1 },
    })
    expect(busy.message).toContain('1 of higher priority')
    expect((await why(urgent)).reasons.find((x) => x.code === 'WORKERS_BUSY')!.ahead.total).toBe(0)
    expect((await why(older)).reasons.find((x) => x.code === 'WORKERS_BUSY')!.ahead).toMatchObject({
      higher_priority: 1,
      same_priority_older: 0,
    })

    // A worker that has claimed a task but not yet acted on its cancel: this test, claiming by hand.
    await registerTypes(h.db.sql, 'manual')
    await registerWorker(h.db.sql, {
      id: 'by-hand',
      host: 'test',
      pid: 1,
      concurrency: 1,
      leaseMs: 60_000,
      types: ['manual'],
    })
    const held = await create({ task_type: 'manual' })
    expect(
      await claimTasks(h.db.sql, { workerId: 'by-hand', types: ['manual'], limit: 1, leaseMs: 60_000 }),
    ).toHaveLength(1)
    const cancel = await h.call('POST', `/api/v1/tasks/${held}/cancel`, { token: alice.token })
    expect(cancel.status).toBe(200)
    const cancelling = await why(held)
    expect(cancelling.reasons.map((x) => x.code)).toEqual(['CANCEL_REQUESTED', 'RUNNING'])
    expect(cancelling.reasons[1]).toMatchObject({ worker: 'by-hand', on_lease_expiry: 'cancelled' })

    // The overview's breakdown and the list's badges agree with the per-task answers.
    const summary = await h.call('GET', `/api/v1/tasks/why?ids=${[held, first, waiting].join(',')}`, {
      token: alice.token,
    })
    expect(summary.status).toBe(200)
    expect(summary.body.data.tasks?.[held]?.code).toBe('CANCEL_REQUESTED')
    expect(summary.body.data.tasks?.[first]?.code).toBe('RUNNING')
    expect(summary.body.data.tasks?.[waiting]?.code).toBe('WORKERS_BUSY')
    const all = (await h.call('GET', '/api/v1/tasks/why', { token: alice.token })).body.data
    expect(all.by_reason).toMatchObject({
      WORKERS_BUSY: 3,
      CANCEL_REQUESTED: 1,
      RUNNING: 1,
      NO_WORKER: 1,
      BACKOFF: 1,
    })
    expect(all.tasks).toBeUndefined()
    const bobs = (await h.call('GET', '/api/v1/tasks/why', { token: bob.token })).body.data
    expect(bobs.by_reason).toEqual({})
    expect((await h.call('GET', '/api/v1/tasks/why?ids=nope', { token: alice.token })).status).toBe(400)

    // Each gated task, once released, frees the slot for the next one to reach its gate.
    await waitFor('the waiting task to complete', async () => {
      for (const release of gates.splice(0)) release()
      return (await statusOf(waiting)) === 'completed'
    })
    expect(await codes(waiting)).toEqual(['TERMINAL'])
  })

  test('READY: nothing holds back a due task with a free slot', async () => {
    // Created while its type is paused, then held by a row lock of the test's own while the type
    // opens: the claim skips locked rows (SKIP LOCKED) and the why reads without locking, so the
    // task is due, its type open and a slot free for as long as it is asked. Un-pausing alone left
    // a race: a worker's next poll claimed it first (the claim reads the pause, issue 13).
    await patchType('sleepy', { paused: true })
    const id = await create({ task_type: 'sleepy' })
    await h.db.sql.begin(async (tx) => {
      await tx`SELECT 1 FROM tasks WHERE id = ${id} FOR UPDATE`
      await h.db.sql`UPDATE task_types SET paused = false WHERE name = 'sleepy'`
      expect(await why(id)).toMatchObject({ status: 'pending', runnable: true, reasons: [{ code: 'READY' }] })
    })
    await patchType('sleepy', { paused: false })
    await waitFor('the task to complete', async () => (await statusOf(id)) === 'completed')
  })
})

const CAP_ENV = { STARTER__WORKER__MAX_RUNNING_PER_USER: '1' }
describe('USER_CAP', () => {
  test('the owner already holds as many running tasks as the cap allows', async () => {
    const capped = await harness(CAP_ENV)
    try {
      const u = await capped.user('carol')
      await insertTask(capped.db.sql, { task_type: 'email', status: 'running', created_by: u.id })
      const r = await capped.call('POST', '/api/v1/tasks', {
        token: u.token,
        body: { task_type: 'email', payload: {} },
      })
      const w = await capped.call('GET', `/api/v1/tasks/${r.body.data.id}/why`, { token: u.token })
      expect(w.body.data.reasons).toContainEqual(
        expect.objectContaining({ code: 'USER_CAP', cap: 1, running: 1 }),
      )
    } finally {
      await capped.close()
    }
  })
})

// GET /tasks/{id}/events returns every transition, in order, whether it was stored in
// task_event_log or is rebuilt from the task row (the lean happy path, migrations/0004).
// Each case drives the engine's own calls (claim, finish, rescue, the API's cancel and retry) and
// compares with the history the 0001 triggers stored row by row.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { claimTasks } from '../../src/queue/claim'
import { failureOutcome, finishTasks } from '../../src/queue/finish'
import { rescueExpired } from '../../src/queue/rescue'
import { registerTypes } from '../helpers/factory'
import { waitFor } from '../helpers/wait'
import { type Harness, harness } from './harness'

let h: Harness
let alice: { token: string; id: string }
beforeAll(async () => {
  h = await harness()
  alice = await h.user('alice')
  await registerTypes(h.db.sql, 'hist')
})
afterAll(() => h.close())
beforeEach(async () => {
  await h.db.sql`DELETE FROM tasks`
})

type Step = [from: string | null, to: string, attempt: number, worker: string | null, actor: string]

const create = async (body: Record<string, unknown> = {}): Promise<string> => {
  const r = await h.call('POST', '/api/v1/tasks', {
    token: alice.token,
    body: { task_type: 'hist', retry_strategy: { type: 'fixed', interval_ms: 0, max_attempts: 3 }, ...body },
  })
  expect(r.status).toBe(201)
  return r.body.data.id
}
const claim = async (worker: string, leaseMs = 30_000) => {
  const got = await claimTasks(h.db.sql, { workerId: worker, types: ['hist'], limit: 10, leaseMs })
  return got[0]!
}
const history = async (id: string) => {
  const r = await h.call('GET', `/api/v1/tasks/${id}/events`, { token: alice.token })
  expect(r.status).toBe(200)
  const events = r.body.data as {
    id: string
    at: string
    from_status: string | null
    to_status: string
    attempt: number
    worker_id: string | null
    actor: string
    error: string | null
  }[]
  // Numbered 1, 2, 3… oldest first; times never go back.
  expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1))
  for (let i = 1; i < events.length; i++)
    expect(Date.parse(events[i]!.at)).toBeGreaterThanOrEqual(Date.parse(events[i - 1]!.at))
  return events
}
const steps = (events: Awaited<ReturnType<typeof history>>): Step[] =>
  events.map((e) => [e.from_status, e.to_status, e.attempt, e.worker_id, e.actor])

describe('the events route rebuilds the lean history', () => {
  test('happy path: created, claimed, completed — none of it stored as a row', async () => {
    const id = await create()
    expect(steps(await history(id))).toEqual([[null, 'pending', 0, null, 'system']])
    await claim('w1')
    expect(steps(await history(id))).toEqual([
      [null, 'pending', 0, null, 'system'],
      ['pending', 'running', 1, 'w1', 'worker'],
    ])
    expect(await finishTasks(h.db.sql, 'w1', [{ id, status: 'completed', result: { ok: 1 } }])).toEqual(
      new Set([id]),
    )
    expect(steps(await history(id))).toEqual([
      [null, 'pending', 0, null, 'system'],
      ['pending', 'running', 1, 'w1', 'worker'],
      ['running', 'completed', 1, 'w1', 'worker'],
    ])
    const [stored] = await h.db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM task_event_log WHERE task_id = ${id}`
    expect(stored!.n).toBe(0)
  })

  test('retried: every failed attempt, then the attempt that completed, in order', async () => {
    const id = await create()
    const a1 = await claim('w1')
    await finishTasks(h.db.sql, 'w1', [failureOutcome(a1, 'boom 1', false, Date.now() - 1000)])
    const a2 = await claim('w2')
    await finishTasks(h.db.sql, 'w2', [failureOutcome(a2, 'boom 2', false, Date.now() - 1000)])
    await claim('w3')
    await finishTasks(h.db.sql, 'w3', [{ id, status: 'completed', result: null }])
    const events = await history(id)
    expect(steps(events)).toEqual([
      [null, 'pending', 0, null, 'system'],
      ['pending', 'running', 1, 'w1', 'worker'],
      ['running', 'retrying', 1, 'w1', 'worker'],
      ['retrying', 'running', 2, 'w2', 'worker'],
      ['running', 'retrying', 2, 'w2', 'worker'],
      ['retrying', 'running', 3, 'w3', 'worker'],
      ['running', 'completed', 3, 'w3', 'worker'],
    ])
    expect(events.map((e) => e.error)).toEqual([null, null, 'boom 1', null, 'boom 2', null, null])
  })

  test('rescued: the lost attempt as "worker lost" by rescue, then the next one', async () => {
    const id = await create()
    await claim('w1', 1)
    await waitFor('the rescue', async () => (await rescueExpired(h.db.sql)).length > 0)
    await waitFor('the backoff', async () => {
      const [t] = await h.db.sql`SELECT 1 FROM tasks WHERE id = ${id} AND run_at <= now()`
      return t
    })
    await claim('w2')
    await finishTasks(h.db.sql, 'w2', [{ id, status: 'completed', result: null }])
    const events = await history(id)
    expect(steps(events)).toEqual([
      [null, 'pending', 0, null, 'system'],
      ['pending', 'running', 1, 'w1', 'worker'],
      ['running', 'retrying', 1, 'w1', 'rescue'],
      ['retrying', 'running', 2, 'w2', 'worker'],
      ['running', 'completed', 2, 'w2', 'worker'],
    ])
    expect(events[2]!.error).toBe('worker lost')
  })

  test('cancelled: waiting (by the user) and running (ended by its worker); retried by the user', async () => {
    const waiting = await create()
    expect((await h.call('POST', `/api/v1/tasks/${waiting}/cancel`, { token: alice.token })).status).toBe(200)
    expect(steps(await history(waiting))).toEqual([
      [null, 'pending', 0, null, 'system'],
      ['pending', 'cancelled', 0, null, `user:${alice.id}`],
    ])
    await h.db.sql`DELETE FROM tasks WHERE id = ${waiting}`

    const running = await create()
    await claim('w1')
    expect((await h.call('POST', `/api/v1/tasks/${running}/cancel`, { token: alice.token })).status).toBe(200)
    await finishTasks(h.db.sql, 'w1', [{ id: running, status: 'cancelled', error: 'cancelled by user' }])
    expect((await h.call('POST', `/api/v1/tasks/${running}/retry`, { token: alice.token })).status).toBe(200)
    await claim('w2')
    await finishTasks(h.db.sql, 'w2', [{ id: running, status: 'completed', result: null }])
    expect(steps(await history(running))).toEqual([
      [null, 'pending', 0, null, 'system'],
      ['pending', 'running', 1, 'w1', 'worker'],
      ['running', 'cancelled', 1, 'w1', 'worker'],
      ['cancelled', 'pending', 0, null, `user:${alice.id}`],
      ['pending', 'running', 1, 'w2', 'worker'],
      ['running', 'completed', 1, 'w2', 'worker'],
    ])
  })

  test('scheduled: created scheduled, due, then claimed through pending; a hand-back is not counted', async () => {
    const id = await create({ scheduled_at: new Date(Date.now() + 300).toISOString() })
    expect(steps(await history(id))).toEqual([[null, 'scheduled', 0, null, 'system']])
    const first = await waitFor('the scheduled time', () => claim('w1'))
    expect(first.id).toBe(id)
    await finishTasks(h.db.sql, 'w1', [{ id, status: 'pending' }])
    await claim('w2')
    await finishTasks(h.db.sql, 'w2', [{ id, status: 'completed', result: null }])
    const events = await history(id)
    expect(steps(events)).toEqual([
      [null, 'scheduled', 0, null, 'system'],
      ['scheduled', 'pending', 0, null, 'system'],
      ['pending', 'running', 1, 'w1', 'worker'],
      ['running', 'pending', 0, 'w1', 'worker'],
      ['pending', 'running', 1, 'w2', 'worker'],
      ['running', 'completed', 1, 'w2', 'worker'],
    ])
  })

  test('scheduled and completed at the first claim: the step through pending is rebuilt too', async () => {
    const id = await create({ scheduled_at: new Date(Date.now() + 200).toISOString() })
    await waitFor('the scheduled time', () => claim('w1'))
    await finishTasks(h.db.sql, 'w1', [{ id, status: 'completed', result: null }])
    expect(steps(await history(id))).toEqual([
      [null, 'scheduled', 0, null, 'system'],
      ['scheduled', 'pending', 0, null, 'system'],
      ['pending', 'running', 1, 'w1', 'worker'],
      ['running', 'completed', 1, 'w1', 'worker'],
    ])
  })

  test('an illegal transition is still refused by the database', async () => {
    const id = await create()
    await claim('w1')
    await finishTasks(h.db.sql, 'w1', [{ id, status: 'completed', result: null }])
    expect(h.db.sql`UPDATE tasks SET status = 'running', locked_by = 'x', last_worker = 'x',
      lease_expires_at = now() WHERE id = ${id}`).rejects.toThrow(
      /illegal task transition completed -> running/,
    )
  })
})

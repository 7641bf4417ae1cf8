// A waiting claim is woken by the NOTIFY another process sends, not by a timer: with a 30 s lease
// the claim's only other wake-up is 15 s away, past this test's 5 s limit.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { parkedWaits } from '../../src/queue/wakeups'
import { insertTask } from '../helpers/factory'
import { wakeWorkers } from '../helpers/load'
import { waitFor } from '../helpers/wait'
import { type Harness, harness, WORKER_TOKEN } from './harness'

let h: Harness

beforeAll(async () => {
  h = await harness({ STARTER__WORKER__LEASE_SECS: '30' })
  await h.call('POST', '/api/v1/tasks/types', { token: WORKER_TOKEN, body: { task_type: 'far_away' } })
})
afterAll(() => h.close())

test('a task enqueued by another process reaches a waiting claim through LISTEN/NOTIFY', async () => {
  const body = { worker_id: 'py-wait', types: ['far_away'], limit: 1, wait_ms: 30_000 }
  const waiting = h.call('POST', '/api/v1/workers/claim', { token: WORKER_TOKEN, body })
  // The claim found nothing and waits, before the task exists.
  await waitFor('the claim to wait', () => parkedWaits() > 0)
  // What another process's enqueue does: insert, then NOTIFY (no local poke in this process).
  const task = await insertTask(h.db.sql, { task_type: 'far_away' })
  await wakeWorkers(h.db.sql)
  const r = await waiting
  expect(r.status).toBe(200)
  expect(r.body.data.map((t) => t.id)).toEqual([task.id])
})

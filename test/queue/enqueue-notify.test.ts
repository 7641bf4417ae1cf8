// A single enqueue wakes the workers with its own INSERT (one NOTIFY per shared statement,
// delivered at its commit): no separate NOTIFY statement, and none for a repeated idempotency key.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { enqueue } from '../../src/queue/enqueue'
import { TASKS_CHANNEL } from '../../src/queue/notify'
import { defaultRetryStrategy } from '../../src/queue/retry'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
const opts = { createdBy: null, defaults: { maxAttempts: 3, retryStrategy: defaultRetryStrategy(2000, 3) } }
let heard = 0
let unlisten: (() => Promise<void>) | undefined

beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'alpha')
  const l = await db.sql.listen(TASKS_CHANNEL, () => heard++)
  unlisten = l.unlisten
})
afterAll(async () => {
  await unlisten?.()
  await db.drop()
})

test('one NOTIFY per statement that created a task; none for a repeated idempotency key', async () => {
  // First in this file: nothing else has notified on this database yet.
  await enqueue(db.sql, { task_type: 'alpha', idempotency_key: 'once' }, opts)
  await waitFor('the first NOTIFY', () => heard === 1)
  const again = await enqueue(db.sql, { task_type: 'alpha', idempotency_key: 'once' }, opts)
  expect(again.created).toBe(false)
  // Notifications arrive in commit order: once the next task's has come, one from the repeat
  // would have come before it.
  await enqueue(db.sql, { task_type: 'alpha' }, opts)
  await waitFor('the NOTIFY of the next task', () => heard >= 2)
  expect(heard).toBe(2)
})

test('enqueue() alone sends the wake-up, with no notifier poked', async () => {
  const before = heard
  const made = await Promise.all(
    Array.from({ length: 20 }, (_, i) => enqueue(db.sql, { task_type: 'alpha', payload: { i } }, opts)),
  )
  expect(made.every((m) => m.created)).toBe(true)
  await waitFor('the NOTIFY of the enqueues', () => heard > before)
})

import { afterAll, beforeAll, beforeEach, expect, test } from 'bun:test'
import { claimTasks } from '../../src/queue/claim'
import { finishTasks } from '../../src/queue/finish'
import { handBack } from '../../src/queue/hand-back'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'alpha')
})
afterAll(() => db.drop())
beforeEach(async () => {
  await db.sql`DELETE FROM tasks`
})

const claim = (workerId = 'w1') =>
  claimTasks(db.sql, { workerId, types: ['alpha'], limit: 10, leaseMs: 30_000 })
const row = async (id: string) =>
  (
    await db.sql<
      Record<string, unknown>[]
    >`SELECT status::text, current_attempt, locked_by, lease_expires_at, started_at, run_at FROM tasks WHERE id = ${id}`
  )[0]!

test('a claim handed back is undone: pending again, attempt not counted, same place in the queue', async () => {
  const t = await insertTask(db.sql, { task_type: 'alpha', run_at: new Date(Date.now() - 5000) })
  await claim()
  expect(await handBack(db.sql, 'w1', [t.id])).toEqual([t.id])
  expect(await row(t.id)).toEqual({
    status: 'pending',
    current_attempt: 0,
    locked_by: null,
    lease_expires_at: null,
    started_at: null,
    run_at: t.run_at,
  })
  const events =
    await db.sql`SELECT from_status, to_status, attempt FROM task_events WHERE task_id = ${t.id} ORDER BY id`
  expect(events.at(-1)).toEqual({ from_status: 'running', to_status: 'pending', attempt: 0 })
})

test('a retrying task claimed ahead goes back to retrying with its attempt count', async () => {
  const t = await insertTask(db.sql, { task_type: 'alpha' })
  await claim()
  await finishTasks(db.sql, 'w1', [
    { id: t.id, status: 'retrying', error: 'boom', runAt: new Date(Date.now() - 1) },
  ])
  const [again] = await claim()
  expect(again!.current_attempt).toBe(2)
  await handBack(db.sql, 'w1', [t.id])
  expect(await row(t.id)).toMatchObject({ status: 'retrying', current_attempt: 1, locked_by: null })
  // And it is claimable at once, as attempt 2 again.
  const [third] = await claim('w2')
  // The claim answers what a worker needs to run it (no locked_by): the row says who holds it.
  expect(third).toMatchObject({ id: t.id, current_attempt: 2 })
  expect(await row(t.id)).toMatchObject({ status: 'running', locked_by: 'w2' })
})

test('guarded: only rows still running under this worker change', async () => {
  const mine = await insertTask(db.sql, { task_type: 'alpha' })
  await claim('w1')
  const theirs = await insertTask(db.sql, { task_type: 'alpha' })
  await claim('w2')
  const waiting = await insertTask(db.sql, { task_type: 'alpha' })
  expect(await handBack(db.sql, 'w1', [mine.id, theirs.id, waiting.id])).toEqual([mine.id])
  expect((await row(theirs.id)).locked_by).toBe('w2')
  expect((await row(waiting.id)).status).toBe('pending')
})

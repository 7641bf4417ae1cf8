// Write-behind never loses an outcome: a write that fails (the database away) is kept and written
// again after a backoff, and drain() resolves only once it is in.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Sql } from '../../src/db/connect'
import { silentLogger } from '../../src/log'
import { Completer, type Finished } from '../../src/worker/completer'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'alpha')
})
afterAll(() => db.drop())

/** The test database, except that its first `failures` statements fail as a dropped connection would. */
function flaky(sql: Sql, failures: number): Sql {
  let left = failures
  const f = ((...args: unknown[]) => {
    if (left-- > 0) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })
    return (sql as unknown as (...a: unknown[]) => unknown)(...args)
  }) as unknown as Sql
  // The statement's states are literal fragments (sqlStates), made without a round trip.
  return Object.assign(f, { json: sql.json, unsafe: sql.unsafe })
}

test('a failed outcome write is retried with backoff until it is in; drain() waits for it', async () => {
  const tasks = await Promise.all(
    [1, 2, 3].map(() => insertTask(db.sql, { task_type: 'alpha', status: 'running', locked_by: 'w1' })),
  )
  const written: string[] = []
  const health: boolean[] = []
  const completer = new Completer({
    sql: flaky(db.sql, 2),
    workerId: 'w1',
    log: silentLogger,
    delayMs: 5,
    batchMax: 64,
    maxInFlight: 2,
    onWritten: (batch, ok) => written.push(...batch.filter((f) => ok.has(f.task.id)).map((f) => f.task.id)),
    onDatabase: (up) => health.push(up),
  })
  for (const task of tasks) {
    const outcome = { id: task.id, status: 'completed', result: { n: 1 } } as const
    completer.add({ outcome, result: { outcome, breaker: 'success', durationMs: 1 }, task } as Finished)
  }
  // Until written, the tasks are still ours to keep leased.
  expect(completer.unwritten().sort()).toEqual(tasks.map((t) => t.id).sort())
  expect(await completer.drain(Date.now() + 10_000)).toBe(true)
  expect(written.sort()).toEqual(tasks.map((t) => t.id).sort())
  expect(health).toEqual([false, false, true])
  expect(completer.size).toBe(0)
  const rows =
    await db.sql`SELECT status::text, locked_by FROM tasks WHERE id = ANY(${tasks.map((t) => t.id)}::uuid[])`
  expect(rows.every((r) => r.status === 'completed' && r.locked_by === null)).toBe(true)
})

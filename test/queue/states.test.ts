// The state machine is written twice (TypeScript and the SQL function the trigger enforces); this
// proves the two agree on all 49 pairs and that the database refuses an illegal move.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { MIGRATIONS } from '../../src/db/migrations'
import {
  CANCELLABLE,
  canTransition,
  DELETABLE,
  RETRYABLE,
  TASK_STATUSES,
  TERMINAL,
  TRANSITIONS,
} from '../../src/queue/states'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'alpha')
})
afterAll(() => db.drop())

describe('state machine', () => {
  test('TypeScript and SQL agree on every pair', async () => {
    const rows = await db.sql<{ f: string; t: string; ok: boolean }[]>`
      SELECT f::text, t::text, tasklab_transition_allowed(f, t) AS ok
      FROM unnest(enum_range(NULL::task_status)) f, unnest(enum_range(NULL::task_status)) t`
    expect(rows).toHaveLength(49)
    for (const r of rows)
      expect([r.f, r.t, r.ok]).toEqual([r.f, r.t, canTransition(r.f as never, r.t as never)])
  })

  test('the SQL enum lists the TypeScript statuses in order', async () => {
    const [row] = await db.sql<{ v: string[] }[]>`SELECT enum_range(NULL::task_status)::text[] AS v`
    expect(row!.v).toEqual([...TASK_STATUSES])
  })

  test.each([
    ['completed', 'pending'],
    ['completed', 'running'],
    ['pending', 'completed'],
    ['failed', 'running'],
    ['cancelled', 'completed'],
  ])('the database refuses %s → %s', async (from, to) => {
    const t = await insertTask(db.sql, { task_type: 'alpha', status: from as never })
    const extra = to === 'running' ? db.sql`, locked_by = 'w', lease_expires_at = now()` : db.sql``
    await expect(
      db.sql`UPDATE tasks SET status = ${to}::task_status ${extra} WHERE id = ${t.id}`,
    ).rejects.toThrow(`illegal task transition ${from} -> ${to}`)
    const [after] = await db.sql`SELECT status FROM tasks WHERE id = ${t.id}`
    expect(after!.status).toBe(from)
  })

  test('every transition is recorded, with the actor', async () => {
    const t = await insertTask(db.sql, { task_type: 'alpha' })
    await db.sql.begin(async (tx) => {
      await tx`SELECT set_config('tasklab.actor', 'user:someone', true)`
      await tx`UPDATE tasks SET status = 'cancelled' WHERE id = ${t.id}`
    })
    const events =
      await db.sql`SELECT from_status, to_status, actor FROM task_events WHERE task_id = ${t.id} ORDER BY id`
    expect(events.map((e) => [e.from_status, e.to_status, e.actor])).toEqual([
      [null, 'pending', 'system'],
      ['pending', 'cancelled', 'user:someone'],
    ])
  })
})

test('every migration file is embedded', () => {
  const files = readdirSync('migrations')
    .filter((f) => f.endsWith('.sql'))
    .sort()
  expect(MIGRATIONS.map((m) => m.name)).toEqual(files)
  // Each version is its file's number; numbers only grow (a gap is fine, a reuse is not).
  expect(MIGRATIONS.map((m) => m.version)).toEqual(files.map((f) => Number(f.slice(0, 4))))
  expect(new Set(MIGRATIONS.map((m) => m.version)).size).toBe(MIGRATIONS.length)
})

test('the lists of what a user may do follow the transition table', () => {
  expect([...CANCELLABLE]).toEqual(['pending', 'scheduled', 'running', 'retrying'])
  expect([...RETRYABLE]).toEqual(['failed', 'cancelled'])
  expect([...DELETABLE]).toEqual([...TERMINAL])
  for (const s of RETRYABLE) expect(TRANSITIONS[s]).toHaveProperty('pending')
})

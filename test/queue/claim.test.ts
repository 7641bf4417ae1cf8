import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { claimTasks, nextRunAt } from '../../src/queue/claim'
import { extendLeases, failureOutcome, finishTasks } from '../../src/queue/finish'
import { rescueExpired } from '../../src/queue/rescue'
import type { Task } from '../../src/queue/task'
import { patchType } from '../../src/queue/type-admin'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'alpha', 'beta')
})
afterAll(() => db.drop())
beforeEach(async () => {
  await db.sql`DELETE FROM tasks`
})

const claim = (limit: number, workerId = 'w1', types = ['alpha']) =>
  claimTasks(db.sql, { workerId, types, limit, leaseMs: 30_000 })
const eventsOf = async (id: string): Promise<Record<string, unknown>[]> => [
  ...(await db.sql`SELECT from_status, to_status, attempt, worker_id, error, actor FROM task_events WHERE task_id = ${id} ORDER BY id`),
]

describe('claim', () => {
  test('critical first, then high, normal, low (not alphabetical), oldest first within a priority', async () => {
    const t0 = Date.now() - 10_000
    for (const [i, priority] of (
      ['low', 'normal', 'critical', 'high', 'normal', 'critical'] as const
    ).entries())
      await insertTask(db.sql, { task_type: 'alpha', priority, run_at: new Date(t0 + i) })
    const got = await claim(10)
    expect(got.map((t) => t.priority)).toEqual(['critical', 'critical', 'high', 'normal', 'normal', 'low'])
    expect(got[0]!.run_at.getTime()).toBeLessThan(got[1]!.run_at.getTime())
  })

  test('takes at most the free slots, only its types, and starts the attempt and lease', async () => {
    for (let i = 0; i < 5; i++) await insertTask(db.sql, { task_type: 'alpha' })
    await insertTask(db.sql, { task_type: 'beta' })
    const got = await claim(3)
    expect(got).toHaveLength(3)
    expect(got.every((t) => t.task_type === 'alpha' && t.current_attempt === 1)).toBe(true)
    // The claim answers the columns an attempt needs; the row holds the rest.
    const rows = await db.sql<Task[]>`SELECT * FROM tasks WHERE id = ANY(${got.map((t) => t.id)}::uuid[])`
    for (const t of rows) {
      expect(t).toMatchObject({ task_type: 'alpha', status: 'running', locked_by: 'w1', current_attempt: 1 })
      expect(t.lease_expires_at!.getTime()).toBeGreaterThan(Date.now() + 20_000)
    }
    expect(await eventsOf(got[0]!.id)).toEqual([
      { from_status: null, to_status: 'pending', attempt: 0, worker_id: null, error: null, actor: 'system' },
      {
        from_status: 'pending',
        to_status: 'running',
        attempt: 1,
        worker_id: 'w1',
        error: null,
        actor: 'worker',
      },
    ])
  })

  test('two workers claiming at once never get the same task', async () => {
    for (let i = 0; i < 200; i++) await insertTask(db.sql, { task_type: 'alpha' })
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => claim(30, `w${i}`)))
    const ids = results.flat().map((t) => t.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.length).toBe(200)
  })

  test('a scheduled task is not claimed before scheduled_at, then passes through pending', async () => {
    const future = await insertTask(db.sql, {
      task_type: 'alpha',
      status: 'scheduled',
      run_at: new Date(Date.now() + 60_000),
    })
    const due = await insertTask(db.sql, {
      task_type: 'alpha',
      status: 'scheduled',
      run_at: new Date(Date.now() - 1),
    })
    const got = await claim(10)
    expect(got.map((t) => t.id)).toEqual([due.id])
    expect((await nextRunAt(db.sql, ['alpha']))?.getTime()).toBe(future.run_at.getTime())
    const ev = await eventsOf(due.id)
    expect(ev.map((e) => [e.from_status, e.to_status])).toEqual([
      [null, 'scheduled'],
      ['scheduled', 'pending'],
      ['pending', 'running'],
    ])
  })

  test('a retrying task waits for its backoff', async () => {
    await insertTask(db.sql, {
      task_type: 'alpha',
      status: 'retrying',
      current_attempt: 1,
      run_at: new Date(Date.now() + 60_000),
    })
    expect(await claim(5)).toHaveLength(0)
  })
})

describe('claim reads only claimable work', () => {
  beforeEach(async () => {
    await db.sql`UPDATE task_types SET paused = false, is_active = true, breaker_state = 'closed',
      breaker_opened_at = NULL, breaker_cooldown_ms = 30000`
  })

  test('a task created right after a pause answer never starts, whatever the worker believes', async () => {
    await patchType(db.sql, 'alpha', { paused: true })
    await insertTask(db.sql, { task_type: 'alpha' })
    // The worker still lists alpha (its cache predates the pause): the claim's SQL refuses it.
    expect(await claim(10, 'w1', ['alpha', 'beta'])).toEqual([])
    await patchType(db.sql, 'alpha', { paused: false })
    expect(await claim(10, 'w1', ['alpha', 'beta'])).toHaveLength(1)
  })

  test('an inactive type and an open breaker cooling down are not claimed; after the cool-down, one probe at a time', async () => {
    await db.sql`UPDATE task_types SET is_active = false WHERE name = 'beta'`
    await insertTask(db.sql, { task_type: 'beta' })
    expect(await claim(10, 'w1', ['beta'])).toEqual([])
    await db.sql`UPDATE task_types SET breaker_state = 'open', breaker_opened_at = now() WHERE name = 'alpha'`
    for (let i = 0; i < 3; i++) await insertTask(db.sql, { task_type: 'alpha' })
    expect(await claim(10)).toEqual([])
    await db.sql`UPDATE task_types SET breaker_opened_at = now() - interval '31 seconds' WHERE name = 'alpha'`
    const [probe] = await claim(10)
    expect(probe).toBeDefined()
    await db.sql`UPDATE task_types SET breaker_state = 'half_open' WHERE name = 'alpha'`
    // While the probe runs, no other worker (whatever its cached view of the breaker) takes another.
    expect(await claim(10, 'w2')).toEqual([])
    await finishTasks(db.sql, 'w1', [{ id: probe!.id, status: 'completed', result: null }])
    expect(await claim(10, 'w2')).toHaveLength(1)
  })

  test('a capped claim (which claims in rounds) takes one probe, not one per round', async () => {
    await db.sql`UPDATE task_types SET breaker_state = 'half_open', breaker_opened_at = now() - interval '31 seconds'
      WHERE name = 'alpha'`
    for (let i = 0; i < 5; i++) await insertTask(db.sql, { task_type: 'alpha' })
    const got = await claimTasks(db.sql, {
      workerId: 'w1',
      types: ['alpha'],
      limit: 5,
      leaseMs: 30_000,
      maxRunningPerUser: 3,
    })
    expect(got).toHaveLength(1)
  })

  test('priority order holds across types: the per-type reads are merged', async () => {
    const t0 = Date.now() - 10_000
    await insertTask(db.sql, { task_type: 'alpha', priority: 'low', run_at: new Date(t0) })
    await insertTask(db.sql, { task_type: 'beta', priority: 'critical', run_at: new Date(t0 + 1) })
    await insertTask(db.sql, { task_type: 'alpha', priority: 'high', run_at: new Date(t0 + 2) })
    await insertTask(db.sql, { task_type: 'beta', priority: 'normal', run_at: new Date(t0 + 3) })
    const got = await claim(3, 'w1', ['alpha', 'beta'])
    expect(got.map((t) => [t.task_type, t.priority])).toEqual([
      ['beta', 'critical'],
      ['alpha', 'high'],
      ['beta', 'normal'],
    ])
    // The row of alpha's low task, locked in its range but not picked, is claimable at once.
    expect((await claim(3, 'w2', ['alpha', 'beta'])).map((t) => t.priority)).toEqual(['low'])
  })

  test('the ready index leads with task_type, so a paused backlog is never read', async () => {
    const plan = await db.sql.unsafe(`EXPLAIN (FORMAT JSON) SELECT id FROM tasks
      WHERE task_type = 'beta' AND status IN ('pending', 'scheduled', 'retrying') AND run_at <= now()
      ORDER BY priority DESC, run_at, id LIMIT 10`)
    expect(JSON.stringify(plan)).toContain('tasks_ready_idx')
    const [def] = await db.sql`SELECT pg_get_indexdef('tasks_ready_idx'::regclass) AS d`
    expect(def!.d).toContain('(task_type, priority DESC, run_at, id)')
  })
})

describe('per-user running cap', () => {
  const users: string[] = []
  beforeAll(async () => {
    for (const name of ['cap_u1', 'cap_u2'])
      users.push(
        (
          await db.sql<{ id: string }[]>`
            INSERT INTO users (username, email, password_hash) VALUES (${name}, ${`${name}@x.test`}, 'x') RETURNING id`
        )[0]!.id,
      )
  })
  const capped = (limit: number, workerId = 'w1') =>
    claimTasks(db.sql, { workerId, types: ['alpha'], limit, leaseMs: 30_000, maxRunningPerUser: 2 })

  test("one user's backlog cannot take every slot: each user runs at most the cap", async () => {
    const t0 = Date.now() - 10_000
    // u1's ten tasks are all older than u2's three: without a cap u1 would take every slot.
    for (let i = 0; i < 10; i++)
      await insertTask(db.sql, { task_type: 'alpha', created_by: users[0]!, run_at: new Date(t0 + i) })
    for (let i = 0; i < 3; i++)
      await insertTask(db.sql, { task_type: 'alpha', created_by: users[1]!, run_at: new Date(t0 + 100 + i) })
    await insertTask(db.sql, { task_type: 'alpha', run_at: new Date(t0 + 200) })
    const first = await capped(10)
    const per = (ts: { created_by: string | null }[], u: string | null) =>
      ts.filter((t) => t.created_by === u).length
    expect([per(first, users[0]!), per(first, users[1]!), per(first, null)]).toEqual([2, 2, 1])
    // Across workers too: the running rows count, not what one claim took.
    expect(await capped(10, 'w2')).toEqual([])
    const mine = first.find((t) => t.created_by === users[0])!
    await finishTasks(db.sql, 'w1', [{ id: mine.id, status: 'completed', result: null }])
    const next = await capped(10, 'w2')
    expect(next.map((t) => t.created_by)).toEqual([users[0]!])
  })

  test('workers claiming at once never pass the cap', async () => {
    for (let i = 0; i < 40; i++) await insertTask(db.sql, { task_type: 'alpha', created_by: users[i % 2]! })
    const got = (await Promise.all(Array.from({ length: 6 }, (_, i) => capped(5, `w${i}`)))).flat()
    expect(got).toHaveLength(4)
    const [row] = await db.sql<{ n: number }[]>`
      SELECT max(n)::int AS n FROM (SELECT count(*) AS n FROM tasks WHERE status = 'running' GROUP BY created_by) c`
    expect(row!.n).toBe(2)
  })

  test('without a cap (the default) one user may take every slot', async () => {
    for (let i = 0; i < 6; i++) await insertTask(db.sql, { task_type: 'alpha', created_by: users[0]! })
    expect(await claim(6)).toHaveLength(6)
  })
})

describe('finish', () => {
  test('completion is guarded: another worker, or a second report, changes nothing', async () => {
    await insertTask(db.sql, { task_type: 'alpha' })
    const [t] = await claim(1)
    expect(await finishTasks(db.sql, 'w2', [{ id: t!.id, status: 'completed', result: 'stolen' }])).toEqual(
      new Set(),
    )
    expect(await finishTasks(db.sql, 'w1', [{ id: t!.id, status: 'completed', result: { ok: 1 } }])).toEqual(
      new Set([t!.id]),
    )
    expect(await finishTasks(db.sql, 'w1', [{ id: t!.id, status: 'failed', error: 'late' }])).toEqual(
      new Set(),
    )
    const [row] = await db.sql`SELECT status, result, completed_at, locked_by FROM tasks WHERE id = ${t!.id}`
    expect(row).toMatchObject({ status: 'completed', result: { ok: 1 }, locked_by: null })
    expect(row!.completed_at).toBeInstanceOf(Date)
  })

  test('one statement finishes a mix of outcomes', async () => {
    for (let i = 0; i < 4; i++) await insertTask(db.sql, { task_type: 'alpha' })
    const ts = await claim(4)
    const runAt = new Date(Date.now() + 5000)
    const done = await finishTasks(db.sql, 'w1', [
      { id: ts[0]!.id, status: 'completed', result: 1 },
      { id: ts[1]!.id, status: 'retrying', error: 'boom', runAt },
      { id: ts[2]!.id, status: 'failed', error: 'bad' },
      { id: ts[3]!.id, status: 'pending' },
    ])
    expect(done.size).toBe(4)
    const rows = await db.sql`SELECT id, status, current_attempt, last_error, run_at FROM tasks`
    const by = new Map(rows.map((r) => [r.id, r]))
    expect(by.get(ts[1]!.id)).toMatchObject({ status: 'retrying', last_error: 'boom', current_attempt: 1 })
    expect(by.get(ts[1]!.id)!.run_at.getTime()).toBe(runAt.getTime())
    expect(by.get(ts[2]!.id)).toMatchObject({ status: 'failed', last_error: 'bad' })
    // Handed back by a draining worker: the attempt is not counted.
    expect(by.get(ts[3]!.id)).toMatchObject({ status: 'pending', current_attempt: 0 })
    const [ev] =
      await db.sql`SELECT error FROM task_events WHERE task_id = ${ts[1]!.id} AND to_status = 'retrying'`
    expect(ev!.error).toBe('boom')
  })

  test("failureOutcome: retry with the strategy's delay until max_attempts, permanent goes straight to failed", () => {
    const task = {
      id: 'x',
      current_attempt: 1,
      max_attempts: 3,
      retry_strategy: {
        type: 'exponential',
        base_delay_ms: 100,
        multiplier: 2,
        max_delay_ms: 1e6,
        max_attempts: 3,
      },
    } as const
    const now = 1_000_000
    expect(failureOutcome(task, 'e', false, now)).toEqual({
      id: 'x',
      status: 'retrying',
      error: 'e',
      runAt: new Date(now + 200),
    })
    expect(failureOutcome({ ...task, current_attempt: 2 }, 'e', false, now)).toMatchObject({
      runAt: new Date(now + 400),
    })
    expect(failureOutcome({ ...task, current_attempt: 3 }, 'e', false, now)).toEqual({
      id: 'x',
      status: 'failed',
      error: 'e',
    })
    expect(failureOutcome(task, 'bad payload', true, now)).toEqual({
      id: 'x',
      status: 'failed',
      error: 'bad payload',
    })
  })
})

describe('leases', () => {
  test("heartbeat extends only this worker's leases and reports cancel requests", async () => {
    await insertTask(db.sql, { task_type: 'alpha' })
    await insertTask(db.sql, { task_type: 'alpha' })
    const [a] = await claim(1, 'w1')
    const [b] = await claim(1, 'w2')
    await db.sql`UPDATE tasks SET cancel_requested = true WHERE id = ${a!.id}`
    const held = await extendLeases(db.sql, 'w1', 90_000)
    expect(held).toEqual([{ id: a!.id, cancel_requested: true }])
    const [rb] = await db.sql`SELECT lease_expires_at FROM tasks WHERE id = ${b!.id}`
    expect(rb!.lease_expires_at.getTime()).toBeLessThan(Date.now() + 40_000)
  })

  test('rescue: an expired lease fails the attempt with "worker lost" and the strategy decides', async () => {
    // A running task held by `worker`, whose lease ran out a second ago (or runs a minute more).
    const held = (worker: string, fields: Partial<Task>, leaseMs = -1000) =>
      insertTask(db.sql, {
        task_type: 'alpha',
        status: 'running',
        current_attempt: 1,
        locked_by: worker,
        lease_expires_at: new Date(Date.now() + leaseMs),
        ...fields,
      })
    const retry = await held('dead', { max_attempts: 3 })
    const last = await held('dead', { current_attempt: 3, max_attempts: 3 })
    const cancelled = await held('dead', { cancel_requested: true })
    const alive = await held('alive', {}, 60_000)
    const rescued = await rescueExpired(db.sql)
    const status = new Map(rescued.map((r) => [r.id, r.status]))
    expect(status).toEqual(
      new Map([
        [retry.id, 'retrying'],
        [last.id, 'failed'],
        [cancelled.id, 'cancelled'],
      ]),
    )
    expect(rescued.every((r) => r.worker === 'dead')).toBe(true)
    const [ev] = await eventsOf(retry.id).then((e) => e.filter((x) => x.to_status === 'retrying'))
    expect(ev).toEqual({
      from_status: 'running',
      to_status: 'retrying',
      attempt: 1,
      worker_id: 'dead',
      error: 'worker lost',
      actor: 'rescue',
    })
    const [a] = await db.sql`SELECT status FROM tasks WHERE id = ${alive.id}`
    expect(a!.status).toBe('running')
    // The dead worker's late report is refused by the guard.
    expect(await finishTasks(db.sql, 'dead', [{ id: retry.id, status: 'completed', result: null }])).toEqual(
      new Set(),
    )
  })
})

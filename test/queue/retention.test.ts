// Retention: expired finished tasks go with their history, in short batches, one pass at a time,
// while claims carry on undisturbed.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { connect } from '../../src/db/connect'
import { claimTasks } from '../../src/queue/claim'
import { finishTasks } from '../../src/queue/finish'
import { runRetention } from '../../src/queue/retention'
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
  await db.sql`DELETE FROM task_events`
  await db.sql`UPDATE task_types SET retention_completed_secs = NULL, retention_cancelled_secs = NULL, retention_failed_secs = NULL`
})

/** A task that finished `agoSecs` ago (and was created a second before that). */
const finished = (status: 'completed' | 'cancelled' | 'failed', agoSecs: number, extra = {}) =>
  insertTask(db.sql, {
    task_type: 'alpha',
    status,
    created_at: new Date(Date.now() - (agoSecs + 1) * 1000),
    completed_at: new Date(Date.now() - agoSecs * 1000),
    ...extra,
  })

const ids = async () => (await db.sql<{ id: string }[]>`SELECT id FROM tasks`).map((r) => r.id).sort()
const eventsOf = async (id: string) =>
  (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM task_events WHERE task_id = ${id}`)[0]!.n

const SHORT = { completedSecs: 2, cancelledSecs: 2, failedSecs: 30 * 86_400 }

describe('retention', () => {
  test('expired completed and cancelled tasks go with their events; failed and recent ones stay', async () => {
    const oldDone = await finished('completed', 5)
    const oldCancelled = await finished('cancelled', 5)
    const oldFailed = await finished('failed', 5)
    const recent = await finished('completed', 0)
    const pending = await insertTask(db.sql, {
      task_type: 'alpha',
      created_at: new Date(Date.now() - 60_000),
    })
    expect(await eventsOf(oldDone.id)).toBeGreaterThan(0)

    const pass = await runRetention(db.sql, SHORT)
    expect(pass.ran).toBe(true)
    expect(pass.deleted).toEqual({ completed: 1, cancelled: 1, failed: 0 })
    expect(pass.events).toBe(2)
    expect(await ids()).toEqual([oldFailed.id, recent.id, pending.id].sort())
    expect(await eventsOf(oldDone.id)).toBe(0)
    expect(await eventsOf(oldCancelled.id)).toBe(0)
    expect(await eventsOf(oldFailed.id)).toBeGreaterThan(0)
  })

  test('a task without history rows (lean history) is deleted too; 0 keeps for ever', async () => {
    const bare = await finished('completed', 5)
    await db.sql`DELETE FROM task_events WHERE task_id = ${bare.id}`
    const cancelled = await finished('cancelled', 5)
    const pass = await runRetention(db.sql, { ...SHORT, cancelledSecs: 0 })
    expect(pass.deleted.completed).toBe(1)
    expect(await ids()).toEqual([cancelled.id])
  })

  test('tasks that ran through claim and finish: the stored log goes, and only stored rows are counted', async () => {
    // Lean history: a task completed on its first attempt has no row in task_event_log (the view
    // task_events rebuilds its three transitions from the row); one that failed once has some.
    const lean = await insertTask(db.sql, { task_type: 'alpha' })
    const retried = await insertTask(db.sql, { task_type: 'alpha' })
    const claim = () => claimTasks(db.sql, { workerId: 'w1', types: ['alpha'], limit: 2, leaseMs: 30_000 })
    expect(await claim()).toHaveLength(2)
    await finishTasks(db.sql, 'w1', [
      { id: lean.id, status: 'completed', result: { ok: true } },
      { id: retried.id, status: 'retrying', error: 'boom', runAt: new Date() },
    ])
    expect(await claim()).toHaveLength(1)
    await finishTasks(db.sql, 'w1', [{ id: retried.id, status: 'completed', result: null }])
    await db.sql`UPDATE tasks SET created_at = now() - interval '10 seconds', completed_at = now() - interval '5 seconds'`
    const stored = async () =>
      (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM task_event_log`)[0]!.n
    const storedBefore = await stored()
    expect(storedBefore).toBeGreaterThan(0)
    expect(await eventsOf(lean.id)).toBe(3)

    const pass = await runRetention(db.sql, SHORT)
    expect(pass.deleted.completed).toBe(2)
    // What was deleted from the table, not the rebuilt rows of the view (which go with the task).
    expect(pass.events).toBe(storedBefore)
    expect(await stored()).toBe(0)
    expect(await eventsOf(lean.id)).toBe(0)
    expect(await eventsOf(retried.id)).toBe(0)
  })

  test("a type's override wins over the default, in both directions", async () => {
    const keptAlpha = await finished('completed', 5)
    const goneBeta = await finished('failed', 5, { task_type: 'beta' })
    const keptBeta = await finished('completed', 5, { task_type: 'beta' })
    await patchType(db.sql, 'alpha', { retention_completed_secs: 0 })
    await patchType(db.sql, 'beta', { retention_failed_secs: 1, retention_completed_secs: 3600 })
    const pass = await runRetention(db.sql, SHORT)
    expect(pass.deleted).toEqual({ completed: 0, cancelled: 0, failed: 1 })
    expect(await ids()).toEqual([keptAlpha.id, keptBeta.id].sort())
    expect(await ids()).not.toContain(goneBeta.id)
  })

  test("a deleted task's idempotency key is free for a new task", async () => {
    await finished('completed', 5, { idempotency_key: 'nightly-report' })
    await expect(
      insertTask(db.sql, { task_type: 'alpha', idempotency_key: 'nightly-report' }),
    ).rejects.toThrow(/tasks_idempotency_idx/)
    await runRetention(db.sql, SHORT)
    const again = await insertTask(db.sql, { task_type: 'alpha', idempotency_key: 'nightly-report' })
    expect(await ids()).toEqual([again.id])
  })

  test('one pass at a time: while another process holds the lock, a pass does nothing', async () => {
    await finished('completed', 5)
    const other = await db.sql.reserve()
    try {
      await other`SELECT pg_advisory_lock(7461730015)`
      const pass = await runRetention(db.sql, SHORT)
      expect(pass).toMatchObject({ ran: false, batches: 0 })
      expect(await ids()).toHaveLength(1)
    } finally {
      await other`SELECT pg_advisory_unlock(7461730015)`
      other.release()
    }
    expect((await runRetention(db.sql, SHORT)).deleted.completed).toBe(1)
  })

  test('a large purge runs in many short transactions and never makes a claim wait on a lock', async () => {
    const N = 40_000
    await db.sql`
      INSERT INTO tasks (task_type, status, retry_strategy, created_at, completed_at)
      SELECT 'alpha', 'completed', '{"type":"fixed","interval_ms":10,"max_attempts":3}',
             now() - interval '1 hour', now() - interval '59 minutes'
      FROM generate_series(1, ${N})`
    await db.sql`
      INSERT INTO tasks (task_type, retry_strategy)
      SELECT 'beta', '{"type":"fixed","interval_ms":10,"max_attempts":3}' FROM generate_series(1, 2000)`
    await db.sql`ANALYZE tasks`

    const claimLatency = async (until: () => boolean) => {
      const ms: number[] = []
      do {
        const t0 = performance.now()
        await claimTasks(db.sql, { workerId: 'w1', types: ['beta'], limit: 1, leaseMs: 30_000 })
        ms.push(performance.now() - t0)
      } while (!until())
      return ms.sort((a, b) => a - b)
    }
    const before = await claimLatency(
      (
        (n) => () =>
          --n <= 0
      )(100),
    )

    // The purge runs on its own pool under a name the observer can find in pg_stat_activity.
    const purger = connect(db.url, { max: 2, applicationName: 'retention-under-test' })
    let done = false
    const xacts = new Set<string>()
    let longestXactMs = 0
    let lockWaits = 0
    const observe = async () => {
      while (!done) {
        const rows = await db.sql<{ app: string; xact: string | null; age_ms: number; waiting: boolean }[]>`
          SELECT application_name AS app, xact_start::text AS xact,
                 coalesce(extract(epoch FROM clock_timestamp() - xact_start) * 1000, 0)::float8 AS age_ms,
                 wait_event_type = 'Lock' AS waiting
          FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`
        for (const r of rows) {
          if (r.waiting) lockWaits++
          if (r.app === 'retention-under-test' && r.xact) {
            xacts.add(r.xact)
            longestXactMs = Math.max(longestXactMs, r.age_ms)
          }
        }
      }
    }
    const observer = observe()
    let pass: Awaited<ReturnType<typeof runRetention>>
    let during: number[] = []
    try {
      const purge = runRetention(purger, SHORT).finally(() => {
        done = true
      })
      ;[pass, during] = await Promise.all([purge, claimLatency(() => done)])
      await observer
    } finally {
      done = true
      await purger.end()
    }
    const after = await claimLatency(
      (
        (n) => () =>
          --n <= 0
      )(100),
    )

    expect(pass.deleted.completed).toBe(N)
    expect(pass.events).toBe(N)
    expect(pass.batches).toBeGreaterThanOrEqual(N / 500)
    expect(await db.sql`SELECT 1 FROM tasks WHERE status = 'completed'`).toHaveLength(0)
    // Many commits, not one long transaction; nobody waited on a lock (claims lock pending rows,
    // the purge finished ones). The wall-clock bound is only a sanity check on a shared machine.
    expect(xacts.size).toBeGreaterThan(1)
    expect(lockWaits).toBe(0)
    expect(longestXactMs).toBeLessThan(Math.max(2000, pass.ms / 4))
    const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(1)
    console.log(
      `retention: ${N} tasks + ${pass.events} events in ${Math.round(pass.ms)} ms, ${pass.batches} batches, ` +
        `longest batch ${pass.longestBatchMs.toFixed(1)} ms, longest purge transaction seen ${longestXactMs.toFixed(1)} ms ` +
        `(${xacts.size} distinct transactions sampled); claim latency p50/p99/max ms: ` +
        `before ${q(before, 0.5)}/${q(before, 0.99)}/${q(before, 1)}, ` +
        `during ${q(during, 0.5)}/${q(during, 0.99)}/${q(during, 1)} (${during.length} claims), ` +
        `after ${q(after, 0.5)}/${q(after, 0.99)}/${q(after, 1)}`,
    )
  }, 120_000)
})

// GET /storage: its numbers are PostgreSQL's own, it names the session holding a long transaction,
// it shows the retention in force, and only an admin may read it. PATCH /tasks/types/{type}
// takes per-type retention, validated like the environment variables.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { project, type Sample } from '../../src/api/storage/history'
import { holdOpenTransaction } from '../helpers/open-transaction'
import { waitFor } from '../helpers/proc'
import { type Harness, harness } from './harness'

let h: Harness
let admin: { token: string }
let user: { token: string }
beforeAll(async () => {
  h = await harness({ STARTER__RETENTION__COMPLETED_SECS: '3600', STARTER__RETENTION__FAILED_SECS: '0' })
  admin = await h.admin()
  user = await h.user('storage_user')
})
afterAll(() => h.close())

const storage = async (query = '') => {
  const r = await h.call('GET', `/api/v1/storage?${query}`, { token: admin.token })
  expect(r.status).toBe(200)
  return r.body.data
}

describe('GET /storage', () => {
  test('a user gets 403, no token 401', async () => {
    expect((await h.call('GET', '/api/v1/storage', { token: user.token })).status).toBe(403)
    expect((await h.call('GET', '/api/v1/storage')).status).toBe(401)
  })

  test("rows, bytes, dead rows and vacuum times are PostgreSQL's own numbers", async () => {
    await h.db.sql`
      INSERT INTO tasks (task_type, retry_strategy, payload)
      SELECT 'email', '{"type":"fixed","interval_ms":10,"max_attempts":3}', jsonb_build_object('n', g, 'pad', repeat('x', 3000))
      FROM generate_series(1, 300) g`
    await h.db.sql`DELETE FROM tasks WHERE (payload->>'n')::int <= 100`
    await h.db.sql`VACUUM (ANALYZE) task_types`
    // Statistics reach the shared view up to a second after the writing session's commit.
    await waitFor(
      'the statistics of tasks',
      async () => {
        const [s] = await h.db
          .sql`SELECT n_dead_tup::int AS d FROM pg_stat_user_tables WHERE relname = 'tasks'`
        return s?.d === 100
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    const data = await storage()
    const [truth] = await h.db.sql<Record<string, number | Date | null>[]>`
      SELECT n_live_tup::float8 AS rows, n_dead_tup::float8 AS dead_rows,
             pg_total_relation_size(relid)::float8 AS total_bytes, pg_relation_size(relid)::float8 AS table_bytes,
             pg_indexes_size(relid)::float8 AS index_bytes, last_vacuum, last_autovacuum
      FROM pg_stat_user_tables WHERE relname = 'tasks'`
    const tasks = data.tables.find((t) => t.table === 'tasks')!
    expect(tasks).toMatchObject({
      rows: truth!.rows,
      dead_rows: 100,
      total_bytes: truth!.total_bytes,
      table_bytes: truth!.table_bytes,
      index_bytes: truth!.index_bytes,
      last_vacuum: null,
      last_autovacuum: null,
    })
    // 3 kB of payload per row goes to TOAST: table + indexes + TOAST = total.
    expect(tasks.toast_bytes).toBeGreaterThan(0)
    expect(tasks.table_bytes + tasks.index_bytes + tasks.toast_bytes).toBe(tasks.total_bytes)
    const types = data.tables.find((t) => t.table === 'task_types')!
    expect(types.last_vacuum).not.toBeNull()
    expect(data.totals.total_bytes).toBe(
      data.tables.reduce((s: number, t: { total_bytes: number }) => s + t.total_bytes, 0),
    )
    expect(data.server.autovacuum).toBe(
      (await h.db.sql`SELECT current_setting('autovacuum') = 'on' AS on`)[0]!.on,
    )
    expect(data.history.length).toBeGreaterThan(0)
  })

  test("the tasks' history is the table task_event_log, in the list and in the chart's samples", async () => {
    // task_events is a view over task_event_log and the task row: it has no storage of its own.
    await h.db.sql`
      INSERT INTO tasks (task_type, status, retry_strategy, current_attempt)
      SELECT 'email', 'failed', '{"type":"fixed","interval_ms":10,"max_attempts":3}', 1 FROM generate_series(1, 50)`
    const data = await storage()
    const names = data.tables.map((t) => t.table)
    expect(names).toContain('task_event_log')
    expect(names).not.toContain('task_events')
    const log = data.tables.find((t) => t.table === 'task_event_log')!
    expect(log.total_bytes).toBeGreaterThan(0)
    expect(data.history.at(-1)!.task_events).toEqual({ bytes: log.total_bytes, dead_rows: log.dead_rows })
  })

  test('names the session holding the oldest open transaction, and warns past the threshold', async () => {
    const held = await holdOpenTransaction(h.db.url, 'holds-the-horizon')
    const pid = held.pid
    try {
      const quiet = await storage()
      expect(quiet.oldest_transaction).toMatchObject({
        pid,
        application_name: 'holds-the-horizon',
        state: 'idle in transaction',
      })
      expect(quiet.oldest_transaction!.client).toMatch(/^(local|[\d.:a-f]+:\d+)$/)
      expect(quiet.oldest_transaction!.xmin_age).not.toBeNull()
      expect(quiet.warnings.join(' ')).not.toContain(`pid ${pid}`)
      await waitFor(
        'the server to see the transaction open for more than 0.2 s',
        async () => ((await storage()).oldest_transaction?.age_secs ?? 0) > 0.2,
        { intervalMs: 100 },
      )
      const loud = await storage('long_transaction_secs=0.2')
      expect(loud.long_transaction_secs).toBe(0.2)
      expect(loud.oldest_transaction!.age_secs).toBeGreaterThan(0.2)
      expect(loud.warnings.join(' ')).toContain(`pid ${pid} (holds-the-horizon`)
    } finally {
      await held.release()
    }
    expect((await storage()).oldest_transaction?.pid).not.toBe(pid)
  })

  test('shows the retention in force, with per-type overrides', async () => {
    const r = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: { retention: { completed_secs: 60, failed_secs: 0 } },
    })
    expect(r.status).toBe(200)
    expect(r.body.data.retention).toEqual({ completed_secs: 60, cancelled_secs: null, failed_secs: 0 })
    const data = await storage()
    expect(data.retention).toEqual({
      completed_secs: 3600,
      cancelled_secs: 604_800,
      failed_secs: 0,
      overrides: [{ task_type: 'email', completed_secs: 60, cancelled_secs: null, failed_secs: 0 }],
    })
    const reset = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: { retention: { completed_secs: null, failed_secs: null } },
    })
    expect(reset.body.data.retention).toEqual({
      completed_secs: null,
      cancelled_secs: null,
      failed_secs: null,
    })
    expect((await storage()).retention.overrides).toEqual([])
  })
})

describe('PATCH /tasks/types/{type} retention', () => {
  test.each([[-1], [1.5], [315_360_001], ['abc']])('%p → 400 naming the field', async (bad) => {
    const r = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: { retention: { cancelled_secs: bad } },
    })
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('VALIDATION_ERROR')
    expect(JSON.stringify(r.body.error)).toContain('cancelled_secs')
  })

  test('a user gets 403', async () => {
    const r = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: user.token,
      body: { retention: { cancelled_secs: 5 } },
    })
    expect(r.status).toBe(403)
  })
})

describe('projection', () => {
  const sample = (secs: number, bytes: number): Sample => ({
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, secs)).toISOString(),
    total_bytes: bytes,
    dead_rows: 0,
    tasks: { bytes, dead_rows: 0 },
    task_events: { bytes: 0, dead_rows: 0 },
  })

  test('carries the growth of the last samples on for a day', () => {
    // 1 MB per minute → 60 MB an hour → 1,440 MB more in a day.
    expect(project([sample(0, 10e6), sample(30, 10.5e6), sample(60, 11e6)])).toEqual({
      bytes_per_hour: 60e6,
      in_a_day_bytes: 11e6 + 1440e6,
      window_secs: 60,
    })
  })

  test('none from less than 10 s of samples; never below zero', () => {
    expect(project([])).toBeNull()
    expect(project([sample(0, 1e6), sample(5, 2e6)])).toBeNull()
    expect(project([sample(0, 10e6), sample(60, 1e6)])!.in_a_day_bytes).toBe(0)
  })
})

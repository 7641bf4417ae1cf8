// The queue's own vacuum (src/maintenance/vacuum.ts): it vacuums a hot table once its dead tuples
// pass the threshold when autovacuum is off for it, does nothing where autovacuum is on, and one
// process at a time. Autovacuum is off for a table when the server's is off (the machine's
// PostgreSQL 15) or when the table says `autovacuum_enabled = false`, which any server honours:
// that makes the "off" branch testable everywhere. The "on" branch needs a server whose autovacuum
// is on (the suite's embedded PostgreSQL 18; CI runs the suite on both servers).
import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import postgres from 'postgres'
import { connect, type Sql } from '../../src/db/connect'
import { createLogger } from '../../src/log'
import { startMaintenance } from '../../src/maintenance/maintenance'
import {
  HOT_TABLES,
  runVacuumPass,
  scheduleVacuum,
  THRESHOLD,
  tableStates,
  VACUUM_LOCK,
  type VacuumPass,
} from '../../src/maintenance/vacuum'
import { QueueEventBus } from '../../src/queue/events'
import { Notifier } from '../../src/queue/notify'
import { createTestDatabase, TEST_SERVER_URL, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
const serverAutovacuum = await (async () => {
  const admin = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} })
  try {
    const [r] = await admin<{ on: boolean }[]>`
      SELECT current_setting('autovacuum')::bool AND current_setting('track_counts')::bool AS on`
    return r!.on
  } finally {
    await admin.end()
  }
})()
/** Connections of their own, as each tasklab process has for its vacuum. */
const own: Sql[] = []
const ownConnection = () => {
  const c = connect(db.url, { max: 1, applicationName: 'tasklab-vacuum-test' })
  own.push(c)
  return c
}

beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'alpha')
})
afterAll(async () => {
  await Promise.all(own.map((c) => c.end({ timeout: 1 })))
  await db.drop()
})
beforeEach(async () => {
  await db.sql`ALTER TABLE tasks RESET (autovacuum_enabled)`
})

/** n dead rows in tasks: inserted, then deleted (as retention does). */
async function deadRows(n: number): Promise<void> {
  await db.sql`
    INSERT INTO tasks (task_type, status, priority, payload, retry_strategy, max_attempts)
    SELECT 'alpha', 'pending', 'normal', '{}', '{"type":"fixed","interval_ms":10,"max_attempts":3}', 3
    FROM generate_series(1, ${n})`
  await db.sql`DELETE FROM tasks`
}

const stats = async () => {
  const [r] = await db.sql<{ dead: number; vacuums: number }[]>`
    SELECT n_dead_tup::int AS dead, vacuum_count::int AS vacuums
    FROM pg_stat_user_tables WHERE relname = 'tasks'`
  return r!
}

/** Statistics reach pg_stat_user_tables within about a second of the writing transaction. */
const untilDead = (atLeast: number) =>
  waitFor(`≥ ${atLeast} dead tuples in tasks' statistics`, async () => (await stats()).dead >= atLeast, {
    detail: async () => JSON.stringify(await stats()),
  })

/** tasks with autovacuum off for it (any server honours the reloption) and n dead rows counted. */
async function offWithDead(n: number): Promise<void> {
  await db.sql`ALTER TABLE tasks SET (autovacuum_enabled = false)`
  await deadRows(n)
  await untilDead(n)
}

const tasksOutcome = (p: VacuumPass) => p.tables.find((t) => t.table === 'tasks')

// Statistics take about a second to arrive after each write; a test waits for them a few times.
setDefaultTimeout(60_000)

describe('the queue vacuum', () => {
  test('reads every hot table, and the migration tunes autovacuum for tasks', async () => {
    expect((await tableStates(db.sql)).map((s) => s.table)).toEqual([...HOT_TABLES])
    const [r] = await db.sql<
      { opts: string[] }[]
    >`SELECT reloptions AS opts FROM pg_class WHERE relname = 'tasks'`
    expect(r!.opts).toEqual(
      expect.arrayContaining([
        `autovacuum_vacuum_threshold=${THRESHOLD.minDead}`,
        `autovacuum_vacuum_scale_factor=${THRESHOLD.liveFraction}`,
      ]),
    )
  })

  test('autovacuum off for the table: vacuums once the dead tuples pass the threshold, not before', async () => {
    await offWithDead(3000)
    const conn = ownConnection()
    const before = await stats()

    const below = await runVacuumPass(conn, { threshold: { minDead: 10_000, liveFraction: 0 } })
    expect(below.ran).toBe(true)
    expect(tasksOutcome(below)).toMatchObject({
      action: 'below threshold',
      autovacuum: false,
      threshold: 10_000,
    })
    expect((await stats()).vacuums).toBe(before.vacuums)

    const pass = await runVacuumPass(conn, { threshold: { minDead: 2000, liveFraction: 0 } })
    const t = tasksOutcome(pass)!
    expect(t.action).toBe('vacuumed')
    expect(t.dead).toBeGreaterThanOrEqual(3000)
    expect(t.deadAfter).toBeLessThan(1000)
    expect(t.ms).toBeGreaterThan(0)
    const after = await stats()
    expect(after.vacuums).toBe(before.vacuums + 1)
    expect(after.dead).toBeLessThan(1000)
  })

  test('the fraction of live rows raises the threshold on a big table', async () => {
    await offWithDead(3000)
    const pass = await runVacuumPass(ownConnection(), { threshold: { minDead: 100, liveFraction: 1e6 } })
    // Live rows are 0 here, so the floor decides; with a live row the fraction would.
    expect(tasksOutcome(pass)).toMatchObject({ action: 'vacuumed', threshold: 100 })
    await db.sql`
      INSERT INTO tasks (task_type, status, priority, payload, retry_strategy, max_attempts)
      VALUES ('alpha', 'pending', 'normal', '{}', '{"type":"fixed","interval_ms":10,"max_attempts":3}', 3)`
    await waitFor('the live row in the statistics', async () => {
      const [s] = await tableStates(db.sql, ['tasks'])
      return s!.live >= 1
    })
    const again = await runVacuumPass(ownConnection(), { threshold: { minDead: 100, liveFraction: 1e6 } })
    expect(tasksOutcome(again)).toMatchObject({ action: 'below threshold' })
    expect(tasksOutcome(again)!.threshold).toBeGreaterThanOrEqual(1e6)
  })

  // Skipped on a server whose autovacuum is off (the machine's PostgreSQL 15): no table can have it
  // on there. The suite's embedded PostgreSQL 18 runs it.
  test.skipIf(!serverAutovacuum)('autovacuum on: does nothing, and the schedule says so once', async () => {
    await deadRows(3000)
    await untilDead(1)
    const before = await stats()
    const pass = await runVacuumPass(ownConnection(), { threshold: { minDead: 1, liveFraction: 0 } })
    expect(pass.ran).toBe(true)
    expect(pass.tables.every((t) => t.action === 'autovacuum')).toBe(true)
    // vacuum_count counts manual VACUUMs only, so an autovacuum worker passing by cannot move it.
    expect((await stats()).vacuums).toBe(before.vacuums)

    const lines: string[] = []
    const passes: VacuumPass[] = []
    const stop = scheduleVacuum({
      url: db.url,
      everyMs: 20,
      idleEveryMs: 50,
      threshold: { minDead: 1, liveFraction: 0 },
      log: { info: (m) => lines.push(m), warn: (m) => lines.push(m) },
      onPass: (p) => passes.push(p),
    })
    try {
      await waitFor('three passes', () => passes.length >= 3)
    } finally {
      await stop()
    }
    expect(lines.filter((l) => l.startsWith('autovacuum is on'))).toHaveLength(1)
    expect(lines.filter((l) => l.startsWith('vacuumed'))).toHaveLength(0)
    expect((await stats()).vacuums).toBe(before.vacuums)
  })

  test('a pass skips while another process holds the vacuum lock', async () => {
    await offWithDead(2000)
    const other = ownConnection()
    const before = await stats()
    await other`SELECT pg_advisory_lock(${VACUUM_LOCK})`
    try {
      const pass = await runVacuumPass(ownConnection(), { threshold: { minDead: 1, liveFraction: 0 } })
      expect(pass).toEqual({ ran: false, tables: [] })
      expect((await stats()).vacuums).toBe(before.vacuums)
    } finally {
      await other`SELECT pg_advisory_unlock(${VACUUM_LOCK})`
    }
    const pass = await runVacuumPass(ownConnection(), { threshold: { minDead: 1, liveFraction: 0 } })
    expect(tasksOutcome(pass)?.action).toBe('vacuumed')
  })

  test('two processes racing: their VACUUMs never overlap', async () => {
    await db.sql`ALTER TABLE tasks SET (autovacuum_enabled = false)`
    const a = ownConnection()
    const b = ownConnection()
    // A VACUUM's span as its client sees it lies within the time its session held the lock, so
    // spans of two sessions that honour the lock cannot cross (one process, one clock).
    const spans: [number, number][] = []
    let passes = 0
    const race = async (conn: Sql) => {
      const p = await runVacuumPass(conn, { threshold: { minDead: 1, liveFraction: 0 } })
      passes++
      for (const t of p.tables) if (t.action === 'vacuumed') spans.push([t.startedMs!, t.startedMs! + t.ms!])
    }
    for (let round = 0; round < 5; round++) {
      await deadRows(500)
      await untilDead(1)
      await Promise.all([race(a), race(b)])
    }
    expect(passes).toBe(10)
    expect(spans.length).toBeGreaterThanOrEqual(5)
    spans.sort((x, y) => x[0] - y[0])
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1])
    // Both sessions gave the lock back.
    const [held] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
    expect(held!.n).toBe(0)
  })

  test('the schedule logs each VACUUM with what it removed and how long it took', async () => {
    await offWithDead(2000)
    const lines: { msg: string; fields?: Record<string, unknown> }[] = []
    let vacuumed: VacuumPass | undefined
    const stop = scheduleVacuum({
      url: db.url,
      everyMs: 20,
      tables: ['tasks'],
      threshold: { minDead: 1000, liveFraction: 0 },
      log: {
        info: (msg, fields) => lines.push({ msg, fields }),
        warn: (msg, fields) => lines.push({ msg, fields }),
      },
      onPass: (p) => {
        if (tasksOutcome(p)?.action === 'vacuumed') vacuumed ??= p
      },
    })
    try {
      await waitFor('a VACUUM by the schedule', () => vacuumed)
    } finally {
      await stop()
    }
    const v = lines.find((l) => l.msg === 'vacuumed a queue table')
    expect(v?.fields).toMatchObject({ table: 'tasks' })
    expect(v!.fields!.dead_before).toBeGreaterThanOrEqual(2000)
    expect(v!.fields!.removed).toBeGreaterThan(1000)
    expect(typeof v!.fields!.ms).toBe('number')
    expect(lines.filter((l) => l.msg.startsWith('autovacuum is off'))).toHaveLength(1)
  })

  test('every process runs it: startMaintenance with vacuum auto reports the state it found', async () => {
    await db.sql`ALTER TABLE tasks SET (autovacuum_enabled = false)`
    const lines: string[] = []
    const log = createLogger({ level: 'info', format: 'json' }, {}, (l) => lines.push(l))
    const stop = startMaintenance({
      sql: db.sql,
      log,
      events: new QueueEventBus(),
      notifier: new Notifier(db.sql),
      leaseMs: 30_000,
      vacuum: { mode: 'auto', url: db.url },
    })
    try {
      const line = await waitFor('the vacuum job to report', () =>
        lines.find((l) => l.includes('autovacuum is')),
      )
      // tasks has autovacuum_enabled = false: whatever the server says, tasklab vacuums it.
      expect(JSON.parse(line)).toMatchObject({
        msg: expect.stringContaining('autovacuum is off'),
        tables: expect.arrayContaining(['tasks']),
      })
    } finally {
      stop()
    }
  })
})

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import postgres from 'postgres'
import { connect } from '../../src/db/connect'
import { migrate } from '../../src/db/migrate'
import { enqueue, enqueueBatch } from '../../src/queue/enqueue'
import { QueueError } from '../../src/queue/errors'
import { listTasks } from '../../src/queue/queries'
import { defaultRetryStrategy } from '../../src/queue/retry'
import { createTestDatabase, TEST_SERVER_URL, type TestDatabase, urlFor } from '../helpers/db'
import { registerTypes } from '../helpers/factory'

let db: TestDatabase
const defaults = { maxAttempts: 3, retryStrategy: defaultRetryStrategy(2000, 3) }
const opts = { createdBy: null, defaults }

beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'alpha', 'beta')
})
afterAll(() => db.drop())

const count = async () => (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks`)[0]!.n

describe('enqueue', () => {
  test('creates a pending task with the configured default strategy', async () => {
    const { task, created } = await enqueue(db.sql, { task_type: 'alpha', payload: { a: 1 } }, opts)
    expect(created).toBe(true)
    expect(task).toMatchObject({
      status: 'pending',
      priority: 'normal',
      payload: { a: 1 },
      max_attempts: 3,
      current_attempt: 0,
    })
    expect(task.retry_strategy).toEqual(defaults.retryStrategy)
  })

  test('the answer, built from what was sent, is the row as stored; ids are time-ordered', async () => {
    const sent = {
      task_type: 'alpha',
      payload: { nested: { list: [1, 'two', null] }, n: 1.5 },
      metadata: { order: 'A-1' },
      priority: 'high',
      max_attempts: 2,
      timeout_ms: 1234,
      idempotency_key: 'answer-1',
      scheduled_at: new Date(Date.now() + 60_000).toISOString(),
    }
    const { task } = await enqueue(db.sql, sent, opts)
    const [stored] = await db.sql`SELECT * FROM tasks WHERE id = ${task.id}`
    expect(task).toEqual(stored as typeof task)
    const batch = await enqueueBatch(db.sql, [{ task_type: 'alpha' }, { task_type: 'beta' }], opts)
    const [a, b] = batch.map((r) => r.task.id)
    expect(a! < b!).toBe(true)
    expect(task.id < a!).toBe(true)
    // Rows inserted without an id get a UUIDv7 from the column default (PostgreSQL 14+).
    const [row] = await db.sql<{ id: string; ms: string }[]>`
      INSERT INTO tasks (task_type, retry_strategy) VALUES ('alpha', '{}') RETURNING id::text,
        (extract(epoch FROM now()) * 1000)::bigint::text AS ms`
    expect(row!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/)
    expect(
      Math.abs(Number.parseInt(row!.id.replace(/-/g, '').slice(0, 12), 16) - Number(row!.ms)),
    ).toBeLessThan(60_000)
  })

  test('a future scheduled_at makes it scheduled; a past one pending', async () => {
    const future = new Date(Date.now() + 60_000).toISOString()
    const s = await enqueue(db.sql, { task_type: 'alpha', scheduled_at: future }, opts)
    expect(s.task.status).toBe('scheduled')
    expect(s.task.run_at.toISOString()).toBe(future)
    const p = await enqueue(db.sql, { task_type: 'alpha', scheduled_at: '2020-01-01T00:00:00Z' }, opts)
    expect(p.task.status).toBe('pending')
  })

  test("max_attempts and the strategy agree: the task's number wins and is written into the strategy", async () => {
    const a = await enqueue(
      db.sql,
      {
        task_type: 'alpha',
        max_attempts: 7,
        retry_strategy: { type: 'fixed', interval_ms: 10, max_attempts: 2 },
      },
      opts,
    )
    expect(a.task.max_attempts).toBe(7)
    expect(a.task.retry_strategy).toEqual({ type: 'fixed', interval_ms: 10, max_attempts: 7 })
    const b = await enqueue(
      db.sql,
      {
        task_type: 'alpha',
        retry_strategy: {
          type: 'linear',
          base_delay_ms: 1,
          increment_ms: 1,
          max_delay_ms: 5,
          max_attempts: 5,
        },
      },
      opts,
    )
    expect(b.task.max_attempts).toBe(5)
  })

  test("the type's default strategy applies when the task has none", async () => {
    await db.sql`UPDATE task_types SET retry_strategy = ${db.sql.json({ type: 'fixed', interval_ms: 99, max_attempts: 4 })} WHERE name = 'beta'`
    const { task } = await enqueue(db.sql, { task_type: 'beta' }, opts)
    expect(task.retry_strategy).toEqual({ type: 'fixed', interval_ms: 99, max_attempts: 4 })
    expect(task.max_attempts).toBe(4)
  })

  test('an unregistered or inactive type is refused with TASK_TYPE_NOT_REGISTERED and nothing is stored', async () => {
    const before = await count()
    const err = await enqueue(db.sql, { task_type: 'send_sms' }, opts).catch((e) => e)
    expect(err).toBeInstanceOf(QueueError)
    expect(err.code).toBe('TASK_TYPE_NOT_REGISTERED')
    expect(err.message).toContain('start a worker that handles it')
    await db.sql`UPDATE task_types SET is_active = false WHERE name = 'beta'`
    await expect(enqueue(db.sql, { task_type: 'beta' }, opts)).rejects.toMatchObject({
      code: 'TASK_TYPE_NOT_REGISTERED',
    })
    await db.sql`UPDATE task_types SET is_active = true WHERE name = 'beta'`
    expect(await count()).toBe(before)
  })

  test.each([
    [{ task_type: 'alpha', priority: 'urgent' }, 'priority'],
    [{ task_type: 'alpha', payload: [1] }, 'payload'],
    [{ task_type: 'alpha', payload: { big: 'x'.repeat(1024 * 1024) } }, 'payload'],
    [{ task_type: 'alpha', metadata: { big: 'x'.repeat(65 * 1024) } }, 'metadata'],
    [{ task_type: 'alpha', scheduled_at: 'tomorrow' }, 'scheduled_at'],
    [{ task_type: 'alpha', scheduled_at: '2026-13-45T99:00:00Z' }, 'scheduled_at'],
    [{ task_type: 'alpha', max_attempts: 0 }, 'max_attempts'],
    [{ task_type: 'alpha', timeout_ms: -5 }, 'timeout_ms'],
    [{ task_type: 'alpha', retry_strategy: { type: 'never' } }, 'retry_strategy'],
    [{ task_type: 42 }, 'task_type'],
  ])('refuses %#: bad %s, naming the field', async (input, field) => {
    const before = await count()
    const err = await enqueue(db.sql, input as never, opts).catch((e) => e)
    expect(err).toBeInstanceOf(QueueError)
    expect(err.code).toBe('VALIDATION_ERROR')
    expect(err.details.field).toBe(field)
    expect(err.message).toContain(field)
    expect(await count()).toBe(before)
  })

  test('an idempotency key returns the first task', async () => {
    const a = await enqueue(db.sql, { task_type: 'alpha', idempotency_key: 'k1', payload: { n: 1 } }, opts)
    const b = await enqueue(db.sql, { task_type: 'alpha', idempotency_key: 'k1', payload: { n: 2 } }, opts)
    expect(a.created).toBe(true)
    expect(b.created).toBe(false)
    expect(b.task.id).toBe(a.task.id)
    expect(b.task.payload).toEqual({ n: 1 })
  })
})

describe('enqueueBatch', () => {
  test('creates all in one transaction, in order', async () => {
    const tasks = Array.from({ length: 50 }, (_, i) => ({
      task_type: i % 2 ? 'alpha' : 'beta',
      payload: { i },
    }))
    const res = await enqueueBatch(db.sql, tasks, opts)
    expect(res.map((r) => (r.task.payload as { i: number }).i)).toEqual(tasks.map((t) => t.payload.i))
  })

  test('all or nothing: one bad type or one bad field stores none', async () => {
    const before = await count()
    await expect(
      enqueueBatch(db.sql, [{ task_type: 'alpha' }, { task_type: 'nope' }], opts),
    ).rejects.toMatchObject({
      code: 'TASK_TYPE_NOT_REGISTERED',
    })
    const err = await enqueueBatch(
      db.sql,
      [{ task_type: 'alpha' }, { task_type: 'alpha', priority: 'x' }],
      opts,
    ).catch((e) => e)
    expect(err.details.field).toBe('tasks[1].priority')
    expect(await count()).toBe(before)
  })

  test('limits: empty and over 1,000 are refused', async () => {
    await expect(enqueueBatch(db.sql, [], opts)).rejects.toMatchObject({ code: 'VALIDATION_ERROR' })
    const many = Array.from({ length: 1001 }, () => ({ task_type: 'alpha' }))
    await expect(enqueueBatch(db.sql, many, opts)).rejects.toThrow('at most 1000')
  })

  test('keys in a batch match earlier tasks', async () => {
    const first = await enqueue(db.sql, { task_type: 'alpha', idempotency_key: 'batch-a' }, opts)
    const res = await enqueueBatch(
      db.sql,
      [
        { task_type: 'alpha', idempotency_key: 'batch-a' },
        { task_type: 'alpha', idempotency_key: 'batch-b' },
        { task_type: 'alpha' },
      ],
      opts,
    )
    expect(res.map((r) => r.created)).toEqual([false, true, true])
    expect(res[0]!.task.id).toBe(first.task.id)
  })
})

test('a pool that made the schema itself enqueues and filters at once (enum arrays on a fresh database)', async () => {
  // postgres.js learns array types at a pool's first connection: here that is before the
  // migrations make task_priority and task_status, as on a first `tasklab start`.
  const name = `tasklab_fresh_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const admin = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE template0`)
  const sql = connect(urlFor(name), { max: 1 })
  try {
    await migrate(sql)
    await registerTypes(sql, 'alpha')
    const made = await enqueueBatch(
      sql,
      [{ task_type: 'alpha' }, { task_type: 'alpha', priority: 'high' }],
      opts,
    )
    expect(made.map((r) => r.task.priority)).toEqual(['normal', 'high'])
    const { total } = await listTasks(
      sql,
      { status: ['pending'], priority: ['high'] },
      {},
      { limit: 10, offset: 0 },
    )
    expect(total).toBe(1)
  } finally {
    await sql.end({ timeout: 1 })
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
})

// Issue 12, item 2: an exponential strategy with base_delay_ms 0 made the delay NaN once the power
// overflowed; toISOString() then threw in the worker and in every rescue batch holding the task.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { failureOutcome } from '../../src/queue/finish'
import { rescueExpired } from '../../src/queue/rescue'
import { parseRetryStrategy, type RetryStrategy, retryDelayMs } from '../../src/queue/retry'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'
import { statusOf } from '../helpers/worker'

const poison: RetryStrategy = {
  type: 'exponential',
  base_delay_ms: 0,
  multiplier: 100,
  max_delay_ms: 60_000,
  max_attempts: 1000,
}

describe('retry delays never become NaN or Infinity', () => {
  test('an overflowing power is clamped to max_delay_ms', () => {
    expect(Number.isNaN(0 * 100 ** 155)).toBe(true) // the attack
    for (const attempt of [1, 154, 155, 200, 999]) {
      const d = retryDelayMs(poison, attempt)
      expect(Number.isFinite(d)).toBe(true)
      expect(d).toBeGreaterThanOrEqual(0)
      expect(d).toBeLessThanOrEqual(60_000)
    }
    expect(retryDelayMs({ ...poison, base_delay_ms: 1 }, 500)).toBe(60_000)
    expect(() =>
      failureOutcome(
        { id: 'x', current_attempt: 155, max_attempts: 1000, retry_strategy: poison },
        'e',
        false,
      ),
    ).not.toThrow()
  })

  test('stored rows written before validation (strings, missing fields, unknown type) still give a finite delay', () => {
    const odd = [
      { type: 'fixed', interval_ms: 'soon', max_attempts: 3 },
      { type: 'linear', base_delay_ms: 5, max_attempts: 3 },
      { type: 'weekly', max_attempts: 3 },
      { type: 'fixed', interval_ms: -5, max_attempts: 3 },
      {
        type: 'exponential',
        base_delay_ms: 1e308,
        multiplier: 10,
        max_delay_ms: Number.NaN,
        max_attempts: 3,
      },
    ] as unknown as RetryStrategy[]
    for (const s of odd) {
      const d = retryDelayMs(s, 3)
      expect(Number.isFinite(d)).toBe(true)
      expect(d).toBeGreaterThanOrEqual(0)
      expect(d).toBeLessThanOrEqual(7 * 24 * 3600 * 1000)
    }
  })

  test('the shared validator (API and engine) refuses strategies that make no sense', () => {
    const r = parseRetryStrategy(poison, 3)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error).toContain('base_delay_ms must be at least 1')
    const capBelow = parseRetryStrategy(
      { type: 'linear', base_delay_ms: 5000, increment_ms: 1, max_delay_ms: 10 },
      3,
    )
    expect(capBelow.ok).toBe(false)
    if (!capBelow.ok) expect(capBelow.error).toContain('max_delay_ms must not be less than base_delay_ms')
  })
})

describe('rescue', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await registerTypes(db.sql, 'email')
  })
  afterAll(() => db.drop())

  test('one task with a poison strategy never stops the rescue of the others', async () => {
    const expired = { status: 'running' as const, lease_expires_at: new Date(Date.now() - 1000) }
    const bad = await insertTask(db.sql, {
      task_type: 'email',
      ...expired,
      retry_strategy: poison,
      max_attempts: 1000,
      current_attempt: 200,
    })
    const odd = await insertTask(db.sql, {
      task_type: 'email',
      ...expired,
      retry_strategy: { type: 'fixed', interval_ms: 'soon' } as unknown as RetryStrategy,
      current_attempt: 1,
    })
    const normal = await Promise.all(
      [1, 2, 3].map(() => insertTask(db.sql, { task_type: 'email', ...expired, current_attempt: 1 })),
    )
    const rescued = await rescueExpired(db.sql)
    expect(rescued.map((r) => r.id).sort()).toEqual([bad.id, odd.id, ...normal.map((n) => n.id)].sort())
    for (const t of [bad, odd, ...normal]) {
      const row = await statusOf(db.sql, t.id)
      expect(row.status).toBe('retrying')
      expect(Number.isFinite(new Date(row.run_at as unknown as string).getTime())).toBe(true)
    }
    expect((await statusOf(db.sql, bad.id)).last_error).toBe('worker lost')
  })
})

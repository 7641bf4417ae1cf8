import { describe, expect, test } from 'bun:test'
import { defaultRetryStrategy, parseRetryStrategy, retryDelayMs } from '../../src/queue/retry'

describe("retry formulas (the seed's, exactly)", () => {
  test('exponential: base * multiplier^attempt, capped at max_delay_ms', () => {
    const s = {
      type: 'exponential',
      base_delay_ms: 1000,
      multiplier: 2,
      max_delay_ms: 10_000,
      max_attempts: 10,
    } as const
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(s, a))).toEqual([2000, 4000, 8000, 10_000, 10_000])
    expect(retryDelayMs({ ...s, multiplier: 1.5 }, 3)).toBe(3375)
  })

  test('linear: base + increment * attempt, capped', () => {
    const s = {
      type: 'linear',
      base_delay_ms: 500,
      increment_ms: 250,
      max_delay_ms: 1200,
      max_attempts: 5,
    } as const
    expect([1, 2, 3, 4].map((a) => retryDelayMs(s, a))).toEqual([750, 1000, 1200, 1200])
  })

  test('fixed: always the interval', () => {
    const s = { type: 'fixed', interval_ms: 3000, max_attempts: 3 } as const
    expect([1, 2, 7].map((a) => retryDelayMs(s, a))).toEqual([3000, 3000, 3000])
  })

  test('the default comes from configuration (base seconds, max retries)', () => {
    expect(defaultRetryStrategy(2000, 3)).toEqual({
      type: 'exponential',
      base_delay_ms: 2000,
      multiplier: 2,
      max_delay_ms: 300_000,
      max_attempts: 3,
    })
  })
})

describe('parseRetryStrategy', () => {
  test('accepts each type and fills max_attempts from the fallback', () => {
    expect(parseRetryStrategy({ type: 'fixed', interval_ms: 5 }, 4)).toEqual({
      ok: true,
      value: { type: 'fixed', interval_ms: 5, max_attempts: 4 },
    })
  })

  test.each([
    [null, 'retry_strategy must be an object'],
    [[], 'retry_strategy must be an object'],
    [{ type: 'random' }, 'retry_strategy.type must be'],
    [{ type: 'fixed' }, 'retry_strategy.interval_ms is required'],
    [{ type: 'fixed', interval_ms: -1 }, 'retry_strategy.interval_ms must be a number of 0 or more'],
    [{ type: 'fixed', interval_ms: '5' }, 'retry_strategy.interval_ms must be a number'],
    [
      { type: 'fixed', interval_ms: 5, max_attempts: 0 },
      'retry_strategy.max_attempts must be a whole number',
    ],
    [
      { type: 'fixed', interval_ms: 5, multiplier: 2 },
      'retry_strategy.multiplier is not a field of a fixed strategy',
    ],
    [
      { type: 'exponential', base_delay_ms: 1, multiplier: 0.5, max_delay_ms: 9 },
      'retry_strategy.multiplier must be from 1',
    ],
    [{ type: 'linear', base_delay_ms: 1e12, increment_ms: 1, max_delay_ms: 9 }, 'at most'],
  ])('refuses %j with a sentence naming the field', (input, message) => {
    const r = parseRetryStrategy(input, 3)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error).toContain(message)
  })
})

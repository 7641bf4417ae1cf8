// Retry strategies and their formulas: the seed's JSON (`{"type": "exponential"|"linear"|"fixed", ...}`)
// with exactly its fields. Pure and shared: the engine schedules retries with retryDelayMs, the
// panel draws the same schedule with it. `attempt` is the number of attempts made so far (1 after
// the first failure), as in the seed's `calculate_next_retry(new_attempt)`.

export type RetryStrategy =
  | {
      type: 'exponential'
      base_delay_ms: number
      multiplier: number
      max_delay_ms: number
      max_attempts: number
    }
  | {
      type: 'linear'
      base_delay_ms: number
      increment_ms: number
      max_delay_ms: number
      max_attempts: number
    }
  | { type: 'fixed'; interval_ms: number; max_attempts: number }

/** The longest delay between attempts: 7 days. */
export const MAX_DELAY_MS = 7 * 24 * 3600 * 1000

/**
 * Delay before the next attempt, in ms: always a finite number from 0 to max_delay_ms (7 days at
 * most). Strategies are checked on the way in, but rows written before that check (or by hand)
 * reach here too: `0 * 100 ** 155` is NaN, and a NaN delay made `toISOString()` throw in the
 * worker and in every rescue batch that held the task (issue 12, item 2).
 */
export function retryDelayMs(s: RetryStrategy, attempt: number): number {
  const o = s as Partial<Record<string, unknown>>
  const cap = clamp(Number(o.max_delay_ms ?? MAX_DELAY_MS), MAX_DELAY_MS)
  let raw: number
  switch (s.type) {
    case 'exponential':
      raw = Math.floor(s.base_delay_ms * s.multiplier ** attempt)
      break
    case 'linear':
      raw = s.base_delay_ms + s.increment_ms * attempt
      break
    case 'fixed':
      raw = s.interval_ms
      break
    default:
      raw = Number.NaN
  }
  return Number.isNaN(raw) ? cap : clamp(raw, cap)
}

/** A number from 0 to max; NaN (and anything that is not a number) becomes max. */
function clamp(n: number, max: number): number {
  if (typeof n !== 'number' || Number.isNaN(n)) return max
  return Math.min(Math.max(n, 0), max)
}

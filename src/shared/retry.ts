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

/** Delay before the next attempt, in ms. */
export function retryDelayMs(s: RetryStrategy, attempt: number): number {
  switch (s.type) {
    case 'exponential':
      return Math.min(Math.floor(s.base_delay_ms * s.multiplier ** attempt), s.max_delay_ms)
    case 'linear':
      return Math.min(s.base_delay_ms + s.increment_ms * attempt, s.max_delay_ms)
    case 'fixed':
      return s.interval_ms
  }
}

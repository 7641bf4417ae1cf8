// Retry strategies: the seed's JSON (`{"type": "exponential"|"linear"|"fixed", ...}`) with exactly
// its fields and formulas. `attempt` is the number of attempts made so far (1 after the first
// failure), as in the seed's `calculate_next_retry(new_attempt)`.

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

const MAX_DELAY_MS = 7 * 24 * 3600 * 1000

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

/** The default for new tasks, from STARTER__WORKER__RETRY_BACKOFF_BASE_SECS and _MAX_RETRIES. */
export function defaultRetryStrategy(baseMs: number, maxAttempts: number): RetryStrategy {
  return {
    type: 'exponential',
    base_delay_ms: baseMs,
    multiplier: 2,
    max_delay_ms: 300_000,
    max_attempts: maxAttempts,
  }
}

const FIELDS = {
  exponential: ['base_delay_ms', 'multiplier', 'max_delay_ms', 'max_attempts'],
  linear: ['base_delay_ms', 'increment_ms', 'max_delay_ms', 'max_attempts'],
  fixed: ['interval_ms', 'max_attempts'],
} as const

/**
 * Checks untrusted JSON. Returns the strategy, or a sentence naming the first bad field.
 * max_attempts may be left out; the caller fills it from the task or the configuration.
 */
export function parseRetryStrategy(
  input: unknown,
  fallbackMaxAttempts: number,
): { ok: true; value: RetryStrategy } | { ok: false; error: string } {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    return {
      ok: false,
      error: 'retry_strategy must be an object with a "type" of exponential, linear or fixed.',
    }
  const o = input as Record<string, unknown>
  const type = o.type
  if (type !== 'exponential' && type !== 'linear' && type !== 'fixed')
    return { ok: false, error: 'retry_strategy.type must be exponential, linear or fixed.' }
  const allowed: readonly string[] = ['type', ...FIELDS[type]]
  const extra = Object.keys(o).find((k) => !allowed.includes(k))
  if (extra)
    return {
      ok: false,
      error: `retry_strategy.${extra} is not a field of a ${type} strategy (fields: ${FIELDS[type].join(', ')}).`,
    }
  const out: Record<string, unknown> = { type }
  for (const field of FIELDS[type]) {
    let v = o[field]
    if (v === undefined && field === 'max_attempts') v = fallbackMaxAttempts
    if (v === undefined)
      return { ok: false, error: `retry_strategy.${field} is required for a ${type} strategy.` }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      return { ok: false, error: `retry_strategy.${field} must be a number of 0 or more.` }
    if (field === 'max_attempts' && (!Number.isInteger(v) || v < 1 || v > 1000))
      return { ok: false, error: 'retry_strategy.max_attempts must be a whole number from 1 to 1000.' }
    if (field.endsWith('_ms') && v > MAX_DELAY_MS)
      return { ok: false, error: `retry_strategy.${field} must be at most ${MAX_DELAY_MS} (7 days).` }
    if (field === 'multiplier' && (v < 1 || v > 100))
      return { ok: false, error: 'retry_strategy.multiplier must be from 1 to 100.' }
    out[field] = v
  }
  // Valid numbers that still make no sense: a zero base turns every exponential delay into 0 (and
  // into NaN once the power overflows), and a cap below the first delay makes the formula moot.
  if (type === 'exponential' && out.base_delay_ms === 0)
    return {
      ok: false,
      error: 'retry_strategy.base_delay_ms must be at least 1 for an exponential strategy.',
    }
  if (type !== 'fixed' && (out.max_delay_ms as number) < (out.base_delay_ms as number))
    return { ok: false, error: 'retry_strategy.max_delay_ms must not be less than base_delay_ms.' }
  return { ok: true, value: out as RetryStrategy }
}

// Retry strategies on the engine's side: the default for new tasks and the check of untrusted JSON.
// The shape and the delay formulas are in src/shared/retry.ts, which the panel imports too.
import type { RetryStrategy } from '../shared/retry'
import { retryStrategyProblem } from '../shared/task-input'

export { type RetryStrategy, retryDelayMs } from '../shared/retry'

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
 * Checks untrusted JSON. Returns the strategy, or a sentence naming the first bad field. The shape
 * and every bound come from the shared schema (src/shared/task-input.ts); here only what it cannot
 * say: which fields each type takes and needs, and numbers that are valid alone but not together.
 * max_attempts may be left out; the caller fills it from the task or the configuration.
 */
export function parseRetryStrategy(
  input: unknown,
  fallbackMaxAttempts: number,
): { ok: true; value: RetryStrategy } | { ok: false; error: string } {
  const problem = retryStrategyProblem(input)
  if (problem) return { ok: false, error: problem }
  const o = input as Record<string, unknown> & { type: RetryStrategy['type'] }
  const type = o.type
  const allowed: readonly string[] = ['type', ...FIELDS[type]]
  const extra = Object.keys(o).find((k) => !allowed.includes(k))
  if (extra)
    return {
      ok: false,
      error: `retry_strategy.${extra} is not a field of a ${type} strategy (fields: ${FIELDS[type].join(', ')}).`,
    }
  const out: Record<string, unknown> = { type }
  for (const field of FIELDS[type]) {
    const v = o[field] ?? (field === 'max_attempts' ? fallbackMaxAttempts : undefined)
    if (v === undefined)
      return { ok: false, error: `retry_strategy.${field} is required for a ${type} strategy.` }
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

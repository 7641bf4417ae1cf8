// A circuit breaker per task type, as a pure state machine; src/queue/breaker-store.ts persists it
// in task_types so every worker process shares one breaker per type.
//   closed --N consecutive failures--> open --cool-down passed--> half_open
//   half_open --M successes--> closed;  half_open --any failure--> open
// While open, tasks of the type are not claimed: they wait in the queue instead of being burned.

export type BreakerState = 'closed' | 'open' | 'half_open'

export interface BreakerSettings {
  failureThreshold: number
  successThreshold: number
  cooldownMs: number
}

export interface Breaker {
  state: BreakerState
  failures: number
  successes: number
  openedAt: Date | null
}

export const CLOSED: Breaker = Object.freeze({ state: 'closed', failures: 0, successes: 0, openedAt: null })

export function onFailure(b: Breaker, s: BreakerSettings, now: Date): Breaker {
  if (b.state === 'half_open') return { state: 'open', failures: b.failures + 1, successes: 0, openedAt: now }
  if (b.state === 'open') return { ...b, failures: b.failures + 1 }
  const failures = b.failures + 1
  if (failures >= s.failureThreshold) return { state: 'open', failures, successes: 0, openedAt: now }
  return { ...b, failures }
}

export function onSuccess(b: Breaker, s: BreakerSettings): Breaker {
  if (b.state === 'half_open') {
    const successes = b.successes + 1
    return successes >= s.successThreshold ? { ...CLOSED } : { ...b, successes }
  }
  // A success while open can only be a task claimed before the breaker opened; it proves little.
  if (b.state === 'open') return b
  return b.failures === 0 ? b : { ...CLOSED }
}

/** When an open breaker may let a probe through. */
export function probeAt(b: Breaker, s: BreakerSettings): Date | null {
  return b.state === 'open' && b.openedAt ? new Date(b.openedAt.getTime() + s.cooldownMs) : null
}

/**
 * What the claim may take of this type now: `all` (closed), `probe` (one task at a time, to test
 * recovery: half-open, or open with its cool-down over) or `none` (open, cooling down).
 */
export function admits(b: Breaker, s: BreakerSettings, now: Date): 'all' | 'probe' | 'none' {
  if (b.state === 'closed') return 'all'
  if (b.state === 'half_open') return 'probe'
  const at = probeAt(b, s)
  return at && at <= now ? 'probe' : 'none'
}

/** The breaker after the cool-down check: open becomes half_open once a probe is allowed. */
export function toHalfOpen(b: Breaker): Breaker {
  return b.state === 'open' ? { ...b, state: 'half_open', successes: 0 } : b
}

/** Pristine breakers need no write after a success: the happy path stays at zero extra statements. */
export function isPristine(b: Breaker): boolean {
  return b.state === 'closed' && b.failures === 0
}

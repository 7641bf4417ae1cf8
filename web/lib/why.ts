// "Why is it waiting?" on the wire (GET /tasks/{id}/why, GET /tasks/why), and the short words the
// list's badges and the overview's breakdown use for each reason code.
import type { WhyReason as Reason, ReasonCode, Why, WhySummary } from '../../src/api/client'

export type { Reason, ReasonCode, Why, WhySummary }

export const REASON_LABEL: Record<ReasonCode, string> = {
  TERMINAL: 'finished',
  CANCEL_REQUESTED: 'cancelling',
  RUNNING: 'running',
  SCHEDULED: 'scheduled',
  BACKOFF: 'backoff',
  TYPE_INACTIVE: 'type inactive',
  TYPE_PAUSED: 'type paused',
  BREAKER_OPEN: 'breaker open',
  NO_WORKER: 'no worker',
  USER_CAP: 'user cap',
  WORKERS_BUSY: 'workers busy',
  READY: 'ready',
}

/** Reasons a person should act on (or wait out knowingly), drawn in the warning colour. */
export const HELD: ReadonlySet<ReasonCode> = new Set([
  'TYPE_INACTIVE',
  'TYPE_PAUSED',
  'BREAKER_OPEN',
  'NO_WORKER',
  'USER_CAP',
])

/** The waiting reasons, in the order the overview lists them. */
export const WAITING_REASONS: ReasonCode[] = [
  'NO_WORKER',
  'TYPE_PAUSED',
  'TYPE_INACTIVE',
  'BREAKER_OPEN',
  'USER_CAP',
  'WORKERS_BUSY',
  'BACKOFF',
  'SCHEDULED',
  'READY',
]

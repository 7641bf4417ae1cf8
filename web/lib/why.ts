// "Why is it waiting?" on the wire (GET /tasks/{id}/why, GET /tasks/why), and the short words the
// list's badges and the overview's breakdown use for each reason code.
import type { ReasonCode } from '../../src/queue/why'

export type { ReasonCode }

export interface Reason {
  code: ReasonCode
  message: string
  [evidence: string]: unknown
}

export interface Why {
  task_id: string
  status: string
  runnable: boolean
  reasons: Reason[]
  checked_at: string
}

export interface WhySummary {
  by_reason: Partial<Record<ReasonCode, number>>
  tasks?: Record<string, { code: ReasonCode; message: string }>
}

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

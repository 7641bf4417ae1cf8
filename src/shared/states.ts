// The task state machine, written once for TypeScript, shared by the engine, the API and the panel
// (pure: no imports, so any side may import it). The database enforces the same table in
// migrations/0001_init.sql (tasklab_transition_allowed); a test checks that the two agree, and the
// README's diagram is drawn from it.

export const TASK_STATUSES = [
  'pending',
  'scheduled',
  'running',
  'retrying',
  'completed',
  'failed',
  'cancelled',
] as const
export type TaskStatus = (typeof TASK_STATUSES)[number]

/** Lowest first, as in the database enum; the claim orders by priority DESC. */
export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const
export type Priority = (typeof PRIORITIES)[number]

/** States a task never leaves on its own; only a user's retry moves failed/cancelled back. */
export const TERMINAL: readonly TaskStatus[] = ['completed', 'failed', 'cancelled']
/** States the claim picks from once run_at has come. */
export const WAITING: readonly TaskStatus[] = ['pending', 'scheduled', 'retrying']

/**
 * Each allowed move and who makes it. The seed's diagram, with its `dead_letter` named `failed`
 * (the dead letter queue) and its "failed → retrying" drawn as running → retrying, plus:
 * - running → retrying/failed when a lease expires (rescue, CONTRACT §2);
 * - running → pending when a draining worker hands back a task it could not finish;
 * - failed/cancelled → pending when a user retries.
 */
export const TRANSITIONS: Readonly<Record<TaskStatus, Readonly<Partial<Record<TaskStatus, string>>>>> = {
  pending: { scheduled: 'enqueue with a future time', running: 'worker claims', cancelled: 'user cancels' },
  scheduled: {
    pending: 'scheduled_at reached',
    running: 'worker claims (recorded via pending)',
    cancelled: 'user cancels',
  },
  running: {
    completed: 'handler succeeds',
    retrying: 'attempt fails, attempts left (or lease expires)',
    failed: 'permanent error or attempts exhausted (or lease expires on the last attempt)',
    cancelled: 'user cancels; the handler signal fires',
    pending: 'worker shuts down and hands the task back',
  },
  retrying: {
    running: 'worker claims after the backoff',
    failed: 'attempts exhausted',
    cancelled: 'user cancels',
  },
  completed: {},
  failed: { pending: 'user retries (attempts reset)' },
  cancelled: { pending: 'user retries (attempts reset)' },
}

/**
 * The error of an attempt whose lease ran out (its worker stopped heartbeating): the rescue writes
 * it, and clients such as the chaos lab recognise rescued attempts by it in a task's history.
 */
export const WORKER_LOST = 'worker lost'

/** States a user may cancel: those with a move to cancelled. */
export const CANCELLABLE: readonly TaskStatus[] = TASK_STATUSES.filter((s) => 'cancelled' in TRANSITIONS[s])
/** States a user may retry: the terminal ones that may move back to pending. */
export const RETRYABLE: readonly TaskStatus[] = TERMINAL.filter((s) => 'pending' in TRANSITIONS[s])
/** States a user may delete: only finished tasks, never one that may still run. */
export const DELETABLE: readonly TaskStatus[] = TERMINAL

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return to in TRANSITIONS[from]
}

export function isStatus(v: unknown): v is TaskStatus {
  return typeof v === 'string' && (TASK_STATUSES as readonly string[]).includes(v)
}

export function isPriority(v: unknown): v is Priority {
  return typeof v === 'string' && (PRIORITIES as readonly string[]).includes(v)
}

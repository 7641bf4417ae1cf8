import type { RetryStrategy } from './retry'
import type { Priority, TaskStatus } from './states'

/** A task as the database holds it and the API returns it (snake_case, as CONTRACT §2 names them). */
export interface Task {
  id: string
  task_type: string
  status: TaskStatus
  priority: Priority
  payload: unknown
  result: unknown
  metadata: Record<string, unknown>
  retry_strategy: RetryStrategy
  max_attempts: number
  current_attempt: number
  last_error: string | null
  created_at: Date
  updated_at: Date
  scheduled_at: Date | null
  run_at: Date
  started_at: Date | null
  completed_at: Date | null
  created_by: string | null
  locked_by: string | null
  lease_expires_at: Date | null
  timeout_ms: number | null
  idempotency_key: string | null
  cancel_requested: boolean
  /** The worker of the current or last completed attempt, whose claim is kept on the row. */
  last_worker: string | null
}

export interface TaskEvent {
  id: string
  task_id: string
  task_type: string
  at: Date
  from_status: TaskStatus | null
  to_status: TaskStatus
  attempt: number
  worker_id: string | null
  error: string | null
  actor: string
}

/** Who may see a task: a user sees their own, an admin (userId undefined) sees all. */
export interface Scope {
  userId?: string
}

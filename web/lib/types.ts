// Wire shapes of the public API (CONTRACT §2-3): the engine's types with dates as ISO strings.
import type { BreakerState } from '../../src/queue/breaker'
import type { RetryStrategy } from '../../src/queue/retry'
import type { Priority, TaskStatus } from '../../src/queue/states'

export { PRIORITIES, TASK_STATUSES, TERMINAL, TRANSITIONS } from '../../src/queue/states'
export type { BreakerState, Priority, RetryStrategy, TaskStatus }

export interface Task {
  id: string
  task_type: string
  status: TaskStatus
  priority: Priority
  payload: unknown
  result: unknown
  metadata: Record<string, unknown> | null
  retry_strategy: RetryStrategy | null
  max_attempts: number
  current_attempt: number
  last_error: string | null
  created_at: string
  updated_at: string
  scheduled_at: string | null
  started_at: string | null
  completed_at: string | null
  created_by: string | null
  locked_by: string | null
  timeout_ms: number | null
  idempotency_key: string | null
  /** When it may run next (scheduled time or the end of a backoff). */
  run_at?: string
  /** While running: when the worker's lease ends unless its heartbeat extends it. */
  lease_expires_at?: string | null
  cancel_requested?: boolean
}

export interface TaskEvent {
  id: string | number
  at: string
  from_status: TaskStatus | null
  to_status: TaskStatus
  attempt: number
  worker_id: string | null
  error: string | null
  actor: string
}

export interface TaskType {
  task_type: string
  description: string
  is_active: boolean
  paused: boolean
  timeout_ms: number | null
  retry_strategy: RetryStrategy | null
  payload_schema: JsonSchema | null
  example_payload: unknown
  breaker: {
    state: BreakerState
    failures: number
    successes: number
    opened_at: string | null
    failure_threshold: number
    success_threshold: number
    cooldown_ms: number
  }
  /** Live workers that registered the type (GET /tasks/types). */
  workers?: { alive: number; ids: string[] }
}

export interface JsonSchema {
  type?: string
  properties?: Record<string, JsonSchema & { description?: string }>
  required?: string[]
  description?: string
}

export interface WorkerInfo {
  id: string
  host: string
  pid: number
  concurrency?: number
  task_types?: string[]
  started_at: string
  heartbeat_at: string
  stopped_at?: string | null
  alive?: boolean
  running_tasks?: number | string[]
}

export interface User {
  id: string
  username: string
  email: string
  role: 'user' | 'admin'
}

/** GET /tasks/stats: counts per status, and per type when the server gives them. */
export interface Stats {
  total?: number
  by_type?: Record<string, Partial<Record<TaskStatus, number>>>
  [status: string]: unknown
}

// Wire shapes of the public API (CONTRACT §2-3): the engine's types with dates as ISO strings.
import type { BreakerState } from '../../src/queue/breaker'
import type { RetryStrategy } from '../../src/queue/retry'
import type { Priority, TaskStatus } from '../../src/queue/states'
import type { Task as EngineTask, TaskEvent as EngineTaskEvent } from '../../src/queue/task'

export { PRIORITIES, TASK_STATUSES, TERMINAL, TRANSITIONS } from '../../src/queue/states'
export type { BreakerState, Priority, RetryStrategy, TaskStatus }

/** A row as JSON carries it: every Date becomes an ISO string. */
export type Wire<T> = {
  [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K]
}

export type Task = Wire<EngineTask>
export type TaskEvent = Wire<EngineTaskEvent>

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
  enum?: unknown[]
  const?: unknown
  default?: unknown
  examples?: unknown[]
  minimum?: number
  items?: JsonSchema
  anyOf?: JsonSchema[]
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
  /** 'remote': a worker speaking the HTTP protocol (any language); 'process': a tasklab worker. */
  kind?: 'process' | 'remote'
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

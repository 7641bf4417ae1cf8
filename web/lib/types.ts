// The API's shapes (generated from its OpenAPI document, src/api/client) and the shared state
// machine. The panel imports nothing else from src/.
import type { TaskStats, Worker } from '../../src/api/client'
import type { Priority, TaskStatus } from '../../src/shared/states'

export type {
  BreakerState,
  FaultRule,
  RetryStrategy,
  Storage,
  Task,
  TaskEvent,
  TaskType,
  User,
  Why,
  WhyReason,
  WhySummary,
} from '../../src/api/client'
export {
  CANCELLABLE,
  DELETABLE,
  PRIORITIES,
  RETRYABLE,
  TASK_STATUSES,
  TERMINAL,
  TRANSITIONS,
  WAITING,
} from '../../src/shared/states'
export type { Priority, TaskStatus }

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

/** GET /workers. */
export type WorkerInfo = Worker
/** GET /tasks/stats: counts per status, and per type. */
export type Stats = TaskStats

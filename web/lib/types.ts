// Wire shapes of the public API: the types derived from the routes' response schemas
// (src/api/wire.ts), and the shared state machine. The panel imports nothing else from src/.
import type {
  BreakerState,
  RetryStrategy,
  Storage,
  Task,
  TaskEvent,
  TaskStats,
  TaskType,
  User,
  Worker,
} from '../../src/api/wire'
import type { Priority, TaskStatus } from '../../src/shared/states'

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
export type { BreakerState, Priority, RetryStrategy, Task, TaskEvent, TaskStatus, TaskType, User }

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
/** GET /storage: sizes, dead rows, open transactions, retention, the projection. */
export type StorageReport = Storage
/** GET /tasks/stats: counts per status, and per type. */
export type Stats = TaskStats

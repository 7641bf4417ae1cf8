// The API's answers as TypeScript types, derived from the routes' response schemas: what a client
// (the panel, the chaos lab, tests) receives once JSON has turned every Date into a string. Import
// these with `import type`; they carry no code.
import type { Static, TSchema } from '@sinclair/typebox'
import type { Session as SessionSchema, User as UserSchema } from './auth/schemas'
import type { Storage as StorageSchema } from './storage/schemas'
import type {
  StoredRetryStrategy,
  TaskEvent as TaskEventSchema,
  Task as TaskSchema,
  TaskStats as TaskStatsSchema,
  Why as WhySchema,
  WhySummary as WhySummarySchema,
} from './tasks/schemas'
import type { TaskType as TaskTypeSchema } from './types/schemas'
import type { ClaimedTask as ClaimedTaskSchema, Worker as WorkerSchema } from './workers/schemas'

type Jsonify<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Jsonify<U>[]
    : T extends object
      ? { [K in keyof T]: Jsonify<T[K]> }
      : T

/** A schema's value as a client receives it. */
export type Wire<S extends TSchema> = Jsonify<Static<S>>

export type Task = Wire<typeof TaskSchema>
export type TaskEvent = Wire<typeof TaskEventSchema>
export type TaskStats = Wire<typeof TaskStatsSchema>
export type TaskType = Wire<typeof TaskTypeSchema>
export type Worker = Wire<typeof WorkerSchema>
export type ClaimedTask = Wire<typeof ClaimedTaskSchema>
export type Storage = Wire<typeof StorageSchema>
export type Why = Wire<typeof WhySchema>
export type WhySummary = Wire<typeof WhySummarySchema>
export type WhyReason = Why['reasons'][number]
export type ReasonCode = WhyReason['code']
export type User = Wire<typeof UserSchema>
export type Session = Wire<typeof SessionSchema>
export type RetryStrategy = Wire<typeof StoredRetryStrategy>
export type BreakerState = TaskType['breaker']['state']

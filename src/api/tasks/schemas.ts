// Request and answer schemas of the task routes (they also make the OpenAPI document). A new task,
// a batch and a retry strategy are the shared schemas (src/shared/task-input.ts) that the engine
// checks too; what no schema says (a real date, JSON sizes, a strategy's fields per type) the
// engine checks after them, with a sentence naming the field.
import { Type as T } from '@sinclair/typebox'
import { t } from 'elysia'
import { PRIORITIES, TASK_STATUSES, type TaskStatus } from '../../queue/states'
import { REASON_CODES } from '../../queue/why'
import { BATCH_LIMIT, BatchInput, NewTaskInput, RetryStrategyInput } from '../../shared/task-input'
import { JsonObject, Named, Nullable, OneOf, Timestamp } from '../contract'

export const RetryStrategy = RetryStrategyInput
export const NewTask = NewTaskInput
export const Batch = BatchInput

export const IdParams = t.Object({ id: t.String({ format: 'uuid', description: 'task id (UUID)' }) })

const csv = (what: string) => t.Optional(t.String({ maxLength: 1000, description: what }))
const whole = (what: string) => t.Optional(t.String({ pattern: '^[0-9]{1,9}$', description: what }))

export const Filters = {
  task_type: csv('type, or comma list of types'),
  priority: csv(`comma list of ${PRIORITIES.join(', ')}`),
  created_after: t.Optional(t.String({ maxLength: 64, description: 'ISO 8601 date-time' })),
  created_before: t.Optional(t.String({ maxLength: 64, description: 'ISO 8601 date-time' })),
  q: t.Optional(t.String({ maxLength: 200, description: 'search in id, type, last error and metadata' })),
}

export const ListQuery = t.Object({
  status: csv(`comma list of ${TASK_STATUSES.join(', ')}`),
  ...Filters,
  limit: whole('1 to 1000, default 50'),
  offset: whole('0 or more, default 0'),
})

export const DeadLetterQuery = t.Object({
  ...Filters,
  limit: whole('1 to 1000, default 50'),
  offset: whole('0 or more'),
})

export const DeadLetterSelection = t.Object(
  {
    ids: t.Optional(t.Array(t.String({ format: 'uuid' }), { minItems: 1, maxItems: BATCH_LIMIT })),
    filter: t.Optional(
      t.Object({
        task_type: t.Optional(t.String({ maxLength: 1000 })),
        created_after: t.Optional(t.String({ maxLength: 64 })),
        created_before: t.Optional(t.String({ maxLength: 64 })),
        q: t.Optional(t.String({ maxLength: 200 })),
      }),
    ),
  },
  { description: 'either ids, or a filter ({} = every failed task you can see)' },
)

// ---- answers ----

const Status = OneOf(TASK_STATUSES)

/** The retry strategy a task or type holds, as stored (the request side above is looser). */
export const StoredRetryStrategy = Named(
  'RetryStrategy',
  T.Union([
    T.Object({
      type: T.Literal('exponential'),
      base_delay_ms: T.Number(),
      multiplier: T.Number(),
      max_delay_ms: T.Number(),
      max_attempts: T.Integer(),
    }),
    T.Object({
      type: T.Literal('linear'),
      base_delay_ms: T.Number(),
      increment_ms: T.Number(),
      max_delay_ms: T.Number(),
      max_attempts: T.Integer(),
    }),
    T.Object({ type: T.Literal('fixed'), interval_ms: T.Number(), max_attempts: T.Integer() }),
  ]),
)

export const Task = Named(
  'Task',
  T.Object({
    id: T.String({ format: 'uuid' }),
    task_type: T.String(),
    status: Status,
    priority: OneOf(PRIORITIES),
    payload: T.Unknown(),
    result: T.Unknown({ description: "the handler's result once completed" }),
    metadata: JsonObject,
    retry_strategy: StoredRetryStrategy,
    max_attempts: T.Integer(),
    current_attempt: T.Integer(),
    last_error: Nullable(T.String()),
    created_at: Timestamp,
    updated_at: Timestamp,
    scheduled_at: Nullable(Timestamp),
    run_at: Timestamp,
    started_at: Nullable(Timestamp),
    completed_at: Nullable(Timestamp),
    created_by: Nullable(T.String({ format: 'uuid' })),
    locked_by: Nullable(T.String({ description: 'the worker running it' })),
    last_worker: Nullable(
      T.String({ description: 'the worker of the current attempt while its claim is not yet logged' }),
    ),
    lease_expires_at: Nullable(Timestamp),
    timeout_ms: Nullable(T.Integer()),
    idempotency_key: Nullable(T.String()),
    cancel_requested: T.Boolean(),
  }),
)

export const TaskEvent = Named(
  'TaskEvent',
  T.Object({
    id: T.String(),
    task_id: T.String({ format: 'uuid' }),
    task_type: T.String(),
    at: Timestamp,
    from_status: Nullable(Status),
    to_status: Status,
    attempt: T.Integer(),
    worker_id: Nullable(T.String()),
    error: Nullable(T.String()),
    actor: T.String(),
  }),
)

const countsOf = (name: string) =>
  Named(
    name,
    T.Object({
      ...Object.fromEntries(TASK_STATUSES.map((s) => [s, T.Integer()])),
      total: T.Integer(),
    } as Record<TaskStatus | 'total', ReturnType<typeof T.Integer>>),
  )
export const StatusCounts = countsOf('StatusCounts')
export const TaskStats = Named(
  'TaskStats',
  T.Intersect([StatusCounts, T.Object({ by_type: T.Record(T.String(), StatusCounts) })]),
)

export const Retried = T.Object({ retried: T.Integer(), ids: T.Array(T.String({ format: 'uuid' })) })
export const Deleted = T.Object({ deleted: T.Integer(), ids: T.Array(T.String({ format: 'uuid' })) })
export const TaskDeleted = T.Object({ id: T.String({ format: 'uuid' }), deleted: T.Literal(true) })

// ---- why a task waits (src/queue/why.ts) ----

const ReasonCode = OneOf(REASON_CODES, 'in this order, the first reason of a task is its headline')

export const WhyReason = Named(
  'WhyReason',
  T.Object(
    { code: ReasonCode, message: T.String({ description: 'a sentence a person reads' }) },
    {
      // The evidence differs per code (run_at, the breaker's counts, the worker's heartbeat, …).
      additionalProperties: T.Unknown(),
      description: 'one reason, with the facts behind it as further fields',
    },
  ),
)

export const Why = Named(
  'Why',
  T.Object({
    task_id: T.String({ format: 'uuid' }),
    status: Status,
    runnable: T.Boolean({ description: 'nothing holds it back: the next claim with a free slot takes it' }),
    reasons: T.Array(WhyReason),
    checked_at: Timestamp,
  }),
)

export const WhySummary = Named(
  'WhySummary',
  T.Object({
    by_reason: T.Partial(T.Record(ReasonCode, T.Integer()), {
      description: 'unfinished tasks (waiting or running) by their headline reason',
    }),
    tasks: T.Optional(
      T.Record(T.String({ format: 'uuid' }), T.Object({ code: ReasonCode, message: T.String() }), {
        description: 'per task id, when ids were asked for',
      }),
    ),
    checked_at: Timestamp,
  }),
)

// The answer schema of the type routes: a type as the API shows it.
import { Type as T } from '@sinclair/typebox'
import { Named, Nullable, OneOf, Timestamp } from '../contract'
import { StoredRetryStrategy } from '../tasks/schemas'

const BREAKER_STATES = ['closed', 'open', 'half_open'] as const

export const TaskType = Named(
  'TaskType',
  T.Object({
    task_type: T.String(),
    description: T.String(),
    is_active: T.Boolean(),
    paused: T.Boolean(),
    timeout_ms: Nullable(T.Integer()),
    retry_strategy: Nullable(StoredRetryStrategy, 'the default for new tasks of this type'),
    payload_schema: T.Unknown({ description: 'JSON Schema of the payload, when the handler gives one' }),
    example_payload: T.Unknown(),
    breaker: T.Object({
      state: OneOf(BREAKER_STATES),
      failures: T.Integer(),
      successes: T.Integer(),
      opened_at: Nullable(Timestamp),
      failure_threshold: T.Integer(),
      success_threshold: T.Integer(),
      cooldown_ms: T.Integer(),
    }),
    retention: T.Object(
      {
        completed_secs: Nullable(T.Integer()),
        cancelled_secs: Nullable(T.Integer()),
        failed_secs: Nullable(T.Integer()),
      },
      {
        description:
          "this type's retention of finished tasks in seconds (0 keeps them for ever); null: the configured default",
      },
    ),
    workers: T.Optional(
      T.Object(
        { alive: T.Integer(), ids: T.Array(T.String()) },
        { description: 'live workers that run this type (in lists and GET by name)' },
      ),
    ),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
)

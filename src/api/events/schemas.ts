// The messages of GET /events. The stream is text (server-sent events), so no route checks these
// schemas; they are in the OpenAPI document (components.schemas) so that the generated client
// types (src/api/client) type the panel's reading of the stream like any JSON answer.
import { Type as T } from '@sinclair/typebox'
import { TASK_STATUSES } from '../../queue/states'
import { Named, Nullable, OneOf, Timestamp } from '../contract'
import { TaskStats } from '../tasks/schemas'

const Status = OneOf(TASK_STATUSES)

export const StreamTransition = Named(
  'StreamTransition',
  T.Object({
    id: T.String({ description: 'the latest transition of this entry; the message id' }),
    task_id: T.String({ format: 'uuid' }),
    task_type: T.String(),
    from: Nullable(Status, "the task's state before its first move in this message; null: created"),
    to: Status,
    attempt: T.Integer(),
    worker_id: Nullable(T.String()),
    error: Nullable(T.String()),
    actor: T.String(),
    at: Timestamp,
    wait_ms: Nullable(
      T.Number({ minimum: 0 }),
      'queue latency of a claim in this entry: from ready (run_at) to claimed, as the histogram of GET /metrics measures it',
    ),
    run_ms: Nullable(
      T.Number({ minimum: 0 }),
      'an attempt that ended in this entry: from claimed to its end',
    ),
  }),
)

export const StreamMove = Named(
  'StreamMove',
  T.Object({
    from: Status,
    to: Status,
    count: T.Integer({ minimum: 1, description: 'how many times tasks took this arrow' }),
  }),
)

/** Each message as `{event, data}`: the SSE `event:` field and its `data:` line parsed as JSON. */
export const StreamEvent = Named(
  'StreamEvent',
  T.Union([
    T.Object({
      event: T.Literal('moves'),
      data: T.Array(StreamMove, {
        description:
          'every move since the last message counted per arrow, including those a transitions entry folds into one jump; sent just before it. Creations are not moves',
      }),
    }),
    T.Object({
      event: T.Literal('transitions'),
      data: T.Array(StreamTransition, { description: 'one entry per task that moved, ≤ 4 messages/s' }),
    }),
    T.Object(
      { event: T.Literal('counts'), data: TaskStats },
      { description: 'every second; the keep-alive' },
    ),
    T.Object({ event: T.Literal('logout'), data: T.Object({ reason: T.String() }) }),
  ]),
)

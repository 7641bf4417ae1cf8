// The answer schema of GET /workers: a worker row plus what the route computes.
import { Type as T } from '@sinclair/typebox'
import { JsonObject, Named, Nullable, OneOf, Timestamp } from '../contract'

export const Worker = Named(
  'Worker',
  T.Object({
    id: T.String(),
    host: T.String(),
    pid: T.Integer(),
    concurrency: T.Integer(),
    lease_ms: T.Integer(),
    kind: OneOf(
      ['process', 'remote'] as const,
      'a tasklab worker process, or a worker over the HTTP protocol',
    ),
    task_types: T.Array(T.String()),
    started_at: Timestamp,
    heartbeat_at: Timestamp,
    stopped_at: Nullable(Timestamp),
    alive: T.Boolean({ description: 'not stopped, and heartbeating within its lease' }),
    running_tasks: T.Integer(),
  }),
)

/** A task handed out by POST /workers/claim (src/queue/remote.ts, RemoteTask). */
export const ClaimedTask = Named(
  'ClaimedTask',
  T.Object({
    id: T.String({ format: 'uuid' }),
    task_type: T.String(),
    payload: T.Unknown(),
    metadata: JsonObject,
    priority: T.String(),
    current_attempt: T.Integer(),
    max_attempts: T.Integer(),
    lease_expires_at: Timestamp,
    timeout_ms: T.Integer({ description: 'report within this, or the attempt fails as timed out' }),
  }),
)

export const Heartbeat = T.Object({
  lease_expires_at: Timestamp,
  cancel_requested: T.Boolean({ description: 'a cancel was asked for: stop and report a failure' }),
})

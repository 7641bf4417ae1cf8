// The answer schema of GET /workers: a worker row plus what the route computes.
import { Type as T } from '@sinclair/typebox'
import { Named, Nullable, Timestamp } from '../contract'

export const Worker = Named(
  'Worker',
  T.Object({
    id: T.String(),
    host: T.String(),
    pid: T.Integer(),
    concurrency: T.Integer(),
    lease_ms: T.Integer(),
    task_types: T.Array(T.String()),
    started_at: Timestamp,
    heartbeat_at: Timestamp,
    stopped_at: Nullable(Timestamp),
    alive: T.Boolean({ description: 'not stopped, and heartbeating within its lease' }),
    running_tasks: T.Integer(),
  }),
)

// Remote workers: the engine side of the HTTP worker protocol (CONTRACT §6). A remote worker is held
// to every rule of tasklab's own: it claims through the same claim statement (so SKIP LOCKED,
// priorities and leases are the same), pause and the breaker decide which types it may take, every
// outcome goes through finishTasks' guard (`status = 'running' AND locked_by = <worker>`), its lease
// is extended by extendLeases, and when it goes silent the rescue takes its tasks back. What differs:
// no tasklab process runs its attempt's timer, so failOverdueRemote does that from the server.
import type { Sql } from '../db/connect'
import { type Breaker, isPristine } from './breaker'
import { claimTasks } from './claim'
import { QueueError } from './errors'
import { extendLeases, failureOutcome, finishTasks, type Outcome } from './finish'
import { breakerOf, readTypes, recordBreaker, type TaskTypeRow } from './registry'
import type { Task } from './task'
import { heartbeatWorker } from './workers'

/** A claimed task as the protocol hands it out. */
export interface RemoteTask {
  id: string
  task_type: string
  payload: unknown
  metadata: Record<string, unknown>
  priority: string
  current_attempt: number
  max_attempts: number
  lease_expires_at: Date
  timeout_ms: number
}

export class LeaseLost extends Error {
  override name = 'LeaseLost'
  constructor(id: string, workerId: string) {
    super(
      `Task ${id} is not running under worker ${workerId}: its lease expired and it was rescued, it timed out, or it was never claimed by this worker.`,
    )
  }
}

/** A breaker that changed state, for the caller to announce (event, log, NOTIFY). */
export interface BreakerChange {
  row: TaskTypeRow
  before: Breaker['state']
}

/**
 * Records the remote worker (kind 'remote') with the types it serves, so GET /workers and the types'
 * live-worker counts show it while it claims or heartbeats. A worker id that a tasklab worker process
 * already uses is refused: two workers under one id would complete each other's tasks.
 */
export async function touchRemoteWorker(
  sql: Sql,
  w: { id: string; host: string; types: string[]; limit: number; leaseMs: number },
): Promise<void> {
  const rows = await sql`
    INSERT INTO workers (id, host, pid, concurrency, lease_ms, task_types, kind)
    VALUES (${w.id}, ${w.host}, 0, ${w.limit}, ${w.leaseMs}, ${w.types}::text[], 'remote')
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, concurrency = excluded.concurrency,
      lease_ms = excluded.lease_ms, heartbeat_at = now(), stopped_at = NULL,
      task_types = ARRAY(SELECT DISTINCT unnest(workers.task_types || excluded.task_types) ORDER BY 1),
      started_at = CASE WHEN workers.stopped_at IS NOT NULL
        OR workers.heartbeat_at < now() - workers.lease_ms * interval '1 millisecond'
        THEN now() ELSE workers.started_at END
    WHERE workers.kind = 'remote'
    RETURNING id`
  if (rows.length === 0)
    throw new QueueError(
      'VALIDATION_ERROR',
      `worker_id "${w.id}" is the id of a tasklab worker process; give this worker its own id.`,
      { field: 'worker_id' },
    )
}

/**
 * Claims up to `limit` tasks of `types` for a remote worker: paused and inactive types are skipped,
 * an open breaker admits nothing until its cool-down, and a half-open one one probe at a time.
 * Unknown types are refused (the caller names the field). Returns the tasks and any breaker that
 * moved to half-open.
 */
export async function claimRemote(
  sql: Sql,
  o: {
    workerId: string
    host: string
    types: string[]
    limit: number
    leaseMs: number
    defaultTimeoutMs: number
  },
): Promise<{ tasks: RemoteTask[]; changes: BreakerChange[] }> {
  const rows = await readTypes(sql, o.types)
  const known = new Map(rows.map((r) => [r.name, r]))
  const unknown = o.types.filter((t) => !known.has(t))
  if (unknown.length > 0)
    throw new QueueError(
      'VALIDATION_ERROR',
      `types: ${unknown.map((t) => `"${t.slice(0, 63)}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not registered; register with POST /api/v1/tasks/types first.`,
      { field: 'types' },
    )
  await touchRemoteWorker(sql, {
    id: o.workerId,
    host: o.host,
    types: o.types,
    limit: o.limit,
    leaseMs: o.leaseMs,
  })
  // The claim statement decides what each type admits (claim.ts): paused, inactive and cooling-down
  // types nothing, a half-open breaker (or an open one past its cool-down) one probe while none of
  // its tasks runs, across all workers. A task claimed of a type whose breaker was not closed is
  // that probe: the breaker is recorded half-open, as tasklab's own worker does.
  const claimed = await claimTasks(sql, {
    workerId: o.workerId,
    types: rows.filter((r) => !r.paused && r.is_active).map((r) => r.name),
    limit: o.limit,
    leaseMs: o.leaseMs,
  })
  const changes: BreakerChange[] = []
  for (const name of new Set(claimed.map((t) => t.task_type))) {
    if (known.get(name)?.breaker_state === 'closed') continue
    const changed = await recordBreaker(sql, name, 'probe')
    if (changed && changed.row.breaker_state !== changed.before) changes.push(changed)
  }
  const tasks = claimed.map((t) => ({
    id: t.id,
    task_type: t.task_type,
    payload: t.payload,
    metadata: t.metadata,
    priority: t.priority,
    current_attempt: t.current_attempt,
    max_attempts: t.max_attempts,
    lease_expires_at: t.lease_expires_at!,
    timeout_ms: t.timeout_ms ?? known.get(t.task_type)?.timeout_ms ?? o.defaultTimeoutMs,
  }))
  return { tasks, changes }
}

/** Extends the lease of one task; throws LeaseLost when it is no longer this worker's. */
export async function heartbeatRemote(
  sql: Sql,
  o: { id: string; workerId: string; leaseMs: number },
): Promise<{ lease_expires_at: Date; cancel_requested: boolean }> {
  const [held] = await extendLeases(sql, o.workerId, o.leaseMs, [o.id])
  if (!held) throw new LeaseLost(o.id, o.workerId)
  await heartbeatWorker(sql, o.workerId)
  const [row] = await sql<{ lease_expires_at: Date }[]>`SELECT lease_expires_at FROM tasks WHERE id = ${o.id}`
  return {
    lease_expires_at: row?.lease_expires_at ?? new Date(Date.now() + o.leaseMs),
    cancel_requested: held.cancel_requested,
  }
}

async function heldTask(sql: Sql, id: string, workerId: string): Promise<Task> {
  const [task] = await sql<Task[]>`
    SELECT * FROM tasks WHERE id = ${id} AND status = 'running' AND locked_by = ${workerId}`
  if (!task) throw new LeaseLost(id, workerId)
  return task
}

export interface Finished {
  task: Task
  outcome: Outcome
  /** What the attempt means for the type's breaker. */
  breaker: 'failure' | 'success' | null
}

/** Writes one outcome under the lease guard and returns the task as it is now. */
async function finishOne(sql: Sql, workerId: string, task: Task, outcome: Outcome): Promise<Task> {
  const written = await finishTasks(sql, workerId, [outcome])
  if (!written.has(task.id)) throw new LeaseLost(task.id, workerId)
  const [now] = await sql<Task[]>`SELECT * FROM tasks WHERE id = ${task.id}`
  return now!
}

/** `problem` set: the result cannot be stored, so the attempt fails with that sentence instead. */
export async function completeRemote(
  sql: Sql,
  o: { id: string; workerId: string; result: unknown; problem: string | null },
): Promise<Finished> {
  const task = await heldTask(sql, o.id, o.workerId)
  if (o.problem) {
    const outcome = failureOutcome(task, `The worker's result was refused: ${o.problem}.`, false)
    return { task: await finishOne(sql, o.workerId, task, outcome), outcome, breaker: 'failure' }
  }
  const outcome: Outcome = { id: task.id, status: 'completed', result: o.result ?? null }
  return { task: await finishOne(sql, o.workerId, task, outcome), outcome, breaker: 'success' }
}

/** A failure of a task whose cancel was requested ends it cancelled (the worker stopped on request). */
export async function failRemote(
  sql: Sql,
  o: { id: string; workerId: string; error: string; permanent: boolean },
): Promise<Finished> {
  const task = await heldTask(sql, o.id, o.workerId)
  // Text PostgreSQL cannot store (U+0000, half a surrogate pair) must not make the report fail.
  const error = o.error.toWellFormed().replaceAll('\u0000', '')
  if (task.cancel_requested) {
    const outcome: Outcome = { id: task.id, status: 'cancelled', error }
    return { task: await finishOne(sql, o.workerId, task, outcome), outcome, breaker: null }
  }
  const outcome = failureOutcome(task, error, o.permanent)
  return {
    task: await finishOne(sql, o.workerId, task, outcome),
    outcome,
    breaker: o.permanent ? null : 'failure',
  }
}

/** Applies an attempt's outcome to the type's breaker; a success on a pristine breaker writes nothing. */
export async function noteBreaker(
  sql: Sql,
  type: string,
  event: 'failure' | 'success',
): Promise<BreakerChange | null> {
  if (event === 'success') {
    const [row] = await readTypes(sql, [type])
    if (!row || isPristine(breakerOf(row))) return null
  }
  const changed = await recordBreaker(sql, type, event)
  return changed && changed.row.breaker_state !== changed.before ? changed : null
}

export interface Overdue {
  id: string
  task_type: string
  attempt: number
  worker: string
  outcome: Outcome
}

/**
 * Fails the attempts of remote workers that ran past their timeout (the task's, else the type's,
 * else the configured default), whether or not the worker ever answers again: its next heartbeat or
 * report gets LEASE_LOST. tasklab's own workers time their attempts themselves and are not touched.
 */
export async function failOverdueRemote(sql: Sql, defaultTimeoutMs: number, limit = 500): Promise<Overdue[]> {
  const overdue = await failOverdue(sql, defaultTimeoutMs, limit)
  // A timeout counts against the breaker, as it does for tasklab's own workers.
  for (const o of overdue)
    if (o.outcome.status !== 'cancelled') await noteBreaker(sql, o.task_type, 'failure')
  return overdue
}

async function failOverdue(sql: Sql, defaultTimeoutMs: number, limit: number): Promise<Overdue[]> {
  return sql.begin(async (tx) => {
    const rows = await tx<
      (Pick<
        Task,
        'id' | 'task_type' | 'current_attempt' | 'max_attempts' | 'retry_strategy' | 'cancel_requested'
      > & {
        locked_by: string
        timeout: number
      })[]
    >`
      SELECT t.id, t.task_type, t.current_attempt, t.max_attempts, t.retry_strategy, t.cancel_requested,
        t.locked_by, coalesce(t.timeout_ms, tt.timeout_ms, ${defaultTimeoutMs}) AS timeout
      FROM tasks t
      JOIN workers w ON w.id = t.locked_by AND w.kind = 'remote'
      LEFT JOIN task_types tt ON tt.name = t.task_type
      WHERE t.status = 'running'
        AND t.started_at + coalesce(t.timeout_ms, tt.timeout_ms, ${defaultTimeoutMs}) * interval '1 millisecond' < now()
      LIMIT ${limit}
      FOR UPDATE OF t SKIP LOCKED`
    const done: Overdue[] = []
    for (const r of rows) {
      const message = `timed out after ${r.timeout} ms`
      const outcome: Outcome = r.cancel_requested
        ? { id: r.id, status: 'cancelled', error: message }
        : failureOutcome(r, message, false)
      const written = await finishTasks(tx as unknown as Sql, r.locked_by, [outcome])
      if (written.has(r.id))
        done.push({
          id: r.id,
          task_type: r.task_type,
          attempt: r.current_attempt,
          worker: r.locked_by,
          outcome,
        })
    }
    return done
  }) as Promise<Overdue[]>
}

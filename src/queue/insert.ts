// The INSERT behind every enqueue, single (coalesced) or batch. Rows go in as one array per column
// (unnest), and the answer is built from what was sent plus the few columns only the database
// knows (created_at, the resolved strategy and attempts, run_at): RETURNING * sent every payload
// back, and parsing it again cost as much as sending it. Ids are made by the caller (UUIDv7).
import type { Sql, TransactionSql } from '../db/connect'
import type { RetryStrategy } from './retry'
import type { Priority } from './states'
import type { Task } from './task'

export interface EnqueueDefaults {
  maxAttempts: number
  retryStrategy: RetryStrategy
}

/** A validated row, ready for INSERT. */
export interface Row {
  id: string
  task_type: string
  priority: Priority
  payload: unknown
  metadata: Record<string, unknown>
  retry_strategy: RetryStrategy | null
  max_attempts: number | null
  scheduled_at: string | null
  timeout_ms: number | null
  idempotency_key: string | null
  created_by: string | null
}

interface Inserted {
  id: string
  status: Task['status']
  retry_strategy: RetryStrategy
  max_attempts: number
  created_at: Date
  run_at: Date
}

/**
 * Inserts the rows of registered, active types; returns the tasks made, in input order. A row whose
 * type is not registered, or whose idempotency key was used before, is skipped (absent from the
 * answer). The strategy and max_attempts are resolved in SQL because the type's default lives in
 * its row: the stored strategy always carries the task's real max_attempts, so there is one truth.
 * The status is decided in SQL too (scheduled when scheduled_at is after now()), so that
 * created_at and the status agree exactly: the lean history rebuilds the creation from them.
 */
export async function insertRows(
  sql: Sql | TransactionSql,
  rows: Row[],
  defaults: EnqueueDefaults,
): Promise<Task[]> {
  const col = <K extends keyof Row>(k: K) => rows.map((r) => r[k])
  const json = (k: 'payload' | 'metadata' | 'retry_strategy') =>
    rows.map((r) => (r[k] === null ? null : JSON.stringify(r[k])))
  // Enum arrays go in as text[] and are cast in SQL: postgres.js learns array types once per pool,
  // at its first connection, so a pool that ran the migrations that made task_priority would send
  // a task_priority[] parameter unserialised ("normal,normal", a malformed array literal).
  const made = await sql<Inserted[]>`
    INSERT INTO tasks (id, task_type, status, priority, payload, metadata, retry_strategy, max_attempts,
                       scheduled_at, run_at, timeout_ms, idempotency_key, created_by)
    SELECT i.id, i.task_type,
           CASE WHEN i.scheduled_at > now() THEN 'scheduled' ELSE 'pending' END::task_status,
           i.priority, i.payload::jsonb, i.metadata::jsonb,
           s.strategy || jsonb_build_object('max_attempts', s.attempts), s.attempts,
           i.scheduled_at, coalesce(i.scheduled_at, now()), i.timeout_ms, i.idempotency_key, i.created_by
    FROM unnest(${col('id') as string[]}::uuid[], ${col('task_type') as string[]}::text[],
                ${col('priority') as string[]}::text[]::task_priority[], ${json('payload') as string[]}::text[],
                ${json('metadata') as string[]}::text[], ${json('retry_strategy') as string[]}::text[],
                ${col('max_attempts') as number[]}::int[], ${col('scheduled_at') as string[]}::timestamptz[],
                ${col('timeout_ms') as number[]}::int[], ${col('idempotency_key') as string[]}::text[],
                ${col('created_by') as string[]}::uuid[])
           WITH ORDINALITY AS i(id, task_type, priority, payload, metadata, retry_strategy, max_attempts,
                                scheduled_at, timeout_ms, idempotency_key, created_by, ord)
    JOIN task_types tt ON tt.name = i.task_type AND tt.is_active
    CROSS JOIN LATERAL (
      SELECT z.strategy, coalesce(i.max_attempts, (z.strategy->>'max_attempts')::integer, ${defaults.maxAttempts}) AS attempts
      FROM (SELECT coalesce(i.retry_strategy::jsonb, tt.retry_strategy,
                            ${JSON.stringify(defaults.retryStrategy)}::text::jsonb) AS strategy) z
    ) s
    ORDER BY i.ord
    ON CONFLICT ((coalesce(created_by, '00000000-0000-0000-0000-000000000000'::uuid)), idempotency_key)
      WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, status, retry_strategy, max_attempts, created_at, run_at`
  const byId = new Map(made.map((m) => [m.id, m]))
  const tasks: Task[] = []
  for (const r of rows) {
    const m = byId.get(r.id)
    if (m) tasks.push(taskOf(r, m))
  }
  return tasks
}

function taskOf(r: Row, m: Inserted): Task {
  return {
    id: r.id,
    task_type: r.task_type,
    status: m.status,
    priority: r.priority,
    payload: r.payload,
    result: null,
    metadata: r.metadata,
    retry_strategy: m.retry_strategy,
    max_attempts: m.max_attempts,
    current_attempt: 0,
    last_error: null,
    created_at: m.created_at,
    updated_at: m.created_at,
    scheduled_at: r.scheduled_at === null ? null : new Date(r.scheduled_at),
    run_at: m.run_at,
    started_at: null,
    completed_at: null,
    created_by: r.created_by,
    locked_by: null,
    lease_expires_at: null,
    timeout_ms: r.timeout_ms,
    idempotency_key: r.idempotency_key,
    cancel_requested: false,
    last_worker: null,
  }
}

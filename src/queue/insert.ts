// The INSERT behind every enqueue, single (coalesced) or batch. Rows go in as one array per column
// (unnest), and the answer is built from what was sent plus the few columns only the database
// knows (created_at, the resolved strategy and attempts, run_at): RETURNING * sent every payload
// back, and parsing it again cost as much as sending it. Ids are made by the caller (UUIDv7).
import type { Sql, TransactionSql } from '../db/connect'
import { TASKS_CHANNEL } from './notify'
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
  opts: { notify?: boolean } = {},
): Promise<Task[]> {
  // With notify, the wake-up for workers rides on the INSERT (delivered at its commit, folded into
  // one per statement by PostgreSQL) instead of a NOTIFY statement of its own after it.
  const notify = opts.notify ? sql`, pg_notify(${TASKS_CHANNEL}, '')` : sql``
  const made = await sql<Inserted[]>`
    WITH ${typesOf(sql, rows, defaults)}
    ${insertFrom(sql, rows, defaults)}
    ORDER BY i.ord
    ON CONFLICT ((coalesce(created_by, '00000000-0000-0000-0000-000000000000'::uuid)), idempotency_key)
      WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, status, retry_strategy, max_attempts, created_at, run_at ${notify}`
  const byId = new Map(made.map((m) => [m.id, m]))
  const tasks: Task[] = []
  for (const r of rows) {
    const m = byId.get(r.id)
    if (m) tasks.push(taskOf(r, m))
  }
  return tasks
}

/** The registered, active types among the rows', each with its strategy or the default (CTE `tt`). */
function typesOf(sql: Sql | TransactionSql, rows: Row[], defaults: EnqueueDefaults) {
  return sql`tt AS (
    SELECT name, coalesce(retry_strategy, ${JSON.stringify(defaults.retryStrategy)}::text::jsonb) AS strategy
    FROM task_types WHERE name = ANY(${distinctTypes(rows)}::text[]) AND is_active)`
}

const distinctTypes = (rows: Row[]) => [...new Set(rows.map((r) => r.task_type))]

/** INSERT … SELECT of the rows whose type is in `tt`, up to (not including) ORDER BY. */
function insertFrom(sql: Sql | TransactionSql, rows: Row[], defaults: EnqueueDefaults) {
  const col = <K extends keyof Row>(k: K) => rows.map((r) => r[k])
  const json = (k: 'payload' | 'metadata' | 'retry_strategy') =>
    rows.map((r) => (r[k] === null ? null : JSON.stringify(r[k])))
  // Enum arrays go in as text[] and are cast in SQL: postgres.js learns array types once per pool,
  // at its first connection, so a pool that ran the migrations that made task_priority would send
  // a task_priority[] parameter unserialised ("normal,normal", a malformed array literal).
  return sql`
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
    JOIN tt ON tt.name = i.task_type
    CROSS JOIN LATERAL (
      SELECT z.strategy, coalesce(i.max_attempts, (z.strategy->>'max_attempts')::integer, ${defaults.maxAttempts}) AS attempts
      FROM (SELECT coalesce(i.retry_strategy::jsonb, tt.strategy) AS strategy) z
    ) s`
}

/**
 * A batch whose rows carry no idempotency key: one statement, no transaction, and nothing per row
 * sent back. The answer is built from what was sent plus what only the database knows, which is
 * the same for every row of one statement: now() (created_at, run_at, scheduled or not) and each
 * type's strategy. Reading 1,000 RETURNING rows back cost as much as sending them. All rows are
 * inserted, or none: when a type is not registered or not active, nothing is, and its name comes
 * back in `missing`. Without keys no row can conflict, so no ON CONFLICT.
 */
export async function insertBatch(
  sql: Sql | TransactionSql,
  rows: Row[],
  defaults: EnqueueDefaults,
): Promise<{ tasks: Task[] } | { missing: string[] }> {
  const types = distinctTypes(rows)
  const [r] = await sql<{ now: Date; now_us: string; inserted: number; types: TypeStrategy[] }[]>`
    WITH ${typesOf(sql, rows, defaults)},
    ins AS (
      ${insertFrom(sql, rows, defaults)}
      WHERE (SELECT count(*) FROM tt) = ${types.length}
      ORDER BY i.ord
      RETURNING 1)
    SELECT now(), (extract(epoch FROM now()) * 1000000)::bigint::text AS now_us,
           (SELECT count(*)::int FROM ins) AS inserted,
           (SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'strategy', strategy,
                      'attempts', (strategy->>'max_attempts')::integer)), '[]') FROM tt) AS types`
  const byName = new Map(r!.types.map((t) => [t.name, t]))
  if (byName.size < types.length) return { missing: types.filter((t) => !byName.has(t)) }
  if (r!.inserted !== rows.length)
    throw new Error(`insertBatch: ${r!.inserted} of ${rows.length} rows inserted`)
  // scheduled_at has whole milliseconds; now() has microseconds: compare in microseconds as SQL did.
  const nowUs = Number(r!.now_us)
  const tasks = rows.map((row) => {
    const type = byName.get(row.task_type)!
    const strategy = row.retry_strategy ?? type.strategy
    const attempts =
      row.max_attempts ??
      (row.retry_strategy ? row.retry_strategy.max_attempts : type.attempts) ??
      defaults.maxAttempts
    const scheduled = row.scheduled_at === null ? null : new Date(row.scheduled_at)
    return taskOf(row, {
      id: row.id,
      status: scheduled !== null && scheduled.getTime() * 1000 > nowUs ? 'scheduled' : 'pending',
      retry_strategy: { ...strategy, max_attempts: attempts },
      max_attempts: attempts,
      created_at: r!.now,
      run_at: scheduled ?? r!.now,
    })
  })
  return { tasks }
}

interface TypeStrategy {
  name: string
  strategy: RetryStrategy
  attempts: number | null
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

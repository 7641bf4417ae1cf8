// Enqueue: validation of what callers send, then one INSERT (src/queue/insert.ts) that also checks
// the type is registered and active and resolves the retry strategy (task's, else the type's, else
// the configured default) — single enqueues share statements (src/queue/coalesce.ts), a batch is
// one statement (without idempotency keys not even a transaction: src/queue/insert.ts insertBatch).
import type { Sql, TransactionSql } from '../db/connect'
import {
  BATCH_LIMIT,
  batchSizeProblem,
  inBatch,
  METADATA_LIMIT_BYTES,
  type NewTaskInput,
  newTaskProblem,
  newTaskSentence,
  PAYLOAD_LIMIT_BYTES,
} from '../shared/task-input'
import { insertCoalesced } from './coalesce'
import { parseIsoDateTime } from './dates'
import { QueueError } from './errors'
import { uuidv7 } from './ids'
import { type EnqueueDefaults, insertBatch, insertRows, type Row } from './insert'
import { checkPayloads } from './payload-check'
import { parseRetryStrategy, type RetryStrategy } from './retry'
import type { Task } from './task'

export type { EnqueueDefaults, Row } from './insert'

// The limits live with the schema they belong to; the engine's callers keep importing them from here.
export { BATCH_LIMIT, METADATA_LIMIT_BYTES, PAYLOAD_LIMIT_BYTES }

export interface NewTask {
  task_type: string
  payload?: unknown
  priority?: string
  metadata?: unknown
  retry_strategy?: unknown
  max_attempts?: unknown
  scheduled_at?: unknown
  timeout_ms?: unknown
  idempotency_key?: unknown
}

const invalid = (field: string, message: string, index?: number): never => {
  const problem = index === undefined ? { field, message } : inBatch({ field, message }, index)
  throw new QueueError('VALIDATION_ERROR', problem.message, { field: problem.field })
}

/**
 * The shared schema (src/shared/task-input.ts) checks the shape and every bound; then what it cannot
 * express: JSON byte sizes, a real calendar date, and the retry strategy's consistency.
 */
export function validateNewTask(
  input: NewTask,
  createdBy: string | null,
  defaultMaxAttempts: number,
  index?: number,
): Row {
  const problem = newTaskProblem(input)
  if (problem) invalid(problem.field, problem.message, index)
  const task = input as NewTaskInput
  const bad = (field: string, msg: string) => invalid(field, msg, index)

  const payload = task.payload ?? {}
  if (jsonSize(payload) > PAYLOAD_LIMIT_BYTES)
    bad('payload', `payload must be at most ${PAYLOAD_LIMIT_BYTES} bytes (1 MiB) as JSON.`)
  const metadata = task.metadata ?? {}
  if (jsonSize(metadata) > METADATA_LIMIT_BYTES)
    bad('metadata', `metadata must be at most ${METADATA_LIMIT_BYTES} bytes (64 KiB) as JSON.`)

  let maxAttempts = task.max_attempts ?? null
  let strategy: RetryStrategy | null = null
  if (task.retry_strategy !== undefined && task.retry_strategy !== null) {
    // A strategy without max_attempts takes the task's, else the configured default.
    const parsed = parseRetryStrategy(task.retry_strategy, maxAttempts ?? defaultMaxAttempts)
    if (!parsed.ok) bad('retry_strategy', parsed.error)
    else strategy = parsed.value
    maxAttempts ??= task.retry_strategy.max_attempts ?? null
  }

  let scheduledAt: string | null = null
  if (task.scheduled_at !== undefined && task.scheduled_at !== null) {
    const when = parseIsoDateTime(task.scheduled_at)
    if (!when) bad('scheduled_at', newTaskSentence('scheduled_at', task.scheduled_at))
    scheduledAt = when!.toISOString()
  }

  return {
    id: uuidv7(),
    task_type: task.task_type,
    priority: task.priority ?? 'normal',
    payload,
    metadata,
    retry_strategy: strategy,
    max_attempts: maxAttempts,
    scheduled_at: scheduledAt,
    timeout_ms: task.timeout_ms ?? null,
    idempotency_key: task.idempotency_key ?? null,
    created_by: createdBy,
  }
}

function jsonSize(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v) ?? '')
}

async function findByKeys(
  sql: Sql | TransactionSql,
  createdBy: string | null,
  keys: string[],
): Promise<Task[]> {
  if (keys.length === 0) return []
  return sql<Task[]>`
    SELECT * FROM tasks
    WHERE idempotency_key = ANY(${keys}::text[])
      AND coalesce(created_by, '00000000-0000-0000-0000-000000000000'::uuid)
        = coalesce(${createdBy}::uuid, '00000000-0000-0000-0000-000000000000'::uuid)`
}

async function unregisteredTypes(sql: Sql | TransactionSql, types: string[]): Promise<string[]> {
  const found = await sql<{ name: string }[]>`
    SELECT name FROM task_types WHERE name = ANY(${types}::text[]) AND is_active`
  const ok = new Set(found.map((r) => r.name))
  return types.filter((t) => !ok.has(t))
}

function notRegistered(types: string[]): QueueError {
  const list = types.map((t) => `"${t.slice(0, 63)}"`).join(', ')
  return new QueueError(
    'TASK_TYPE_NOT_REGISTERED',
    `Task type ${list} is not registered or not active: start a worker that handles it (workers register their types at start), or register it with POST /api/v1/tasks/types.`,
    { task_types: types },
  )
}

export interface EnqueueResult {
  task: Task
  /** false when an idempotency key matched an existing task, which is returned instead. */
  created: boolean
}

export async function enqueue(
  sql: Sql,
  input: NewTask,
  opts: { createdBy: string | null; defaults: EnqueueDefaults },
): Promise<EnqueueResult> {
  const row = validateNewTask(input, opts.createdBy, opts.defaults.maxAttempts)
  await checkPayloads(sql, [row], false)
  const task = await insertCoalesced(sql, row, opts.defaults)
  if (task) return { task, created: true }
  if (row.idempotency_key) {
    const [existing] = await findByKeys(sql, opts.createdBy, [row.idempotency_key])
    if (existing) return { task: existing, created: false }
  }
  throw notRegistered([row.task_type])
}

/** Up to BATCH_LIMIT tasks in one transaction: all are created (or matched by key), or none. */
export async function enqueueBatch(
  sql: Sql,
  inputs: NewTask[],
  opts: { createdBy: string | null; defaults: EnqueueDefaults },
): Promise<EnqueueResult[]> {
  const size = batchSizeProblem(inputs)
  if (size) throw new QueueError('VALIDATION_ERROR', size, { field: 'tasks' })
  const rows = inputs.map((t, i) => validateNewTask(t, opts.createdBy, opts.defaults.maxAttempts, i))
  const keys = rows.map((r) => r.idempotency_key).filter((k): k is string => k !== null)
  if (new Set(keys).size !== keys.length)
    throw new QueueError('VALIDATION_ERROR', 'Two tasks in the batch share an idempotency_key.', {
      field: 'tasks',
    })
  await checkPayloads(sql, rows, true)

  if (keys.length === 0) {
    // Nothing to match against earlier tasks: one statement, the answer built from what was sent.
    const made = await insertBatch(sql, rows, opts.defaults)
    if ('missing' in made) throw notRegistered(made.missing)
    return made.tasks.map((task) => ({ task, created: true }))
  }
  return sql.begin(async (tx) => {
    const missing = await unregisteredTypes(tx, [...new Set(rows.map((r) => r.task_type))])
    if (missing.length > 0) throw notRegistered(missing)
    const inserted = await insertRows(tx, rows, opts.defaults)
    if (inserted.length === rows.length) return inserted.map((task) => ({ task, created: true }))
    // Some keys matched earlier tasks: answer in input order, old ones marked created: false.
    const made = new Map(inserted.map((t) => [t.id, t]))
    const old = await findByKeys(
      tx,
      opts.createdBy,
      rows.filter((r) => r.idempotency_key !== null && !made.has(r.id)).map((r) => r.idempotency_key!),
    )
    const oldByKey = new Map(old.map((t) => [t.idempotency_key!, t]))
    return rows.map((r) => {
      const task = made.get(r.id)
      if (task) return { task, created: true }
      const found = r.idempotency_key === null ? undefined : oldByKey.get(r.idempotency_key)
      // A type deactivated between the check and the insert: refuse the whole batch.
      if (!found) throw notRegistered([r.task_type])
      return { task: found, created: false }
    })
  }) as Promise<EnqueueResult[]>
}

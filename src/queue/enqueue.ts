// Enqueue: validation of what callers send, then one INSERT (src/queue/insert.ts) that also checks
// the type is registered and active and resolves the retry strategy (task's, else the type's, else
// the configured default) — single enqueues share statements (src/queue/coalesce.ts), a batch is
// one statement (without idempotency keys not even a transaction: src/queue/insert.ts insertBatch).
import type { Sql, TransactionSql } from '../db/connect'
import { insertCoalesced } from './coalesce'
import { parseIsoDateTime } from './dates'
import { QueueError } from './errors'
import { uuidv7 } from './ids'
import { type EnqueueDefaults, insertBatch, insertRows, type Row } from './insert'
import { checkPayloads } from './payload-check'
import { parseRetryStrategy, type RetryStrategy } from './retry'
import { isPriority, type Priority } from './states'
import type { Task } from './task'

export type { EnqueueDefaults, Row } from './insert'

export const PAYLOAD_LIMIT_BYTES = 1024 * 1024
export const METADATA_LIMIT_BYTES = 64 * 1024
export const BATCH_LIMIT = 1000

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
  const at = index === undefined ? field : `tasks[${index}].${field}`
  throw new QueueError('VALIDATION_ERROR', index === undefined ? message : `tasks[${index}]: ${message}`, {
    field: at,
  })
}

export function validateNewTask(
  input: NewTask,
  createdBy: string | null,
  _now: Date,
  defaultMaxAttempts: number,
  index?: number,
): Row {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    invalid('body', 'A task must be a JSON object.', index)
  const bad = (field: string, msg: string) => invalid(field, msg, index)

  if (typeof input.task_type !== 'string' || input.task_type.length === 0)
    bad('task_type', 'task_type is required and must be a string.')
  if (input.task_type.length > 63) bad('task_type', 'task_type must be at most 63 characters.')

  const payload = input.payload === undefined ? {} : input.payload
  if (!payload || typeof payload !== 'object' || Array.isArray(payload))
    bad('payload', 'payload must be a JSON object.')
  if (jsonSize(payload) > PAYLOAD_LIMIT_BYTES)
    bad('payload', `payload must be at most ${PAYLOAD_LIMIT_BYTES} bytes (1 MiB) as JSON.`)

  const metadata = input.metadata === undefined || input.metadata === null ? {} : input.metadata
  if (typeof metadata !== 'object' || Array.isArray(metadata))
    bad('metadata', 'metadata must be a JSON object.')
  if (jsonSize(metadata) > METADATA_LIMIT_BYTES)
    bad('metadata', `metadata must be at most ${METADATA_LIMIT_BYTES} bytes (64 KiB) as JSON.`)

  const priority = input.priority ?? 'normal'
  if (!isPriority(priority))
    bad(
      'priority',
      `priority must be one of low, normal, high, critical; got ${JSON.stringify(priority).slice(0, 40)}.`,
    )

  let maxAttempts: number | null = null
  if (input.max_attempts !== undefined && input.max_attempts !== null) {
    const m = input.max_attempts
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > 1000)
      bad('max_attempts', 'max_attempts must be a whole number from 1 to 1000.')
    maxAttempts = m as number
  }

  let strategy: RetryStrategy | null = null
  if (input.retry_strategy !== undefined && input.retry_strategy !== null) {
    // A strategy without max_attempts takes the task's, else the configured default.
    const parsed = parseRetryStrategy(input.retry_strategy, maxAttempts ?? defaultMaxAttempts)
    if (!parsed.ok) bad('retry_strategy', parsed.error)
    else strategy = parsed.value
    const given = (input.retry_strategy as { max_attempts?: unknown }).max_attempts
    if (maxAttempts === null && typeof given === 'number') maxAttempts = given
  }

  let scheduledAt: string | null = null
  if (input.scheduled_at !== undefined && input.scheduled_at !== null) {
    const s = input.scheduled_at
    const when = typeof s === 'string' ? parseIsoDateTime(s) : null
    if (!when)
      bad(
        'scheduled_at',
        'scheduled_at must be an ISO 8601 date-time on a real calendar day, such as 2030-01-31T12:00:00Z.',
      )
    scheduledAt = when!.toISOString()
  }

  let timeoutMs: number | null = null
  if (input.timeout_ms !== undefined && input.timeout_ms !== null) {
    const t = input.timeout_ms
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 86_400_000)
      bad('timeout_ms', 'timeout_ms must be a whole number of milliseconds from 1 to 86400000 (one day).')
    timeoutMs = t as number
  }

  let key: string | null = null
  if (input.idempotency_key !== undefined && input.idempotency_key !== null) {
    if (
      typeof input.idempotency_key !== 'string' ||
      input.idempotency_key.length < 1 ||
      input.idempotency_key.length > 255
    )
      bad('idempotency_key', 'idempotency_key must be a string of 1 to 255 characters.')
    key = input.idempotency_key as string
  }

  return {
    id: uuidv7(),
    task_type: input.task_type,
    priority: priority as Priority,
    payload,
    metadata: metadata as Record<string, unknown>,
    retry_strategy: strategy,
    max_attempts: maxAttempts,
    scheduled_at: scheduledAt,
    timeout_ms: timeoutMs,
    idempotency_key: key,
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
  const row = validateNewTask(input, opts.createdBy, new Date(), opts.defaults.maxAttempts)
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
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw new QueueError('VALIDATION_ERROR', 'tasks must be a non-empty array.', { field: 'tasks' })
  if (inputs.length > BATCH_LIMIT)
    throw new QueueError(
      'VALIDATION_ERROR',
      `A batch holds at most ${BATCH_LIMIT} tasks; got ${inputs.length}.`,
      { field: 'tasks' },
    )
  const now = new Date()
  const rows = inputs.map((t, i) => validateNewTask(t, opts.createdBy, now, opts.defaults.maxAttempts, i))
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

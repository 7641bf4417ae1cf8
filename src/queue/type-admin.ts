// The registry as the API shows and changes it: each type with its live workers and breaker, and
// the admin's patch (pause, breaker thresholds, timeout, default strategy). A patch is followed by
// a NOTIFY on the control channel so every worker re-reads its types at once, not at its next tick.
import type { Sql } from '../db/connect'
import { QueueError } from './errors'
import type { TaskTypeRow } from './registry'
import type { RetryStrategy } from './retry'
import { LIVE_WORKER } from './workers'

export interface TypeOverview extends TaskTypeRow {
  live_workers: string[]
}

/** Every type, or only the one named. */
export async function typesOverview(sql: Sql, only?: string): Promise<TypeOverview[]> {
  return sql<TypeOverview[]>`
    SELECT tt.*, coalesce(w.ids, '{}') AS live_workers
    FROM task_types tt
    LEFT JOIN LATERAL (
      SELECT array_agg(id ORDER BY id) AS ids FROM workers
      WHERE tt.name = ANY(task_types) AND ${sql.unsafe(LIVE_WORKER)}
    ) w ON true
    WHERE ${only === undefined} OR tt.name = ${only ?? ''}
    ORDER BY tt.name`
}

export async function typeOverview(sql: Sql, name: string): Promise<TypeOverview> {
  const [row] = await typesOverview(sql, name)
  if (!row) throw new QueueError('TASK_TYPE_NOT_FOUND', `Task type "${name.slice(0, 63)}" is not registered.`)
  return row
}

export interface TypePatch {
  paused?: boolean
  is_active?: boolean
  description?: string
  /** null clears it (the handler's or configured default applies). */
  timeout_ms?: number | null
  retry_strategy?: RetryStrategy | null
  breaker_failure_threshold?: number
  breaker_success_threshold?: number
  breaker_cooldown_ms?: number
  /** 'closed' resets the breaker by hand. */
  breaker_state?: 'closed'
  /** Seconds; 0 keeps for ever, null returns to the configured default. */
  retention_completed_secs?: number | null
  retention_cancelled_secs?: number | null
  retention_failed_secs?: number | null
}

export async function patchType(sql: Sql, name: string, p: TypePatch): Promise<TaskTypeRow> {
  const has = (k: keyof TypePatch) => p[k] !== undefined
  const [row] = await sql<TaskTypeRow[]>`
    UPDATE task_types SET
      paused = CASE WHEN ${has('paused')} THEN ${p.paused ?? false} ELSE paused END,
      is_active = CASE WHEN ${has('is_active')} THEN ${p.is_active ?? true} ELSE is_active END,
      description = CASE WHEN ${has('description')} THEN ${p.description ?? ''} ELSE description END,
      timeout_ms = CASE WHEN ${has('timeout_ms')} THEN ${p.timeout_ms ?? null}::int ELSE timeout_ms END,
      retry_strategy = CASE WHEN ${has('retry_strategy')} THEN ${p.retry_strategy ? sql.json(p.retry_strategy as never) : null}::jsonb ELSE retry_strategy END,
      breaker_failure_threshold = coalesce(${p.breaker_failure_threshold ?? null}::int, breaker_failure_threshold),
      breaker_success_threshold = coalesce(${p.breaker_success_threshold ?? null}::int, breaker_success_threshold),
      breaker_cooldown_ms = coalesce(${p.breaker_cooldown_ms ?? null}::int, breaker_cooldown_ms),
      breaker_state = CASE WHEN ${p.breaker_state === 'closed'} THEN 'closed' ELSE breaker_state END,
      breaker_failures = CASE WHEN ${p.breaker_state === 'closed'} THEN 0 ELSE breaker_failures END,
      breaker_successes = CASE WHEN ${p.breaker_state === 'closed'} THEN 0 ELSE breaker_successes END,
      breaker_opened_at = CASE WHEN ${p.breaker_state === 'closed'} THEN NULL ELSE breaker_opened_at END,
      retention_completed_secs = CASE WHEN ${has('retention_completed_secs')} THEN ${p.retention_completed_secs ?? null}::int ELSE retention_completed_secs END,
      retention_cancelled_secs = CASE WHEN ${has('retention_cancelled_secs')} THEN ${p.retention_cancelled_secs ?? null}::int ELSE retention_cancelled_secs END,
      retention_failed_secs = CASE WHEN ${has('retention_failed_secs')} THEN ${p.retention_failed_secs ?? null}::int ELSE retention_failed_secs END,
      updated_at = now()
    WHERE name = ${name}
    RETURNING *`
  if (!row) throw new QueueError('TASK_TYPE_NOT_FOUND', `Task type "${name.slice(0, 63)}" is not registered.`)
  return row
}

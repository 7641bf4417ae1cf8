// The task type registry and its breakers. Workers upsert their types at start (which never resets
// an admin's settings: active flag, pause, thresholds, timeout, default strategy); the API lists
// and patches.
import type { Sql } from '../db/connect'
import {
  type Breaker,
  type BreakerSettings,
  type BreakerState,
  onFailure,
  onSuccess,
  toHalfOpen,
} from './breaker'
import { QueueError } from './errors'
import { compilePayloadSchema } from './json-schema'
import { forgetSchemas } from './payload-check'
import type { RetryStrategy } from './retry'

export interface TypeDefinition {
  name: string
  description: string
  payload_schema?: unknown
  example_payload?: unknown
}

export interface TaskTypeRow {
  name: string
  description: string
  is_active: boolean
  paused: boolean
  timeout_ms: number | null
  retry_strategy: RetryStrategy | null
  payload_schema: unknown
  example_payload: unknown
  breaker_state: BreakerState
  breaker_failures: number
  breaker_successes: number
  breaker_opened_at: Date | null
  breaker_failure_threshold: number
  breaker_success_threshold: number
  breaker_cooldown_ms: number
  /** Per-type retention overrides (migrations/0008_retention.sql); null = the configured default. */
  retention_completed_secs?: number | null
  retention_cancelled_secs?: number | null
  retention_failed_secs?: number | null
  created_at: Date
  updated_at: Date
}

export const TYPE_NAME = /^[a-z][a-z0-9_]{0,62}$/

export function breakerOf(row: TaskTypeRow): Breaker {
  return {
    state: row.breaker_state,
    failures: row.breaker_failures,
    successes: row.breaker_successes,
    openedAt: row.breaker_opened_at,
  }
}

export function breakerSettingsOf(row: TaskTypeRow): BreakerSettings {
  return {
    failureThreshold: row.breaker_failure_threshold,
    successThreshold: row.breaker_success_threshold,
    cooldownMs: row.breaker_cooldown_ms,
  }
}

export async function upsertTypes(sql: Sql, defs: TypeDefinition[]): Promise<TaskTypeRow[]> {
  for (const d of defs)
    if (!TYPE_NAME.test(d.name))
      throw new QueueError(
        'VALIDATION_ERROR',
        `Task type name "${d.name.slice(0, 80)}" must be 1-63 lowercase letters, digits or underscores, starting with a letter.`,
        { field: 'task_type' },
      )
  for (const d of defs)
    if (d.payload_schema !== undefined && d.payload_schema !== null)
      try {
        compilePayloadSchema(d.payload_schema)
      } catch (err) {
        throw new QueueError(
          'VALIDATION_ERROR',
          `The payload_schema of task type "${d.name}" is ${err instanceof Error ? err.message : String(err)}.`,
          { field: 'payload_schema' },
        )
      }
  if (defs.length === 0) return []
  const rows = defs.map((d) => ({
    name: d.name,
    description: d.description,
    payload_schema: d.payload_schema ?? null,
    example_payload: d.example_payload ?? null,
  }))
  const written = await sql<TaskTypeRow[]>`
    INSERT INTO task_types (name, description, payload_schema, example_payload)
    SELECT name, description, payload_schema, example_payload
    FROM jsonb_to_recordset(${sql.json(rows as never)})
      AS r(name text, description text, payload_schema jsonb, example_payload jsonb)
    ORDER BY name
    ON CONFLICT (name) DO UPDATE SET
      description = CASE WHEN excluded.description = '' THEN task_types.description ELSE excluded.description END,
      payload_schema = coalesce(excluded.payload_schema, task_types.payload_schema),
      example_payload = coalesce(excluded.example_payload, task_types.example_payload),
      updated_at = now()
    RETURNING *`
  // After the commit: an enqueue in between would otherwise cache the old schema again.
  forgetSchemas(defs.map((d) => d.name))
  return written
}

export async function readTypes(sql: Sql, names?: readonly string[]): Promise<TaskTypeRow[]> {
  if (names)
    return sql<
      TaskTypeRow[]
    >`SELECT * FROM task_types WHERE name = ANY(${names as string[]}::text[]) ORDER BY name`
  return sql<TaskTypeRow[]>`SELECT * FROM task_types ORDER BY name`
}

/**
 * Applies one breaker event under a row lock, with the pure state machine of breaker.ts as the
 * only implementation of the rules. Returns the row and the state before, so callers can emit
 * breaker:changed. Runs only on failures and on the first success after one: never per task.
 */
export async function recordBreaker(
  sql: Sql,
  name: string,
  event: 'failure' | 'success' | 'probe',
): Promise<{ row: TaskTypeRow; before: BreakerState } | null> {
  return sql.begin(async (tx) => {
    const [row] = await tx<TaskTypeRow[]>`SELECT * FROM task_types WHERE name = ${name} FOR UPDATE`
    if (!row) return null
    const b = breakerOf(row)
    const s = breakerSettingsOf(row)
    const next =
      event === 'failure'
        ? onFailure(b, s, new Date())
        : event === 'success'
          ? onSuccess(b, s)
          : toHalfOpen(b)
    if (next.state === b.state && next.failures === b.failures && next.successes === b.successes)
      return { row, before: b.state }
    const [updated] = await tx<TaskTypeRow[]>`
      UPDATE task_types SET breaker_state = ${next.state}, breaker_failures = ${next.failures},
        breaker_successes = ${next.successes}, breaker_opened_at = ${next.openedAt}, updated_at = now()
      WHERE name = ${name} RETURNING *`
    return { row: updated!, before: b.state }
  }) as Promise<{ row: TaskTypeRow; before: BreakerState } | null>
}

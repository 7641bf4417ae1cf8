// Payloads are checked at creation against their type's schema, so a bad payload is a 400 naming
// the field and no row is written (it used to be accepted and fail at run time). The schemas live
// in task_types; reading them on every enqueue would add a round trip to the hot path, so each
// process keeps the compiled check per type for a short while. Registering a type in this process
// forgets its entry at once; a schema changed by another process is seen within SCHEMA_TTL_MS.
import type { Sql, TransactionSql } from '../db/connect'
import type { Row } from './enqueue'
import { QueueError } from './errors'
import { compilePayloadSchema, type PayloadCheck } from './json-schema'

export const SCHEMA_TTL_MS = 2000

interface Entry {
  check: PayloadCheck | null
  readAt: number
}

const cache = new Map<string, Entry>()

/** Called after a type is registered or changed in this process. */
export function forgetSchemas(names: readonly string[]): void {
  for (const n of names) cache.delete(n)
}

async function checksFor(sql: Sql | TransactionSql, types: string[]): Promise<Map<string, Entry>> {
  const now = Date.now()
  const stale = types.filter((t) => {
    const e = cache.get(t)
    return !e || now - e.readAt > SCHEMA_TTL_MS
  })
  if (stale.length > 0) {
    const rows = await sql<{ name: string; payload_schema: unknown }[]>`
      SELECT name, payload_schema FROM task_types WHERE name = ANY(${stale}::text[])`
    for (const r of rows) {
      let check: PayloadCheck | null = null
      try {
        if (r.payload_schema) check = compilePayloadSchema(r.payload_schema)
      } catch {
        // Stored before schemas were checked at registration: accept payloads as before.
      }
      cache.set(r.name, { check, readAt: now })
    }
  }
  return cache
}

/** Throws VALIDATION_ERROR naming the first bad field (`payload.x`, or `tasks[3].payload.x`). */
export async function checkPayloads(
  sql: Sql | TransactionSql,
  rows: readonly Row[],
  batch: boolean,
): Promise<void> {
  const entries = await checksFor(sql, [...new Set(rows.map((r) => r.task_type))])
  rows.forEach((row, i) => {
    const bad = entries.get(row.task_type)?.check?.(row.payload)
    if (!bad) return
    const field = batch ? `tasks[${i}].${bad.field}` : bad.field
    throw new QueueError(
      'VALIDATION_ERROR',
      `${batch ? `tasks[${i}]: ` : ''}${bad.field} ${bad.message} (the ${row.task_type} payload schema).`,
      { field },
    )
  })
}

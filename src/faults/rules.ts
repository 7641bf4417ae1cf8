// Fault rules: what an admin asks the workers to break, stored in chaos_faults so that every worker
// process sees rules created through any API process. The API calls create/list/delete; workers
// read activeFaults() into a cache (src/faults/inject.ts), never once per task.
import type { Sql } from '../db/connect'
import { sendControl } from '../queue/notify'
import { ChaosError } from './errors'

export const FAULT_KINDS = ['fail', 'latency', 'hang', 'crash'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export interface FaultRule {
  id: string
  /** A registered type, or '*' for every type. */
  task_type: string
  kind: FaultKind
  /** Chance per attempt, (0, 1]. */
  probability: number
  /** fail only: straight to the dead letter queue instead of a retry. */
  permanent: boolean
  /** latency only. */
  latency_ms: number | null
  /** Applies only to tasks whose metadata holds these keys with these values. */
  match: Record<string, unknown> | null
  message: string | null
  created_at: Date
  expires_at: Date
  created_by: string | null
}

export interface NewFault {
  task_type?: unknown
  kind?: unknown
  probability?: unknown
  permanent?: unknown
  latency_ms?: unknown
  match?: unknown
  message?: unknown
  /** Seconds from now; default 600 (10 minutes), at most a day, so a forgotten rule dies by itself. */
  expires_in_secs?: unknown
  expires_at?: unknown
}

export const DEFAULT_EXPIRY_SECS = 600
export const MAX_EXPIRY_SECS = 86_400

const bad = (field: string, message: string): never => {
  throw new ChaosError('VALIDATION_ERROR', message, { field })
}

/** Checks untrusted input; every refusal is a sentence naming the field. */
export function validateFault(
  input: NewFault,
  now = Date.now(),
): Omit<FaultRule, 'id' | 'created_at' | 'created_by'> {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    bad('body', 'A fault rule must be a JSON object.')
  const { task_type, kind } = input
  if (typeof task_type !== 'string' || !(task_type === '*' || /^[a-z][a-z0-9_]{0,62}$/.test(task_type)))
    bad('task_type', 'task_type must be a registered task type name, or "*" for every type.')
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind))
    bad('kind', `kind must be one of ${FAULT_KINDS.join(', ')}.`)
  const probability = input.probability ?? 1
  if (typeof probability !== 'number' || !(probability > 0 && probability <= 1))
    bad('probability', 'probability must be a number greater than 0 and at most 1.')
  const permanent = input.permanent ?? false
  if (typeof permanent !== 'boolean') bad('permanent', 'permanent must be true or false.')
  if (permanent && kind !== 'fail') bad('permanent', 'permanent applies only to a fail rule.')
  let latency: number | null = null
  if (kind === 'latency') {
    const l = input.latency_ms
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 1 || l > 3_600_000)
      bad(
        'latency_ms',
        'latency_ms is required for a latency rule: a whole number of milliseconds from 1 to 3600000.',
      )
    latency = l as number
  } else if (input.latency_ms !== undefined && input.latency_ms !== null)
    bad('latency_ms', 'latency_ms applies only to a latency rule.')
  const match = input.match ?? null
  if (
    match !== null &&
    (typeof match !== 'object' || Array.isArray(match) || JSON.stringify(match).length > 4096)
  )
    bad('match', 'match must be a JSON object (at most 4 KiB) of metadata keys and values.')
  const message = input.message ?? null
  if (message !== null && (typeof message !== 'string' || message.length > 500))
    bad('message', 'message must be a string of at most 500 characters.')
  let expiresAt: Date
  if (input.expires_at !== undefined) {
    const at = typeof input.expires_at === 'string' ? new Date(input.expires_at) : null
    if (
      !at ||
      Number.isNaN(at.getTime()) ||
      at.getTime() <= now ||
      at.getTime() > now + MAX_EXPIRY_SECS * 1000
    )
      bad('expires_at', 'expires_at must be an ISO 8601 time in the future, at most a day away.')
    expiresAt = at as Date
  } else {
    const secs = input.expires_in_secs ?? DEFAULT_EXPIRY_SECS
    if (typeof secs !== 'number' || !(secs > 0) || secs > MAX_EXPIRY_SECS)
      bad(
        'expires_in_secs',
        `expires_in_secs must be a number of seconds greater than 0 and at most ${MAX_EXPIRY_SECS}.`,
      )
    expiresAt = new Date(now + (secs as number) * 1000)
  }
  return {
    task_type: task_type as string,
    kind: kind as FaultKind,
    probability: probability as number,
    permanent: permanent as boolean,
    latency_ms: latency,
    match: match as Record<string, unknown> | null,
    message: message as string | null,
    expires_at: expiresAt,
  }
}

/** Tells every worker to reload its rules now (they also reload every few seconds). */
export async function announceFaults(sql: Sql): Promise<void> {
  await sendControl(sql, { kind: 'faults' })
}

export async function createFault(sql: Sql, input: NewFault, createdBy: string | null): Promise<FaultRule> {
  const f = validateFault(input)
  if (f.task_type !== '*') {
    const [known] = await sql`SELECT 1 FROM task_types WHERE name = ${f.task_type}`
    if (!known)
      throw new ChaosError(
        'TASK_TYPE_NOT_REGISTERED',
        `Task type "${f.task_type}" is not registered; a worker registers its types when it starts.`,
        {
          field: 'task_type',
        },
      )
  }
  const [row] = await sql<FaultRule[]>`
    INSERT INTO chaos_faults (task_type, kind, probability, permanent, latency_ms, match, message, expires_at, created_by)
    VALUES (${f.task_type}, ${f.kind}, ${f.probability}, ${f.permanent}, ${f.latency_ms},
      ${f.match === null ? null : sql.json(f.match as never)}, ${f.message}, ${f.expires_at}, ${createdBy})
    RETURNING *`
  await announceFaults(sql)
  return row!
}

/** Rules still in force, oldest first. Expired rules are deleted here, on the way. */
export async function listFaults(sql: Sql): Promise<FaultRule[]> {
  await sql`DELETE FROM chaos_faults WHERE expires_at <= now()`
  return activeFaults(sql)
}

/** What workers load: a read only, so a worker never contends with the API for the table. */
export async function activeFaults(sql: Sql): Promise<FaultRule[]> {
  return sql<FaultRule[]>`SELECT * FROM chaos_faults WHERE expires_at > now() ORDER BY created_at, id`
}

export async function deleteFault(sql: Sql, id: string): Promise<void> {
  const rows = await sql`DELETE FROM chaos_faults WHERE id = ${id} RETURNING id`
  if (rows.length === 0) throw new ChaosError('FAULT_NOT_FOUND', `No fault rule with id ${id}.`)
  await announceFaults(sql)
}

/** Deletes every rule (the scenarios clean up with it). Returns how many there were. */
export async function clearFaults(sql: Sql): Promise<number> {
  const rows = await sql`DELETE FROM chaos_faults RETURNING id`
  await announceFaults(sql)
  return rows.length
}

// The reads behind "why is this task not running?" (why.ts turns them into reasons). Each one reads
// the same rows the claim and the rescue act on, at the database's own clock, so the answer holds
// for the moment it was asked; nothing here writes or locks.
import type { Sql } from '../db/connect'
import type { TaskStatus } from './states'
import type { Scope, Task } from './task'
import { LIVE_WORKER } from './workers'

/** What the claim sees of one task type: the registry row and the live workers that handle it. */
export interface TypeFacts {
  name: string
  registered: boolean
  is_active: boolean
  paused: boolean
  paused_since: Date | null
  breaker_state: 'closed' | 'open' | 'half_open'
  breaker_failures: number
  breaker_failure_threshold: number
  breaker_opened_at: Date | null
  breaker_cooldown_ms: number
  /** Live workers (heartbeat within their lease, not stopped) that list this type. */
  workers: { id: string; concurrency: number; running: number; task_types: string[] }[]
  /** Running tasks of this type (a half-open breaker lets one probe through at a time). */
  running_of_type: number
}

export async function typeFacts(sql: Sql, types: string[]): Promise<Map<string, TypeFacts>> {
  if (types.length === 0) return new Map()
  // Slots are per worker, shared by all its types: a worker's free slots are its concurrency minus
  // every task it holds, whatever their type.
  const rows = await sql<TypeFacts[]>`
    WITH live AS (
      SELECT w.id, w.concurrency, w.task_types,
        (SELECT count(*)::int FROM tasks t WHERE t.status = 'running' AND t.locked_by = w.id) AS running
      FROM workers w WHERE ${sql.unsafe(LIVE_WORKER)}
    )
    SELECT n.name, (tt.name IS NOT NULL) AS registered,
      coalesce(tt.is_active, false) AS is_active, coalesce(tt.paused, false) AS paused,
      CASE WHEN tt.paused THEN tt.updated_at END AS paused_since,
      coalesce(tt.breaker_state, 'closed') AS breaker_state,
      coalesce(tt.breaker_failures, 0) AS breaker_failures,
      coalesce(tt.breaker_failure_threshold, 0) AS breaker_failure_threshold,
      tt.breaker_opened_at, coalesce(tt.breaker_cooldown_ms, 0) AS breaker_cooldown_ms,
      coalesce((SELECT json_agg(json_build_object('id', l.id, 'concurrency', l.concurrency, 'running', l.running,
                                                  'task_types', l.task_types)
                                ORDER BY l.id)
                FROM live l WHERE n.name = ANY(l.task_types)), '[]') AS workers,
      (SELECT count(*)::int FROM tasks t WHERE t.status = 'running' AND t.task_type = n.name) AS running_of_type
    FROM unnest(${types}::text[]) AS n(name)
    LEFT JOIN task_types tt ON tt.name = n.name`
  return new Map(rows.map((r) => [r.name, r]))
}

/**
 * Ready tasks that the same workers would claim before this one, in the claim's own order
 * (priority DESC, run_at, id); tasks of paused, inactive or tripped types are not counted.
 */
export interface Ahead {
  higher_priority: number
  same_priority_older: number
}

export async function tasksAhead(sql: Sql, task: Task, types: string[]): Promise<Ahead> {
  const [row] = await sql<Ahead[]>`
    SELECT
      count(*) FILTER (WHERE priority > ${task.priority}::task_priority)::int AS higher_priority,
      count(*) FILTER (WHERE priority = ${task.priority}::task_priority)::int AS same_priority_older
    FROM tasks
    WHERE status IN ('pending', 'scheduled', 'retrying') AND run_at <= now()
      AND task_type = ANY(${types}::text[]) AND id <> ${task.id}
      AND task_type IN (SELECT name FROM task_types WHERE is_active AND NOT paused AND breaker_state = 'closed')
      AND (priority > ${task.priority}::task_priority
           OR (priority = ${task.priority}::task_priority AND (run_at, id) < (${task.run_at}, ${task.id}::uuid)))`
  return row!
}

/** Running tasks of one owner (for the per-user running cap). */
export async function runningOf(sql: Sql, owner: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM tasks WHERE status = 'running' AND created_by = ${owner}`
  return row!.n
}

export async function workerHeartbeat(
  sql: Sql,
  id: string,
): Promise<{ heartbeat_at: Date; alive: boolean } | null> {
  const [row] = await sql<{ heartbeat_at: Date; alive: boolean }[]>`
    SELECT heartbeat_at, (${sql.unsafe(LIVE_WORKER)}) AS alive FROM workers WHERE id = ${id}`
  return row ?? null
}

export async function dbNow(sql: Sql): Promise<Date> {
  const [row] = await sql<{ now: Date }[]>`SELECT now() AS now`
  return row!.now
}

/**
 * Unfinished tasks as the list badges and the overview need them: one row per task for the ids
 * given, else one row per group that shares a headline (type, status, due or not, cancel asked,
 * and the owner only when a per-user cap applies), with its size. Grouping keeps the overview's
 * breakdown one small aggregate however many tasks wait.
 */
export interface WaitingRow {
  id: string | null
  task_type: string
  status: TaskStatus
  /** The earliest run_at of the group. */
  run_at: Date
  created_by: string | null
  cancel_requested: boolean
  n: number
}

export async function unfinishedTasks(
  sql: Sql,
  scope: Scope,
  opts: { ids?: string[]; byOwner?: boolean },
): Promise<WaitingRow[]> {
  const where = sql`status IN ('pending', 'scheduled', 'retrying', 'running')
      AND (${scope.userId ?? null}::uuid IS NULL OR created_by = ${scope.userId ?? null}::uuid)`
  if (opts.ids)
    return sql<WaitingRow[]>`
      SELECT id, task_type, status, run_at, created_by, cancel_requested, 1 AS n FROM tasks
      WHERE ${where} AND id = ANY(${opts.ids}::uuid[])`
  return sql<WaitingRow[]>`
    SELECT NULL AS id, task_type, status, min(run_at) AS run_at, cancel_requested,
      CASE WHEN ${opts.byOwner ?? false} THEN created_by END AS created_by, count(*)::int AS n
    FROM tasks WHERE ${where}
    GROUP BY task_type, status, run_at > now(), cancel_requested, 6`
}

/** Running tasks per owner, for the owners given. */
export async function runningByOwner(sql: Sql, owners: string[]): Promise<Map<string, number>> {
  if (owners.length === 0) return new Map()
  const rows = await sql<{ owner: string; n: number }[]>`
    SELECT created_by AS owner, count(*)::int AS n FROM tasks
    WHERE status = 'running' AND created_by = ANY(${owners}::uuid[]) GROUP BY created_by`
  return new Map(rows.map((r) => [r.owner, r.n]))
}

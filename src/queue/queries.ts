// The read side of tasks for the API: filtered lists with a total, and counts per status and type.
// Ownership is a WHERE clause like any other filter, applied before LIMIT/OFFSET, so a user's page
// 2 is their own second page (tasks_owner_idx serves it), never an admin page filtered afterwards.
import type { Sql } from '../db/connect'
import type { Priority, TaskStatus } from './states'
import { TASK_STATUSES } from './states'
import type { Scope, Task } from './task'

export interface TaskFilter {
  status?: TaskStatus[]
  task_type?: string[]
  priority?: Priority[]
  created_after?: Date
  created_before?: Date
  /** Substring of the id, type, last error or metadata (case-insensitive). */
  q?: string
}

export const LIST_DEFAULT_LIMIT = 50
export const LIST_MAX_LIMIT = 1000

/**
 * The WHERE clause for a filter and a scope; also used by the dead-letter bulk actions. Enum arrays
 * are sent as text[] (see insertRows).
 */
export function whereTasks(sql: Sql, f: TaskFilter, scope: Scope) {
  const like = f.q === undefined ? null : `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  return sql`
    (${scope.userId ?? null}::uuid IS NULL OR created_by = ${scope.userId ?? null}::uuid)
    AND (${f.status ?? null}::text[]::task_status[] IS NULL OR status = ANY(${f.status ?? null}::text[]::task_status[]))
    AND (${f.task_type ?? null}::text[] IS NULL OR task_type = ANY(${f.task_type ?? null}::text[]))
    AND (${f.priority ?? null}::text[]::task_priority[] IS NULL OR priority = ANY(${f.priority ?? null}::text[]::task_priority[]))
    AND (${f.created_after ?? null}::timestamptz IS NULL OR created_at >= ${f.created_after ?? null}::timestamptz)
    AND (${f.created_before ?? null}::timestamptz IS NULL OR created_at < ${f.created_before ?? null}::timestamptz)
    AND (${like}::text IS NULL OR id::text ILIKE ${like} OR task_type ILIKE ${like}
         OR last_error ILIKE ${like} OR metadata::text ILIKE ${like})`
}

export async function listTasks(
  sql: Sql,
  f: TaskFilter,
  scope: Scope,
  page: { limit: number; offset: number },
): Promise<{ tasks: Task[]; total: number }> {
  const [tasks, [count]] = await Promise.all([
    sql<Task[]>`
      SELECT * FROM tasks WHERE ${whereTasks(sql, f, scope)}
      ORDER BY created_at DESC, id DESC
      LIMIT ${page.limit} OFFSET ${page.offset}`,
    sql<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks WHERE ${whereTasks(sql, f, scope)}`,
  ])
  return { tasks, total: count!.n }
}

export type StatusCounts = Record<TaskStatus, number> & { total: number }

export interface TaskStats extends StatusCounts {
  by_type: Record<string, StatusCounts>
}

function emptyCounts(): StatusCounts {
  return Object.fromEntries([['total', 0], ...TASK_STATUSES.map((s) => [s, 0])]) as StatusCounts
}

/** Counts per status and per type/status: the seed's flat shape plus by_type. */
export async function taskStats(sql: Sql, scope: Scope): Promise<TaskStats> {
  const rows = await sql<{ task_type: string; status: TaskStatus; n: number }[]>`
    SELECT task_type, status, count(*)::int AS n FROM tasks
    WHERE ${scope.userId ?? null}::uuid IS NULL OR created_by = ${scope.userId ?? null}::uuid
    GROUP BY task_type, status`
  const stats: TaskStats = { ...emptyCounts(), by_type: {} }
  for (const r of rows) {
    stats[r.status] += r.n
    stats.total += r.n
    stats.by_type[r.task_type] ??= emptyCounts()
    const t = stats.by_type[r.task_type]!
    t[r.status] += r.n
    t.total += r.n
  }
  return stats
}

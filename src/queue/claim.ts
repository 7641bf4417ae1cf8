import type { Sql } from '../db/connect'
import type { Task } from './task'

/**
 * Claims up to `limit` ready tasks of the given types for one worker, in one statement.
 * SKIP LOCKED lets many workers claim at once without waiting on each other's rows; the partial
 * index tasks_ready_idx is read in (priority DESC, run_at, id) order, so the scan stops after
 * `limit` rows. The claim starts the attempt (current_attempt + 1) and the lease; the statement
 * trigger records pending/retrying → running (and scheduled → pending → running) in task_events.
 * The commit does not wait for the WAL flush (why: "Async commit" in finish.ts).
 */
export async function claimTasks(
  sql: Sql,
  opts: { workerId: string; types: readonly string[]; limit: number; leaseMs: number },
): Promise<Task[]> {
  if (opts.limit < 1 || opts.types.length === 0) return []
  return sql<Task[]>`
    WITH picked AS (
      SELECT id FROM tasks
      WHERE status IN ('pending', 'scheduled', 'retrying')
        AND run_at <= now()
        AND task_type = ANY(${opts.types as string[]}::text[])
      ORDER BY priority DESC, run_at, id
      LIMIT ${opts.limit}
      FOR UPDATE SKIP LOCKED
    ), async AS (SELECT set_config('synchronous_commit', 'off', true))
    UPDATE tasks t SET
      status = 'running',
      locked_by = ${opts.workerId},
      lease_expires_at = now() + ${opts.leaseMs} * interval '1 millisecond',
      current_attempt = t.current_attempt + 1,
      started_at = now(),
      updated_at = now()
    FROM picked, async WHERE t.id = picked.id
    RETURNING t.*`
}

/** When the next scheduled or retrying task of these types is due (for the worker's wake-up timer). */
export async function nextRunAt(sql: Sql, types: readonly string[]): Promise<Date | null> {
  const [row] = await sql<{ at: Date | null }[]>`
    SELECT min(run_at) AS at FROM tasks
    WHERE status IN ('scheduled', 'retrying') AND run_at > now() AND task_type = ANY(${types as string[]}::text[])`
  return row?.at ?? null
}

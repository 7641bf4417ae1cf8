import type { Sql } from '../db/connect'

/**
 * Hands claimed tasks that never started back to the queue, uncounted: a worker claims ahead of
 * its free slots (STARTER__WORKER__PREFETCH), and what is still waiting in its local queue when it
 * drains, or whose type was paused or whose breaker opened while it waited, did not run. Each task
 * returns to what it was before the claim: the attempt number goes back down, and the status is
 * `retrying` if it had run before (a claim of attempt n > 1 can only come from retrying; a retry by
 * the user resets current_attempt to 0), else `pending`. run_at is untouched (the claim did not
 * move it; it is already due), so the task keeps its place in the ready index.
 *
 * Not finishTasks: an outcome there ends an attempt that happened; this undoes a claim. Both
 * running → pending and running → retrying are transitions the database's trigger allows
 * (migrations/0001_init.sql), so no migration is needed. Guarded like every worker write: only
 * rows still running under this worker's lock change.
 */
export async function handBack(sql: Sql, workerId: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return []
  const rows = await sql<{ id: string }[]>`
    UPDATE tasks SET
      status = CASE WHEN current_attempt > 1 THEN 'retrying' ELSE 'pending' END::task_status,
      current_attempt = current_attempt - 1,
      started_at = NULL,
      locked_by = NULL,
      lease_expires_at = NULL,
      updated_at = now()
    WHERE status = 'running' AND locked_by = ${workerId} AND id = ANY(${ids as string[]}::uuid[])
    RETURNING id`
  return rows.map((r) => r.id)
}

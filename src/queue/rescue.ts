import type { Sql } from '../db/connect'
import { failureOutcome } from './finish'
import { TERMINAL } from './states'
import type { Task } from './task'

export const WORKER_LOST = 'worker lost'

/**
 * Rescues tasks whose lease expired: their worker stopped heartbeating (kill -9, lost machine,
 * frozen process). The attempt counts as failed with "worker lost" and the task's retry strategy
 * decides what follows; a task whose cancel was requested ends cancelled. Safe to run from every
 * process at once: rows are locked with SKIP LOCKED and the update re-checks the expired lease.
 * Returns the rescued tasks with their new status.
 */
export interface Rescued {
  id: string
  task_type: string
  attempt: number
  status: 'retrying' | 'failed' | 'cancelled'
  worker: string
}

export async function rescueExpired(sql: Sql, limit = 500): Promise<Rescued[]> {
  return sql.begin(async (tx) => {
    const expired = await tx<
      Pick<
        Task,
        | 'id'
        | 'task_type'
        | 'current_attempt'
        | 'max_attempts'
        | 'retry_strategy'
        | 'cancel_requested'
        | 'locked_by'
      >[]
    >`
      SELECT id, task_type, current_attempt, max_attempts, retry_strategy, cancel_requested, locked_by
      FROM tasks WHERE status = 'running' AND lease_expires_at < now()
      ORDER BY lease_expires_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED`
    if (expired.length === 0) return []
    await tx`SELECT set_config('tasklab.actor', 'rescue', true)`
    const now = Date.now()
    const rows = expired.map((t) => {
      const o = t.cancel_requested
        ? { id: t.id, status: 'cancelled', error: WORKER_LOST }
        : failureOutcome(t, WORKER_LOST, false, now)
      return {
        id: t.id,
        status: o.status,
        error: WORKER_LOST,
        run_at: o.status === 'retrying' ? (o as { runAt: Date }).runAt.toISOString() : null,
      }
    })
    const done = await tx<{ id: string; status: Rescued['status'] }[]>`
      UPDATE tasks t SET
        status = v.status, last_error = v.error, run_at = coalesce(v.run_at, t.run_at),
        completed_at = CASE WHEN v.status = ANY(${[...TERMINAL]}::task_status[]) THEN now() END,
        locked_by = NULL, lease_expires_at = NULL, updated_at = now()
      FROM jsonb_to_recordset(${tx.json(rows as never)}) AS v(id uuid, status task_status, error text, run_at timestamptz)
      WHERE t.id = v.id AND t.status = 'running' AND t.lease_expires_at < now()
      RETURNING t.id, t.status`
    const byId = new Map(expired.map((e) => [e.id, e]))
    return done.map((d) => {
      const e = byId.get(d.id)!
      return {
        id: d.id,
        status: d.status,
        task_type: e.task_type,
        attempt: e.current_attempt,
        worker: e.locked_by ?? '',
      }
    })
  }) as Promise<Rescued[]>
}

import type { Sql } from '../db/connect'
import { failureOutcome, isRefusal } from './finish'
import { TERMINAL, WORKER_LOST } from './states'
import type { Task } from './task'

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
    const rows = expired.map((t) => rescueRow(t, now))
    // One statement for the batch; should a row still be refused, each row gets its own savepoint
    // so that one bad task never holds back the rescue of the others (issue 12, item 2).
    const attempt = (rs: RescueRow[]) =>
      tx
        .savepoint((sp) => rescueRows(sp as unknown as Sql, rs))
        .catch((e: unknown) => {
          // A deadlock or lost connection is retried with the whole rescue at its next tick.
          if (!isRefusal(e)) throw e
          return null
        })
    let done = await attempt(rows)
    if (!done) {
      done = []
      for (const row of rows)
        done.push(...((await attempt([row])) ?? (await attempt([unschedulable(row.id)])) ?? []))
    }
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

interface RescueRow {
  id: string
  status: Rescued['status']
  error: string
  run_at: string | null
}

/** What follows a lost attempt; a strategy that cannot be computed fails the task, alone. */
function rescueRow(
  t: Pick<Task, 'id' | 'current_attempt' | 'max_attempts' | 'retry_strategy' | 'cancel_requested'>,
  now: number,
): RescueRow {
  if (t.cancel_requested) return { id: t.id, status: 'cancelled', error: WORKER_LOST, run_at: null }
  try {
    const o = failureOutcome(t, WORKER_LOST, false, now)
    const runAt = o.status === 'retrying' ? o.runAt.toISOString() : null
    return { id: t.id, status: o.status as Rescued['status'], error: WORKER_LOST, run_at: runAt }
  } catch {
    return unschedulable(t.id)
  }
}

function unschedulable(id: string): RescueRow {
  return { id, status: 'failed', error: `${WORKER_LOST}; the retry could not be scheduled`, run_at: null }
}

function rescueRows(sql: Sql, rows: RescueRow[]): Promise<{ id: string; status: Rescued['status'] }[]> {
  return sql<{ id: string; status: Rescued['status'] }[]>`
    UPDATE tasks t SET
      status = v.status, last_error = v.error, run_at = coalesce(v.run_at, t.run_at),
      completed_at = CASE WHEN v.status = ANY(${[...TERMINAL]}::task_status[]) THEN now() END,
      locked_by = NULL, lease_expires_at = NULL, updated_at = now()
    FROM jsonb_to_recordset(${sql.json(rows as never)}) AS v(id uuid, status task_status, error text, run_at timestamptz)
    WHERE t.id = v.id AND t.status = 'running' AND t.lease_expires_at < now()
    RETURNING t.id, t.status`
}

// Ends attempts. One statement finishes any mix of outcomes for one worker, so a worker at
// concurrency 50 writes 50 completions in one round trip. Every row is guarded by
// `status = 'running' AND locked_by = $worker`: a late or duplicate report from a worker that
// lost its lease (the task was rescued and maybe already re-run) changes nothing.
import { isConnectionError, type Sql } from '../db/connect'
import { cleanText, errorText } from './outcome-text'
import { retryDelayMs } from './retry'
import { sqlStates, TERMINAL } from './states'
import type { Task } from './task'

export type Outcome =
  | { id: string; status: 'completed'; result: unknown }
  | { id: string; status: 'retrying'; error: string; runAt: Date }
  | { id: string; status: 'failed'; error: string }
  | { id: string; status: 'cancelled'; error: string }
  /** Handed back by a draining worker: the attempt did not happen, so it is not counted. */
  | { id: string; status: 'pending' }

/** What a failed attempt leads to: another attempt after the strategy's delay, or the dead letter queue. */
export function failureOutcome(
  task: Pick<Task, 'id' | 'current_attempt' | 'max_attempts' | 'retry_strategy'>,
  error: string,
  permanent: boolean,
  now = Date.now(),
): Outcome {
  error = cleanText(error)
  if (permanent || task.current_attempt >= task.max_attempts) return { id: task.id, status: 'failed', error }
  const delay = retryDelayMs(task.retry_strategy, task.current_attempt)
  return { id: task.id, status: 'retrying', error, runAt: new Date(now + delay) }
}

interface OutcomeRow {
  id: string
  status: Outcome['status']
  result: unknown
  error: string | null
  run_at: string | null
}

function toRow(o: Outcome): OutcomeRow {
  return {
    id: o.id,
    status: o.status,
    result: o.status === 'completed' ? (o.result ?? null) : null,
    error: 'error' in o ? cleanText(o.error) : null,
    run_at: o.status === 'retrying' ? o.runAt.toISOString() : null,
  }
}

/*
 * Async commit. Worker-side transitions (claim, outcome, lease extension) commit without waiting for the WAL
 * flush: a commit costs 0.3 ms instead of 3.1 ms on this machine's disk, which alone doubled
 * processing at concurrency 50 (3,285 → 6,422 tasks/s). What a database crash can lose is the last
 * ~200 ms (wal_writer_delay) of them, and each loss is one the lease already covers: a lost claim
 * leaves the task pending (run again, as after a worker crash), a lost outcome leaves it running
 * under a lease that no heartbeat extends any more (extendLeases extends only the tasks the worker
 * still holds), so it is rescued and run again. At-least-once holds; enqueues and user actions
 * keep synchronous commits. Written as `set_config('synchronous_commit', 'off', true)` inside each
 * statement (SET LOCAL would cost a round trip); `true` scopes it to that statement's transaction.
 */

/**
 * The channel on which each outcome write names the tasks it completed (comma-separated ids, at
 * most FEED_IDS_PER_NOTIFY per message: NOTIFY payloads stop at 8,000 bytes). A completion is not
 * stored in task_event_log (migrations/0004_lean_history.sql), so this is how the API's live feed
 * and latency histograms learn of it: one NOTIFY per flush, in the flush's own statement.
 */
export const FEED_CHANNEL = 'tasklab_feed'
export const FEED_IDS_PER_NOTIFY = 200

/**
 * Returns the ids whose outcome was written; the others had been taken from this worker.
 * Throws only for errors that pass (the database unreachable, a deadlock, a cancelled statement):
 * the caller keeps the outcomes and tries again. An outcome PostgreSQL refuses (a value it cannot
 * store) never throws: the batch is then written task by task, so one bad outcome never holds back
 * the others, and a task whose outcome still cannot be written is failed with an error saying why.
 */
export async function finishTasks(sql: Sql, workerId: string, outcomes: Outcome[]): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set()
  try {
    return await writeOutcomes(sql, workerId, outcomes)
  } catch (err) {
    if (!isRefusal(err)) throw err
    if (outcomes.length === 1) return writeRefused(sql, workerId, outcomes[0]!, err)
  }
  const written = new Set<string>()
  for (const o of outcomes) {
    let ids: Set<string>
    try {
      ids = await writeOutcomes(sql, workerId, [o])
    } catch (err) {
      if (!isRefusal(err)) throw err
      ids = await writeRefused(sql, workerId, o, err)
    }
    for (const id of ids) written.add(id)
  }
  return written
}

/**
 * A value the statement cannot take, as opposed to a condition that passes: PostgreSQL's data
 * exceptions (22: NUL, bad Unicode escapes, bad dates), integrity (23) and program limits (54:
 * jsonb too large), or an error thrown before anything was sent (a circular value, an invalid
 * Date) which carries no SQLSTATE.
 */
export function isRefusal(err: unknown): boolean {
  if (isConnectionError(err)) return false
  const code = (err as { code?: unknown })?.code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true
  return /^(22|23|54)/.test(code)
}

/**
 * The outcome PostgreSQL refused, replaced by a failure naming the reason. Should even that be
 * refused, the task is left to its lease: not reported as written, it is rescued like a lost one.
 */
async function writeRefused(sql: Sql, workerId: string, o: Outcome, err: unknown): Promise<Set<string>> {
  const code = (err as { code?: string })?.code
  const error = `The outcome (${o.status}) could not be stored: ${errorText(err).slice(0, 300)}${code ? ` (${code})` : ''}`
  try {
    return await writeOutcomes(sql, workerId, [{ id: o.id, status: 'failed', error }])
  } catch (again) {
    if (!isRefusal(again)) throw again
    return new Set()
  }
}

async function writeOutcomes(sql: Sql, workerId: string, outcomes: Outcome[]): Promise<Set<string>> {
  // last_worker stays set on a completion (the rebuilt history names the worker from it); any
  // other end of the attempt stores the claim and clears it (the trigger of 0004). The states are
  // literals, as in the claim: as parameters they cost the database ~1.5 µs more per task (21.3
  // against 22.8 µs per outcome, 3 interleaved runs of 40,000).
  const completed = sqlStates(sql, 'completed')
  const handedBack = sqlStates(sql, 'pending')
  const rows = await sql<{ id: string }[]>`
    WITH done AS (
      UPDATE tasks t SET
        status = v.status,
        result = CASE WHEN v.status = ${completed} THEN v.result ELSE t.result END,
        last_error = coalesce(v.error, t.last_error),
        run_at = coalesce(v.run_at, CASE WHEN v.status = ${handedBack} THEN now() ELSE t.run_at END),
        current_attempt = t.current_attempt - CASE WHEN v.status = ${handedBack} THEN 1 ELSE 0 END,
        completed_at = CASE WHEN v.status IN (${sqlStates(sql, ...TERMINAL)}) THEN now() END,
        started_at = CASE WHEN v.status = ${handedBack} THEN NULL ELSE t.started_at END,
        locked_by = NULL,
        lease_expires_at = NULL,
        updated_at = now()
      FROM jsonb_to_recordset(${sql.json(outcomes.map(toRow) as never)})
        AS v(id uuid, status task_status, result jsonb, error text, run_at timestamptz),
        (SELECT set_config('synchronous_commit', 'off', true)) async
      WHERE t.id = v.id AND t.status = ${sqlStates(sql, 'running')} AND t.locked_by = ${workerId}
      RETURNING t.id, t.status
    ), feed AS (
      SELECT pg_notify(${FEED_CHANNEL}, string_agg(id::text, ',')) FROM (
        SELECT id, (row_number() OVER () - 1) / ${FEED_IDS_PER_NOTIFY} AS chunk FROM done WHERE status = ${completed}
      ) c GROUP BY chunk
    )
    SELECT id FROM done WHERE (SELECT count(*) FROM feed) >= 0`
  return new Set(rows.map((r) => r.id))
}

/**
 * Extends the leases of this worker's running tasks; returns them, with any cancel requests.
 * `held` (the worker passes the tasks it still runs or reports) keeps a row whose outcome write was
 * lost (async commit, database crash) from being extended forever: it expires and is rescued.
 */
export async function extendLeases(
  sql: Sql,
  workerId: string,
  leaseMs: number,
  held?: readonly string[],
): Promise<{ id: string; cancel_requested: boolean }[]> {
  return sql<{ id: string; cancel_requested: boolean }[]>`
    UPDATE tasks SET lease_expires_at = now() + ${leaseMs} * interval '1 millisecond'
    FROM (SELECT set_config('synchronous_commit', 'off', true)) async
    WHERE status = ${sqlStates(sql, 'running')} AND locked_by = ${workerId}
      ${held ? sql`AND id = ANY(${held as string[]}::uuid[])` : sql``}
    RETURNING id, cancel_requested`
}

import type { Sql } from '../db/connect'
import { sqlStates, WAITING } from './states'
import type { Task } from './task'

/**
 * What a worker runs an attempt with: the columns a claim returns, not `t.*` (the wide row's
 * result, last_error and lease columns travel for nothing; measured +3 % at c=10, +7 % at c=50).
 */
export type ClaimedTask = Pick<
  Task,
  | 'id'
  | 'task_type'
  | 'priority'
  | 'payload'
  | 'metadata'
  | 'retry_strategy'
  | 'max_attempts'
  | 'current_attempt'
  | 'timeout_ms'
  | 'created_by'
  | 'created_at'
>

/** claimTasks' rows: a claimed task with its times (the HTTP worker protocol hands out the lease). */
export type ClaimedRow = ClaimedTask & Pick<Task, 'run_at' | 'started_at' | 'lease_expires_at'>

export interface ClaimOptions {
  workerId: string
  types: readonly string[]
  limit: number
  leaseMs: number
  /** At most this many running tasks per user (created_by) across all workers; undefined: no cap. */
  maxRunningPerUser?: number
}

/** Settings of a pool's claims that come from configuration, not from each caller. */
const policies = new WeakMap<Sql, { maxRunningPerUser?: number }>()

/** The runtime sets STARTER__WORKER__MAX_RUNNING_PER_USER once for its pool; workers need not pass it. */
export function setClaimPolicy(sql: Sql, policy: { maxRunningPerUser?: number }): void {
  policies.set(sql, policy)
}

/** Serializes capped claims across processes, so two workers cannot both take a user's last slot. */
const USER_CAP_LOCK = 7_461_730_013

/**
 * Claims up to `limit` ready tasks of the given types for one worker, in one statement.
 *
 * Only claimable work is read. The type's row decides first: a paused or inactive type, or one
 * whose breaker is open and cooling down, is not read at all, so a task created right after a
 * pause was answered can never start, whatever a worker's cached view says. A half-open breaker
 * (or an open one whose cool-down is over) lets one task through while none of the type runs: the
 * probe, one at a time across all workers, as src/queue/remote.ts counts it (one per claim let a
 * capped claim, which claims in rounds, take a probe per round). Then, per
 * admitted type, tasks_ready_idx (task_type, priority DESC, run_at, id) is read in order and stops
 * after `limit` rows; the per-type winners are merged by (priority DESC, run_at, id), so critical
 * still runs first across types. With 200,000 due tasks of a paused type, the claim of 10 tasks
 * of another type read 200,000 rows (147 ms) when the index did not lead with task_type; now it
 * reads 10 (see migrations/0005_claim.sql for the EXPLAIN numbers).
 *
 * SKIP LOCKED sits under each type's LIMIT, so rows another worker holds are stepped over, not
 * counted. Rows locked in a type's range beyond the merged `limit` (several types with backlog)
 * are released at commit. The claim starts the attempt (current_attempt + 1), the lease, and
 * records the worker in last_worker: the claim is kept on the row, not in task_event_log
 * (migrations/0004_lean_history.sql). started_at is the clock at the update, after the snapshot,
 * so it is later than any transition the claim saw committed and the rebuilt history keeps order.
 * The commit does not wait for the WAL flush (why: "Async commit" in finish.ts).
 */
export function claimTasks(sql: Sql, opts: ClaimOptions): Promise<ClaimedRow[]> {
  return claim<ClaimedRow>(sql, opts, true)
}

/**
 * The same claim for tasklab's own worker, without the times it never reads: each timestamp column
 * is a Date parsed per row, and run_at, started_at and lease_expires_at were ~8 % of a no-op
 * attempt's worker CPU (`bun --cpu-prof`, issue 13 item 5).
 */
export function claimForWorker(sql: Sql, opts: ClaimOptions): Promise<ClaimedTask[]> {
  return claim<ClaimedTask>(sql, opts, false)
}

async function claim<T extends ClaimedTask>(sql: Sql, opts: ClaimOptions, times: boolean): Promise<T[]> {
  if (opts.limit < 1 || opts.types.length === 0) return []
  const cap = opts.maxRunningPerUser ?? policies.get(sql)?.maxRunningPerUser
  if (cap === undefined) return claimOnce<T>(sql, opts, undefined, times)
  // With a per-user cap, a claim can come back short because it trimmed a user over the cap while
  // others wait; claim again (the trimmed user is now excluded) until full or nothing is left.
  const all: T[] = []
  while (all.length < opts.limit) {
    const got = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${USER_CAP_LOCK})`
      return claimOnce<T>(tx as unknown as Sql, { ...opts, limit: opts.limit - all.length }, cap, times)
    })
    if (got.length === 0) break
    all.push(...(got as T[]))
  }
  return all
}

function claimOnce<T extends ClaimedTask>(
  sql: Sql,
  opts: ClaimOptions,
  cap: number | undefined,
  times: boolean,
): Promise<T[]> {
  const types = opts.types as string[]
  const running = sqlStates(sql, 'running')
  // Without a cap the statement carries none of the per-user parts (the hot path stays as lean as
  // it can be); with one, users at the cap are skipped in the index read and the pick trims those
  // this claim would take past it.
  const busy =
    cap === undefined
      ? sql``
      : sql`, busy AS (
          SELECT created_by, count(*)::int AS n FROM tasks
          WHERE status = ${running} AND created_by IS NOT NULL GROUP BY created_by)`
  const notFull =
    cap === undefined
      ? sql``
      : sql`AND (r.created_by IS NULL OR r.created_by NOT IN (SELECT created_by FROM busy WHERE n >= ${cap}::int))`
  const picked =
    cap === undefined
      ? sql`SELECT id FROM locked ORDER BY priority DESC, run_at, id LIMIT ${opts.limit}`
      : sql`
        SELECT id FROM (
          SELECT l.*, row_number() OVER (PARTITION BY l.created_by ORDER BY l.priority DESC, l.run_at, l.id) AS k
          FROM locked l
        ) x
        WHERE x.created_by IS NULL
           OR x.k + coalesce((SELECT n FROM busy WHERE busy.created_by = x.created_by), 0) <= ${cap}::int
        ORDER BY x.priority DESC, x.run_at, x.id LIMIT ${opts.limit}`
  return sql<T[]>`
    WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),
    admitted AS (
      SELECT name, CASE WHEN breaker_state = 'closed' THEN ${opts.limit}::int
                        WHEN EXISTS (SELECT 1 FROM tasks p WHERE p.task_type = task_types.name AND p.status = ${running}) THEN 0
                        ELSE 1 END AS cap
      FROM task_types
      WHERE name = ANY(${types}::text[]) AND is_active AND NOT paused
        AND (breaker_state <> 'open'
             OR breaker_opened_at + breaker_cooldown_ms * interval '1 millisecond' <= now())
    ) ${busy},
    locked AS (
      SELECT c.* FROM admitted a CROSS JOIN LATERAL (
        SELECT r.id, r.priority, r.run_at, r.created_by FROM tasks r
        WHERE r.task_type = a.name AND r.status IN (${sqlStates(sql, ...WAITING)}) AND r.run_at <= now()
          ${notFull}
        ORDER BY r.priority DESC, r.run_at, r.id
        LIMIT a.cap
        FOR UPDATE SKIP LOCKED
      ) c
    ),
    picked AS (${picked})
    UPDATE tasks t SET
      status = ${running},
      locked_by = ${opts.workerId},
      last_worker = ${opts.workerId},
      lease_expires_at = now() + ${opts.leaseMs} * interval '1 millisecond',
      current_attempt = t.current_attempt + 1,
      started_at = clock_timestamp(),
      updated_at = now()
    FROM picked, async WHERE t.id = picked.id
    RETURNING t.id, t.task_type, t.priority, t.payload, t.metadata, t.retry_strategy, t.max_attempts,
              t.current_attempt, t.timeout_ms, t.created_by, t.created_at
              ${times ? sql`, t.run_at, t.started_at, t.lease_expires_at` : sql``}`
}

/** When the next scheduled or retrying task of these types is due (for the worker's wake-up timer). */
export async function nextRunAt(sql: Sql, types: readonly string[]): Promise<Date | null> {
  const [row] = await sql<{ at: Date | null }[]>`
    SELECT min(run_at) AS at FROM tasks
    WHERE status IN (${sqlStates(sql, 'scheduled', 'retrying')}) AND run_at > now() AND task_type = ANY(${types as string[]}::text[])`
  return row?.at ?? null
}

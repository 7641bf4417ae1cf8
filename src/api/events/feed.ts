// The live tail of every task's transitions, shared by the SSE stream and the metrics.
// Transitions are made by whichever process made them (API, any worker, rescue), so the API reads
// them from the database instead of listening to its own in-process bus. Since the happy path is
// kept on the task row (migrations/0004_lean_history.sql), one tick (every 250 ms) gathers:
// - stored transitions (failures, rescues, cancels, retries, hand-backs): task_event_log by id;
// - creations: tasks by created_at (tasks_status_idx, one short range per status);
// - claims of tasks still running: running rows by started_at (tasks_running_idx, ≤ the slots),
//   read again for CLAIM_COMMIT_SLACK_S behind the cursor: a claim stamps started_at when its
//   statement starts and commits later, so one may commit after a later claim was read;
// - completions: the ids each outcome flush NOTIFYs on FEED_CHANNEL (one message per flush),
//   rebuilt with their claim from the row.
// A claim is sent once: not again when read again while running, nor with its completion or its
// stored record.
//
// Identity values and creation times are taken before commit, so a creation or a stored
// transition whose transaction commits late behind a cursor already read is skipped (reading those
// again behind the cursor would re-read up to BATCH rows a tick during a flood). The stream is for
// display and the counts it sends each second come straight from the tasks table, so a rare skip is
// corrected within a second.
import type { Sql } from '../../db/connect'
import type { Logger } from '../../log'
import { FEED_CHANNEL } from '../../queue/finish'
import type { TaskEvent } from '../../queue/task'

/** A transition, plus from the task row (when it still exists) its owner and timings. */
export interface FeedEvent extends TaskEvent {
  created_by: string | null
  run_at: Date | null
  started_at: Date | null
  current_attempt: number | null
  /** A claim's wait from ready (run_at) to claimed, as the queue-latency histogram measures it. */
  wait_ms: number | null
  /** An attempt's end: its time from claimed to this transition. */
  run_ms: number | null
}

export const FEED_INTERVAL_MS = 250
const BATCH = 2000
/** Completed ids waiting for the next tick; past this, a burst is shown by the counts alone. */
const MAX_PENDING_IDS = 50_000
/**
 * How far behind the started cursor running rows are read again. A claim commits within
 * milliseconds of its statement's start; seconds cover a server that stalls it (checkpoint, lock
 * wait, a busy machine), at the cost of re-reading the few rows claimed in that window.
 */
const CLAIM_COMMIT_SLACK_S = 5
/** Claims already sent, kept until their attempt ends (or this long, for a lost notification). */
const CLAIM_MEMORY_MS = 10 * 60_000

interface Cursors {
  log: string
  created: string
  started: string
}

type Row = Omit<FeedEvent, 'wait_ms' | 'run_ms'> & {
  /** `clock`: no event, the statement's now() for the creations cursor while nobody reads them. */
  part: 'log' | 'created' | 'started' | 'done' | 'clock'
  seq: string
  cursor: string | null
}

/**
 * The latency of a claim and the run time of an attempt's end, for the panel's charts (GET /events).
 * The task row's run_at and started_at belong to its current attempt, so they time only the rows
 * rebuilt from it; a stored (logged) attempt is timed from its logged claim, which is written with
 * its end and so arrives in the same tick (`claims`: claim times by task and attempt).
 */
function withTimes(r: Row, claims: Map<string, number>): Row & Pick<FeedEvent, 'wait_ms' | 'run_ms'> {
  const key = `${r.task_id}:${r.attempt}`
  const at = r.at.getTime()
  const fromRow = r.part !== 'log'
  let wait_ms: number | null = null
  let run_ms: number | null = null
  if (r.to_status === 'running') {
    claims.set(key, at)
    if (fromRow && r.run_at) wait_ms = Math.max(0, at - r.run_at.getTime())
  } else if (r.from_status === 'running') {
    const start = claims.get(key) ?? (fromRow && r.started_at ? r.started_at.getTime() : undefined)
    if (start !== undefined) run_ms = Math.max(0, at - start)
  }
  return { ...r, wait_ms, run_ms }
}

export class LiveFeed {
  /** Stored transitions read up to this task_event_log id; null until the first tick. */
  private cursor: string | null = null
  private cursors: Cursors | null = null
  private timer: Timer | undefined
  private busy = false
  private completed: string[] = []
  private unlisten: (() => Promise<void>) | undefined
  private readonly claimsSent = new Map<string, number>()
  private readonly listeners = new Set<(batch: FeedEvent[]) => void>()
  private readonly creationListeners = new Set<(batch: FeedEvent[]) => void>()
  private readonly closers = new Set<() => void>()
  private failing = false

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    private readonly intervalMs = FEED_INTERVAL_MS,
  ) {}

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => void this.tick(), this.intervalMs)
    this.timer.unref?.()
    this.sql
      .listen(FEED_CHANNEL, (payload) => {
        if (this.completed.length < MAX_PENDING_IDS) this.completed.push(...payload.split(','))
      })
      .then(
        (l) => {
          if (this.timer) this.unlisten = () => l.unlisten()
          else void l.unlisten().catch(() => {})
        },
        (err) => this.log.warn('live feed could not listen for completions', { error: err }),
      )
    void this.tick()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    void this.unlisten?.().catch(() => {})
    this.unlisten = undefined
    // Open SSE streams never finish on their own: without this, a panel left open made the
    // server's graceful stop wait forever (SIGTERM hung until a second signal).
    for (const fn of [...this.closers]) fn()
  }

  /** Called when the feed stops, so each SSE stream can end its response. */
  onStop(fn: () => void): () => void {
    this.closers.add(fn)
    return () => this.closers.delete(fn)
  }

  /**
   * Listens without starting the poll: the server starts it, and so does the first SSE client.
   * `creations: false` for a listener that ignores them (the metrics): while no listener wants
   * creations, the feed does not read created tasks at all. It read back every task the API
   * created, 2,000 per tick (9 % of the server's samples during batch enqueues, and the same rows
   * again in PostgreSQL), for a panel that was not open.
   */
  subscribe(fn: (batch: FeedEvent[]) => void, opts: { creations?: boolean } = {}): () => void {
    this.listeners.add(fn)
    if (opts.creations !== false) this.creationListeners.add(fn)
    return () => {
      this.listeners.delete(fn)
      this.creationListeners.delete(fn)
    }
  }

  /** Reads what arrived since the last call; exported for tests that want a tick now. */
  async tick(): Promise<void> {
    if (this.busy) return
    this.busy = true
    const ids = this.completed.splice(0)
    try {
      if (this.cursors === null) {
        const [row] = await this.sql<{ log: string; now: string }[]>`
          SELECT coalesce(max(id), 0)::text AS log, now()::text AS now FROM task_event_log`
        this.cursors = { log: row!.log, created: row!.now, started: row!.now }
        this.cursor = row!.log
        return
      }
      const creations = this.creationListeners.size > 0
      const rows = await this.read(this.cursors, ids, creations)
      this.resumed()
      const batch: FeedEvent[] = []
      const claims = new Map<string, number>()
      const now = Date.now()
      for (const r of rows) {
        if (r.part === 'clock') {
          this.cursors.created = r.cursor!
          continue
        }
        if (r.part === 'log') this.cursors.log = r.cursor!
        else if (r.part === 'created') this.cursors.created = r.cursor!
        else if (r.part === 'started') this.cursors.started = r.cursor!
        const timed = withTimes(r, claims)
        if (!this.fresh(r, now)) continue
        const { part: _p, seq: _s, cursor: _c, ...event } = timed
        batch.push(event)
      }
      this.cursor = this.cursors.log
      this.forgetOldClaims(now)
      if (batch.length === 0) return
      for (const fn of this.listeners) {
        try {
          fn(batch)
        } catch (err) {
          this.log.error('live feed listener failed', { error: err })
        }
      }
    } catch (err) {
      // Usually the database is away (/health/ready says so) and the stream resumes from the
      // cursors; said once per outage, so a read that keeps failing for another reason is seen.
      if (!this.failing) this.log.warn('live feed read failed; retrying every tick', { error: err })
      this.failing = true
    } finally {
      this.busy = false
    }
  }

  private resumed(): void {
    if (this.failing) this.log.info('live feed reads again')
    this.failing = false
  }

  /** A claim (and a scheduled task's step through pending) is sent once, however it comes back. */
  private fresh(r: Row, now: number): boolean {
    const claim = r.to_status === 'running' || (r.from_status === 'scheduled' && r.to_status === 'pending')
    if (!claim || r.part === 'created') return true
    const key = `${r.task_id}:${r.to_status}:${r.attempt}`
    if (r.part === 'started') {
      if (this.claimsSent.has(key)) return false
      this.claimsSent.set(key, now)
      return true
    }
    return !this.claimsSent.delete(key)
  }

  private forgetOldClaims(now: number): void {
    if (this.claimsSent.size < 10_000) return
    for (const [key, at] of this.claimsSent) if (now - at > CLAIM_MEMORY_MS) this.claimsSent.delete(key)
  }

  private read(c: Cursors, completedIds: string[], creations: boolean): Promise<Row[]> {
    const sql = this.sql
    const ids = [...new Set(completedIds.filter((id) => /^[0-9a-f-]{36}$/i.test(id)))]
    return sql<Row[]>`
      WITH stored AS (
        SELECT * FROM task_event_log WHERE id > ${c.log}::bigint ORDER BY id LIMIT ${BATCH}
      ), created AS (
        -- The cursors are text: a timestamptz parameter goes through a JS Date and loses the
        -- microseconds, and the row at the cursor would be read again each tick.
        SELECT t, t.created_at FROM tasks t
        WHERE ${creations}::boolean
          AND t.status = ANY(enum_range(NULL::task_status)) AND t.created_at > ${c.created}::text::timestamptz
        ORDER BY t.created_at LIMIT ${BATCH}
      ), started AS (
        SELECT t, t.started_at FROM tasks t
        WHERE t.status = 'running' AND t.last_worker IS NOT NULL
          AND t.started_at > ${c.started}::text::timestamptz - make_interval(secs => ${CLAIM_COMMIT_SLACK_S})
      ), done AS (
        SELECT t FROM tasks t
        WHERE t.id = ANY(${ids}::uuid[]) AND t.status = 'completed' AND t.last_worker IS NOT NULL
      )
      SELECT * FROM (
        SELECT 'log' AS part, s.id::text AS seq, s.id::text AS id, s.task_id, s.task_type, s.at,
               s.from_status, s.to_status, s.attempt, s.worker_id, s.error, s.actor,
               t.created_by, t.run_at, t.started_at, t.current_attempt,
               (SELECT max(id) FROM stored)::text AS cursor
        FROM stored s LEFT JOIN tasks t ON t.id = s.task_id
        UNION ALL
        SELECT p.part, r.seq::text, (p.t).id || ':' || r.seq, (p.t).id, (p.t).task_type, r.at,
               r.from_status, r.to_status, r.attempt, r.worker_id, NULL, r.actor,
               (p.t).created_by, (p.t).run_at, (p.t).started_at, (p.t).current_attempt, p.cursor
        FROM (
          SELECT 'created' AS part, c.t, (SELECT max(created_at) FROM created)::text AS cursor FROM created c
          UNION ALL
          SELECT 'started', s.t,
                 (SELECT greatest(max(started_at), ${c.started}::text::timestamptz) FROM started)::text
          FROM started s
          UNION ALL
          SELECT 'done', d.t, NULL FROM done d
        ) p CROSS JOIN LATERAL tasklab_row_events(p.t) r
        WHERE (p.part = 'created') = (r.from_status IS NULL)
        UNION ALL
        -- The creations cursor follows the clock while nobody reads them, so a listener that
        -- arrives sees creations from about then, not the whole backlog since it last moved (one
        -- statement a tick: this row instead of a SELECT now() of its own).
        SELECT 'clock', '0', NULL, NULL, NULL, now(), NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, now()::text
        WHERE NOT ${creations}::boolean
      ) x
      ORDER BY at, seq::numeric`
  }
}

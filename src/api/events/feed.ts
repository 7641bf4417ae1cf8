// The live tail of task_events, shared by the SSE stream and the metrics. Transitions are written
// by whichever process made them (API, any worker, rescue), so the API reads them from the table
// by id cursor instead of listening to its own in-process bus. One indexed range read per 250 ms
// (PK range, usually empty) is the whole cost; the panel sees a transition within ~¼ s.
//
// Identity values are handed out before commit, so a transaction that commits late with a lower id
// than one already read is skipped by the cursor. The stream is for display and the counts it
// sends each second come straight from the tasks table, so a rare skip is corrected within a second.
import type { Sql } from '../../db/connect'
import type { Logger } from '../../log'
import type { TaskEvent } from '../../queue/task'

/** A task_events row, plus from the task row (when it still exists) its owner and timings. */
export interface FeedEvent extends TaskEvent {
  created_by: string | null
  run_at: Date | null
  started_at: Date | null
  current_attempt: number | null
}

export const FEED_INTERVAL_MS = 250
const BATCH = 2000

export class LiveFeed {
  private cursor: string | null = null
  private timer: Timer | undefined
  private busy = false
  private readonly listeners = new Set<(batch: FeedEvent[]) => void>()
  private readonly closers = new Set<() => void>()

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    private readonly intervalMs = FEED_INTERVAL_MS,
  ) {}

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => void this.tick(), this.intervalMs)
    this.timer.unref?.()
    void this.tick()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    // Open SSE streams never finish on their own: without this, a panel left open made the
    // server's graceful stop wait forever (SIGTERM hung until a second signal).
    for (const fn of [...this.closers]) fn()
  }

  /** Called when the feed stops, so each SSE stream can end its response. */
  onStop(fn: () => void): () => void {
    this.closers.add(fn)
    return () => this.closers.delete(fn)
  }

  /** Listens without starting the poll: the server starts it, and so does the first SSE client. */
  subscribe(fn: (batch: FeedEvent[]) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Reads what arrived since the last call; exported for tests that want a tick now. */
  async tick(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      if (this.cursor === null) {
        const [row] = await this.sql<
          { max: string }[]
        >`SELECT coalesce(max(id), 0)::text AS max FROM task_events`
        this.cursor = row!.max
        return
      }
      const rows = await this.sql<FeedEvent[]>`
        SELECT e.id::text AS id, e.task_id, e.task_type, e.at, e.from_status, e.to_status, e.attempt,
               e.worker_id, e.error, e.actor, t.created_by, t.run_at, t.started_at, t.current_attempt
        FROM task_events e LEFT JOIN tasks t ON t.id = e.task_id
        WHERE e.id > ${this.cursor}::bigint
        ORDER BY e.id LIMIT ${BATCH}`
      if (rows.length === 0) return
      this.cursor = rows[rows.length - 1]!.id
      for (const fn of this.listeners) {
        try {
          fn(rows)
        } catch (err) {
          this.log.error('live feed listener failed', { error: err })
        }
      }
    } catch {
      // The database is away: /health/ready says so; the stream resumes from the cursor.
    } finally {
      this.busy = false
    }
  }
}

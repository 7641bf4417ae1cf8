// Write-behind for outcomes. A finished attempt frees its slot at once and its outcome waits here;
// outcomes go to the database together, in one finishTasks statement, when `batchMax` of them wait
// or `delayMs` after the first one arrived, whichever comes first. Until written, a task stays
// `running` in the database under this worker's lease, which the heartbeat keeps extending
// (`unwritten` lists them), so a slow write can never let another worker take the task meanwhile.
//
// Nothing is dropped: a failed write puts its outcomes back at the front and is retried with
// backoff (250 ms doubling to 5 s); `drain()` writes everything before the worker stops. An outcome
// refused by finishTasks' guard belongs to a task that was rescued from this worker (lease expired
// while the database was away): that is reported, not retried.
import type { Sql } from '../db/connect'
import { isConnectionError } from '../db/connect'
import type { Logger } from '../log'
import type { ClaimedTask as Task } from '../queue/claim'
import { finishTasks, type Outcome } from '../queue/finish'
import type { AttemptResult } from './execute'
import { settlesBy } from './mode'

export interface Finished {
  outcome: Outcome
  result: AttemptResult
  task: Task
}

export interface CompleterOptions {
  sql: Sql
  workerId: string
  log: Logger
  /** Longest an outcome waits for company; 0 writes at once (coalescing only while a write is in flight). */
  delayMs: number
  /** Write as soon as this many wait. */
  batchMax: number
  /** Writes in flight at once; more outcomes wait for the next. */
  maxInFlight: number
  /** After each write: `written` holds the ids the database accepted. */
  onWritten: (batch: Finished[], written: ReadonlySet<string>) => void
  onDatabase: (up: boolean, err?: unknown) => void
}

export class Completer {
  private buffer: Finished[] = []
  private readonly writing = new Set<Finished[]>()
  private timer: Timer | undefined
  /** Armed after a failed write: until it fires, nothing is written (it writes everything). */
  private retryTimer: Timer | undefined
  private backoffMs = 0
  private draining = false
  /** Resolves when nothing is buffered or being written (for drain). */
  private idle: { promise: Promise<void>; resolve: () => void } | null = null

  constructor(private readonly o: CompleterOptions) {}

  add(f: Finished): void {
    this.buffer.push(f)
    this.schedule()
  }

  /** Tasks whose outcome is not written yet: still running in the database, under our lease. */
  unwritten(): string[] {
    const ids = this.buffer.map((f) => f.task.id)
    for (const batch of this.writing) for (const f of batch) ids.push(f.task.id)
    return ids
  }

  get size(): number {
    let n = this.buffer.length
    for (const batch of this.writing) n += batch.length
    return n
  }

  /** Writes everything now (retrying with backoff), resolving true once all is written, false at the deadline. */
  async drain(deadline: number): Promise<boolean> {
    this.draining = true
    if (this.size === 0) return true
    if (!this.idle) {
      let resolve = () => {}
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      this.idle = { promise, resolve }
    }
    if (!this.retryTimer) this.flushNow()
    return settlesBy(this.idle.promise, deadline)
  }

  /** Gives up on writing (the worker stopped past its deadline; the leases cover what is left). */
  close(): void {
    clearTimeout(this.timer)
    clearTimeout(this.retryTimer)
  }

  private schedule(): void {
    if (this.retryTimer) return // it writes everything when it fires
    if (this.buffer.length >= this.o.batchMax || this.draining) {
      this.flushNow()
      return
    }
    if (this.timer) return
    if (this.o.delayMs === 0) {
      // Today's strict behaviour: write at once; what finishes during the write goes in the next.
      if (this.writing.size > 0) return
      this.timer = setTimeout(() => this.flushNow(), 0)
      return
    }
    this.timer = setTimeout(() => this.flushNow(), this.o.delayMs)
  }

  private flushNow(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.buffer.length === 0 || this.writing.size >= this.o.maxInFlight) return
    const batch = this.buffer.splice(0, Math.max(this.o.batchMax, 1))
    this.writing.add(batch)
    void this.write(batch)
  }

  private async write(batch: Finished[]): Promise<void> {
    try {
      const written = await finishTasks(
        this.o.sql,
        this.o.workerId,
        batch.map((f) => f.outcome),
      )
      this.writing.delete(batch)
      this.backoffMs = 0
      this.o.onDatabase(true)
      this.o.onWritten(batch, written)
    } catch (err) {
      this.writing.delete(batch)
      this.buffer.unshift(...batch)
      if (isConnectionError(err)) this.o.onDatabase(false, err)
      else this.o.log.error('writing outcomes failed; retrying', { worker: this.o.workerId, error: err })
      this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 250), 5000)
      clearTimeout(this.timer)
      this.timer = undefined
      clearTimeout(this.retryTimer)
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined
        this.flushNow()
      }, this.backoffMs)
      return
    }
    if (this.buffer.length > 0) {
      // More arrived meanwhile: with delayMs 0 they go now; otherwise their own timer (or size) decides.
      if (this.o.delayMs === 0 || this.draining || this.buffer.length >= this.o.batchMax) this.flushNow()
      else this.schedule()
    } else if (this.writing.size === 0 && this.idle) {
      this.idle.resolve()
      this.idle = null
    }
  }
}

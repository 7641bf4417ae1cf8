// The worker's heartbeat: every lease/3 it extends the leases of the tasks it holds — executing,
// claimed ahead, or finished with the outcome not yet written — so a healthy worker never loses
// one, and hands the database's answer back: which of them are still ours, with any cancel
// requests missed on NOTIFY. The worker judges what to abort or drop.
import type { Sql } from '../db/connect'
import { isConnectionError } from '../db/connect'
import type { Logger } from '../log'
import { extendLeases } from '../queue/finish'
import { heartbeatWorker } from '../queue/workers'

export interface HeartbeatOptions {
  sql: Sql
  workerId: string
  leaseMs: number
  log: Logger
  /** Every task whose lease this worker keeps. */
  held: () => string[]
  /**
   * The held tasks still ours (id → cancel requested), and performance.now() when the statement was
   * sent: only tasks held since before then can be judged by the answer.
   */
  onLeases: (ours: ReadonlyMap<string, boolean>, sentAt: number) => void
  onTick: () => Promise<void>
  onDatabase: (up: boolean, err?: unknown) => void
}

export class Heartbeat {
  private timer: Timer | undefined
  private busy = false

  constructor(private readonly o: HeartbeatOptions) {}

  get intervalMs(): number {
    return Math.max(200, Math.floor(this.o.leaseMs / 3))
  }

  start(): void {
    this.timer = setInterval(() => void this.beat(), this.intervalMs)
  }

  stop(): void {
    clearInterval(this.timer)
  }

  async beat(): Promise<void> {
    if (this.busy) return
    this.busy = true
    // Only attempts that began before this statement can be judged by its answer.
    const sentAt = performance.now()
    try {
      await heartbeatWorker(this.o.sql, this.o.workerId)
      const held = await extendLeases(this.o.sql, this.o.workerId, this.o.leaseMs, this.o.held())
      this.o.onLeases(new Map(held.map((r) => [r.id, r.cancel_requested])), sentAt)
      await this.o.onTick()
      this.o.onDatabase(true)
    } catch (err) {
      if (isConnectionError(err)) this.o.onDatabase(false, err)
      else this.o.log.error('heartbeat failed', { worker: this.o.workerId, error: err })
    } finally {
      this.busy = false
    }
  }
}

// The worker's heartbeat: every lease/3 it extends the leases of the tasks it runs (so a healthy
// worker never loses one), learns of cancel requests it may have missed on NOTIFY, and notices
// tasks taken from it (rescued while it was cut off), whose handlers it then aborts.
import type { Sql } from '../db/connect'
import { isConnectionError } from '../db/connect'
import type { Logger } from '../log'
import { extendLeases } from '../queue/finish'
import { heartbeatWorker } from '../queue/workers'
import type { Attempt } from './execute'

export interface HeartbeatOptions {
  sql: Sql
  workerId: string
  leaseMs: number
  log: Logger
  running: () => ReadonlyMap<string, Attempt>
  onCancel: (taskId: string) => void
  onLeaseLost: (taskId: string) => void
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
      const held = await extendLeases(this.o.sql, this.o.workerId, this.o.leaseMs, [
        ...this.o.running().keys(),
      ])
      const ours = new Map(held.map((r) => [r.id, r.cancel_requested]))
      for (const [id, attempt] of this.o.running()) {
        if (attempt.startedAt > sentAt) continue
        const cancel = ours.get(id)
        if (cancel === undefined) this.o.onLeaseLost(id)
        else if (cancel) this.o.onCancel(id)
      }
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

// Claiming. The claimer keeps the worker supplied: it claims for every slot that would otherwise
// go idle, and, with prefetch on, ahead of them into a local queue, so a finished attempt's slot
// is refilled from memory instead of waiting for a claim round trip. Claims are coalesced: wakes
// that arrive while one is in flight make one more claim after it, never a second one at once.
//
// How much is claimed ahead (STARTER__WORKER__PREFETCH = p; 0 is the strict worker that claims
// only for free slots):
//   - by count: at most p × concurrency tasks wait in the local queue; it is refilled when at least
//     min(2 × concurrency, that cap) can be claimed, so claims stay large (one statement for many
//     tasks) instead of one per finished attempt;
//   - by time: at most as many as are expected to start within HORIZON_MS, from the recent run
//     time (an average over the last attempts); a worker running 4 s tasks holds none ahead, so long
//     tasks are never hoarded while another worker idles. Until the first attempt ends nothing is
//     known, and nothing is claimed ahead.
// A task claimed ahead is `running` in the database (its lease kept by the heartbeat) but not yet
// executing; if the worker drains, or the type is paused meanwhile, it is handed back uncounted.
import type { Sql } from '../db/connect'
import { isConnectionError } from '../db/connect'
import type { Logger } from '../log'
import type { ClaimedTask as Task } from '../queue/claim'
import { claimForWorker, nextRunAt } from '../queue/claim'
import type { QueueEventBus } from '../queue/events'
import type { WorkerMode } from './mode'
import type { TypeView } from './type-view'

/** A task claimed ahead should start within this long; measured: 50 ms keeps no-op drains at the count cap. */
export const HORIZON_MS = 50

const PRIORITY_RANK: Record<string, number> = { critical: 3, high: 2, normal: 1, low: 0 }

export interface Claimed {
  task: Task
  /** performance.now() when the claim returned: the heartbeat judges only claims older than its own statement. */
  claimedAt: number
  /** A breaker probe: starts at once, whatever the type's breaker says. */
  probe: boolean
}

export interface ClaimerOptions {
  sql: Sql
  workerId: string
  events: QueueEventBus
  log: Logger
  mode: WorkerMode
  types: TypeView
  concurrency: number
  prefetch: number
  leaseMs: number
  pollIntervalMs: number
  /** Attempts executing now. */
  executing: () => number
  /** New tasks are in the local queue (or a probe): start what fits. */
  onReady: () => void
  /** A claim that returned after the worker began draining: these must go back. */
  onLate: (tasks: Claimed[]) => void
  onDatabase: (up: boolean, err?: unknown) => void
}

export class Claimer {
  private queue: Claimed[] = []
  private inFlight: Promise<void> | null = null
  /** The last claim got fewer than it asked for: the database has no more ready work for us. */
  private dry = false
  /** The strongest wake-up that arrived while a claim was in flight; it is acted on after. */
  private wokenDuringClaim: 'fresh' | 'slot' | null = null
  private pollTimer: Timer | undefined
  private retryTimer: Timer | undefined
  private backoffMs = 0
  /** Average run time of recent attempts (ms, exponential moving average); undefined until one ends. */
  private avgRunMs: number | undefined

  constructor(private readonly o: ClaimerOptions) {}

  get queued(): readonly Claimed[] {
    return this.queue
  }

  /** The next task to start, in priority order. */
  next(): Claimed | undefined {
    return this.queue.shift()
  }

  /** Takes a task out of the local queue (cancelled, or its lease lost). */
  remove(id: string): Claimed | undefined {
    const i = this.queue.findIndex((c) => c.task.id === id)
    return i < 0 ? undefined : this.queue.splice(i, 1)[0]
  }

  /** Empties the local queue (the worker drains: these go back uncounted). */
  takeAll(): Claimed[] {
    return this.queue.splice(0)
  }

  /** An attempt ran this long: feeds the time bound on claiming ahead. */
  ran(ms: number): void {
    this.avgRunMs = this.avgRunMs === undefined ? ms : this.avgRunMs + 0.1 * (ms - this.avgRunMs)
  }

  /** How many tasks may wait in the local queue now. */
  queueCap(): number {
    const { prefetch, concurrency } = this.o
    if (prefetch === 0 || this.avgRunMs === undefined) return 0
    const byTime = Math.floor((concurrency * HORIZON_MS) / Math.max(this.avgRunMs, 0.01))
    return Math.min(prefetch * concurrency, byTime)
  }

  /**
   * How many to claim now (0: not worth a claim). `slotFree`: a slot would go idle, which is worth
   * a claim even if the last came back short (the strict worker's rule: claim on every free slot).
   */
  private wanted(slotFree: boolean): number {
    const c = this.o.concurrency
    const held = this.o.executing() + this.queue.length
    const cap = this.queueCap()
    const room = c + cap - held
    if (room <= 0) return 0
    if (held < c && slotFree) return room
    if (this.dry) return 0
    return held < c || room >= Math.max(1, Math.min(2 * c, cap)) ? room : 0
  }

  /**
   * Claim as soon as worthwhile (coalesced). `fresh`: there may be new work (a notification, the
   * poll timer, a type resumed); `slot`: an attempt ended or a task went back; `again`: the claim
   * loop asking whether to go on.
   */
  wake(why: 'fresh' | 'slot' | 'again' = 'fresh'): void {
    if (!this.o.mode.accepting || this.retryTimer) return
    if (this.inFlight) {
      if (why === 'fresh') this.wokenDuringClaim = 'fresh'
      else if (why === 'slot' && this.wokenDuringClaim !== 'fresh') this.wokenDuringClaim = 'slot'
      return
    }
    if (why === 'fresh') this.dry = false
    const slotFree = why !== 'again'
    if (this.wanted(slotFree) <= 0) return
    this.inFlight = this.claim(slotFree)
  }

  /** The database is back: claim now rather than after the backoff. */
  retryNow(): void {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer)
      this.retryTimer = undefined
    }
    this.wake('fresh')
  }

  /** Stops claiming; resolves when a claim in flight has returned (its tasks then went to onLate). */
  stop(): Promise<void> {
    clearTimeout(this.pollTimer)
    clearTimeout(this.retryTimer)
    return this.inFlight ?? Promise.resolve()
  }

  private async claim(slotFree: boolean): Promise<void> {
    // Let every wake of this turn share the claim.
    await Promise.resolve()
    let limit = 0
    let got = 0
    try {
      limit = this.wanted(slotFree)
      if (limit <= 0 || !this.o.mode.accepting) return
      const now = new Date()
      const { all, probes } = this.o.types.claimable(now)
      const claimed = await claimForWorker(this.o.sql, {
        workerId: this.o.workerId,
        types: all,
        limit,
        leaseMs: this.o.leaseMs,
      })
      got = claimed.length
      const at = performance.now()
      const fresh: Claimed[] = claimed.map((task) => ({ task, claimedAt: at, probe: false }))
      for (const name of probes) {
        if (this.o.executing() + this.queue.length + fresh.length >= this.o.concurrency) break
        const [probe] = await claimForWorker(this.o.sql, {
          workerId: this.o.workerId,
          types: [name],
          limit: 1,
          leaseMs: this.o.leaseMs,
        })
        if (!probe) continue
        fresh.unshift({ task: probe, claimedAt: performance.now(), probe: true })
        await this.o.types.probeClaimed(name)
      }
      this.o.onDatabase(true)
      this.backoffMs = 0
      if (fresh.length > 0) {
        this.o.events.emit('worker:claimed', { workerId: this.o.workerId, count: fresh.length })
        if (!this.o.mode.accepting) {
          this.o.onLate(fresh)
          return
        }
        this.enqueue(fresh)
        this.o.onReady()
      }
      this.dry = got < limit
      if (this.dry) await this.armPollTimer(now)
    } catch (err) {
      this.retryLater(err)
    } finally {
      this.inFlight = null
      const woken = this.wokenDuringClaim
      this.wokenDuringClaim = null
      this.wake(woken ?? 'again')
    }
  }

  /** Merges claimed tasks into the queue by priority (stable: equal priorities keep claim order). */
  private enqueue(fresh: Claimed[]): void {
    const rank = (c: Claimed) => (c.probe ? 99 : (PRIORITY_RANK[c.task.priority] ?? 1))
    if (this.queue.length === 0) {
      this.queue = fresh.sort((a, b) => rank(b) - rank(a))
      return
    }
    this.queue = [...this.queue, ...fresh].sort((a, b) => rank(b) - rank(a))
  }

  /** Sleep until the next scheduled/retrying task or breaker probe is due, at most one poll interval. */
  private async armPollTimer(now: Date): Promise<void> {
    let wait = this.o.pollIntervalMs
    const next = await nextRunAt(this.o.sql, this.o.types.handled)
    if (next) wait = Math.min(wait, next.getTime() - Date.now() + 5)
    const probe = this.o.types.nextProbeAt()
    if (probe) wait = Math.min(wait, probe.getTime() - now.getTime() + 5)
    clearTimeout(this.pollTimer)
    if (this.o.mode.accepting) this.pollTimer = setTimeout(() => this.wake('fresh'), Math.max(wait, 5))
  }

  private retryLater(err: unknown): void {
    if (!isConnectionError(err)) this.o.log.error('claim failed', { worker: this.o.workerId, error: err })
    else this.o.onDatabase(false, err)
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 250), 5000)
    clearTimeout(this.retryTimer)
    // Until it fires, wake-ups are ignored: a database that is away is asked again after the backoff.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.wake('fresh')
    }, this.backoffMs)
  }
}

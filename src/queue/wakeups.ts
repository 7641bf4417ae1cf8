// Long-polling claims wait here for new work. They wake on the very signals tasklab's own workers
// wake on: the NOTIFY on TASKS_CHANNEL that every enqueue, retry and rescue sends (debounced, see
// notify.ts), the control channel's news that a type was resumed or its breaker closed, and the
// same process's local pokes. Nothing polls the tasks table; the only timer is
// the one the caller sets for a task that becomes due (scheduled, retrying) before its wait ends.
import type { Sql } from '../db/connect'
import { CONTROL_CHANNEL, type Notifier, TASKS_CHANNEL } from './notify'

// Every Wakeups of this process, so that a graceful stop can end their waits (closeWakeups).
const all = new Set<Wakeups>()

/**
 * Ends every wait now and every later one at once. The HTTP server's stop waits for requests in
 * flight: without this, SIGTERM sat out the longest long poll (measured: 20.7 s for wait_ms 20000).
 */
export function closeWakeups(): void {
  for (const w of all) w.close()
}

/**
 * How many waits of this process are parked now, past their claim that found nothing. Tests wait
 * for it before they enqueue, so that the task reaches a claim that waits rather than the first
 * look at the table.
 */
export function parkedWaits(): number {
  let n = 0
  for (const w of all) n += w.parked
  return n
}

export class Wakeups {
  private readonly waiting = new Set<() => void>()
  private listening: Promise<unknown> | undefined
  closed = false

  constructor(
    private readonly sql: Sql,
    private readonly notifier: Notifier,
  ) {
    all.add(this)
  }

  get parked(): number {
    return this.waiting.size
  }

  close(): void {
    this.closed = true
    all.delete(this)
    this.wakeAll()
  }

  /** Resolves at the next wake-up, after `ms`, or when `signal` fires, whichever is first. */
  async next(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return
    this.listening ??= this.listen()
    await this.listening
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiting.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, ms))
      this.waiting.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  private wakeAll = () => {
    for (const fn of [...this.waiting]) fn()
  }

  private async listen(): Promise<unknown> {
    this.notifier.onLocalWake(this.wakeAll)
    // The third argument runs again after a reconnect: whatever was notified meanwhile is lost,
    // so every waiter looks at the table once more.
    // A type resumed or its breaker closed (`{kind: 'types'}` on the control channel): its waiting
    // tasks may be claimed now.
    const onControl = (payload: string) => {
      if (payload.includes('"types"')) this.wakeAll()
    }
    return Promise.all([
      this.sql.listen(TASKS_CHANNEL, this.wakeAll, this.wakeAll),
      this.sql.listen(CONTROL_CHANNEL, onControl),
    ]).catch((err) => {
      this.listening = undefined
      throw err
    })
  }
}

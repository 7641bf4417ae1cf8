// The typed event map that observability hangs off: the logger, the metrics and the tests all
// listen to these, and the API streams what the database records (the task_events view).
import { EventEmitter } from 'node:events'
import type { BreakerState } from './breaker'
import type { TaskStatus } from './states'

export interface QueueEvents {
  'task:transition': {
    id: string
    taskType: string
    from: TaskStatus | null
    to: TaskStatus
    attempt: number
    workerId?: string
    error?: string
    durationMs?: number
  }
  'breaker:changed': { taskType: string; from: BreakerState; to: BreakerState; failures: number }
  'worker:started': { workerId: string; types: string[]; concurrency: number }
  /** handedBack counts both: attempts aborted at the deadline and tasks claimed ahead that never started. */
  'worker:stopped': { workerId: string; handedBack: number; prefetched: number }
  /** An attempt ended and freed its slot; its outcome may not be written yet (write-behind). */
  'attempt:ended': { id: string; workerId: string; durationMs: number }
  'worker:claimed': { workerId: string; count: number }
  'db:lost': { error: string }
  'db:restored': Record<string, never>
}

export type EventName = keyof QueueEvents

export class QueueEventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(100)

  on<E extends EventName>(event: E, fn: (payload: QueueEvents[E]) => void): () => void {
    this.emitter.on(event, fn)
    return () => this.emitter.off(event, fn)
  }

  emit<E extends EventName>(event: E, payload: QueueEvents[E]): void {
    // A listener's bug must not break the worker loop that emitted the event.
    try {
      this.emitter.emit(event, payload)
    } catch (err) {
      console.error(`listener for ${event} threw`, err)
    }
  }

  /** Resolves with the first event that matches; for tests ("wait on events, never on sleeps"). */
  waitFor<E extends EventName>(
    event: E,
    match: (p: QueueEvents[E]) => boolean = () => true,
    timeoutMs = 30_000,
  ) {
    return new Promise<QueueEvents[E]>((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${event}`))
      }, timeoutMs)
      const off = this.on(event, (p) => {
        if (!match(p)) return
        clearTimeout(timer)
        off()
        resolve(p)
      })
    })
  }
}

// Reading worker liveness and breaker timing from the API's rows, whichever fields it fills.
import type { TaskType, WorkerInfo } from '../lib/types'

/** The server's verdict when it gives one; else a heartbeat within the default 30 s lease. */
export function isAlive(w: WorkerInfo, now = Date.now()): boolean {
  if (typeof w.alive === 'boolean') return w.alive
  if (w.stopped_at) return false
  return now - new Date(w.heartbeat_at).getTime() < 30_000
}

export function liveWorkerCount(t: TaskType, alive: WorkerInfo[]): number {
  if (t.workers) return t.workers.alive
  return alive.filter((w) => w.task_types?.includes(t.task_type)).length
}

/** When an open breaker lets its next probe through. */
export function nextProbe(t: TaskType): string | null {
  const b = t.breaker
  if (b.state !== 'open' || !b.opened_at) return null
  return new Date(new Date(b.opened_at).getTime() + b.cooldown_ms).toISOString()
}

/** "next probe in 12 s", or that one is due (the next claim of this type lets it through). */
export function probeText(at: string, now = Date.now()): string {
  const ms = new Date(at).getTime() - now
  return ms > 1000
    ? `next probe in ${Math.ceil(ms / 1000)} s`
    : 'cool-down over: the next task of this type is the probe'
}

// Housekeeping that any tasklab process runs (workers and the API server alike, so that a queue
// with every worker dead still shows the truth): rescue tasks whose lease expired, forget workers
// gone for a day. Rescue runs every second (or lease/3 if shorter), so a task is back in the queue
// within lease + 1 s of its worker's death. Retention and the queue's vacuum (vacuum.ts) run on
// timers of their own, so a long purge or VACUUM never delays a rescue.
import type { Sql } from '../db/connect'
import { isConnectionError } from '../db/connect'
import type { Logger } from '../log'
import type { QueueEventBus } from '../queue/events'
import type { Notifier } from '../queue/notify'
import { failOverdueRemote } from '../queue/remote'
import { rescueExpired } from '../queue/rescue'
import { type RetentionSettings, scheduleRetention } from '../queue/retention'
import { WORKER_LOST } from '../queue/states'
import { pruneWorkers } from '../queue/workers'
import { scheduleVacuum, type VacuumMode } from './vacuum'

export function startMaintenance(opts: {
  sql: Sql
  log: Logger
  events: QueueEventBus
  notifier: Notifier
  leaseMs: number
  /** Deletes expired finished tasks on its own timer, so a long purge never delays a rescue. */
  retention?: RetentionSettings
  /** Remote (HTTP) workers' attempts past their timeout are failed here; no process times them. */
  defaultTimeoutMs?: number
  /** `auto` vacuums the hot tables when autovacuum is off for them, on a connection to this URL. */
  vacuum?: { mode: VacuumMode; url: string }
}): () => void {
  const intervalMs = Math.max(100, Math.min(1000, Math.floor(opts.leaseMs / 3)))
  let busy = false
  let ticks = 0
  const tick = async () => {
    if (busy) return
    busy = true
    try {
      const overdue =
        opts.defaultTimeoutMs === undefined ? [] : await failOverdueRemote(opts.sql, opts.defaultTimeoutMs)
      for (const o of overdue) {
        opts.log.warn('remote task timed out', { task: o.id, worker: o.worker, status: o.outcome.status })
        opts.events.emit('task:transition', {
          id: o.id,
          taskType: o.task_type,
          from: 'running',
          to: o.outcome.status,
          attempt: o.attempt,
          workerId: o.worker,
          error: 'error' in o.outcome ? o.outcome.error : undefined,
        })
      }
      const rescued = await rescueExpired(opts.sql)
      for (const r of rescued) {
        opts.log.warn('task rescued from a lost worker', { task: r.id, worker: r.worker, status: r.status })
        opts.events.emit('task:transition', {
          id: r.id,
          taskType: r.task_type,
          from: 'running',
          to: r.status,
          attempt: r.attempt,
          workerId: r.worker,
          error: WORKER_LOST,
        })
      }
      if (rescued.length + overdue.length > 0) opts.notifier.poke()
      if (++ticks % 3600 === 0) await pruneWorkers(opts.sql)
    } catch (err) {
      if (!isConnectionError(err)) opts.log.error('maintenance failed', { error: err })
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => void tick(), intervalMs)
  const stopRetention = opts.retention ? scheduleRetention({ ...opts, settings: opts.retention }) : () => {}
  const stopVacuum =
    opts.vacuum?.mode === 'auto' ? scheduleVacuum({ url: opts.vacuum.url, log: opts.log }) : async () => {}
  return () => {
    clearInterval(timer)
    stopRetention()
    void stopVacuum()
  }
}

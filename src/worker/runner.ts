// The worker: keeps up to `concurrency` attempts running. There is no batch barrier: each attempt
// frees its slot on its own, and a claim for every free slot follows at once, so one slow task
// never stalls pickup. Claims and completions are batched by coalescing, not by waiting: all
// outcomes that finish while a write is in flight go out together in the next one.
import { appendFileSync } from 'node:fs'
import { hostname } from 'node:os'
import type { Sql } from '../db/connect'
import { isConnectionError } from '../db/connect'
import type { TaskHandler } from '../handlers/contract'
import type { Logger } from '../log'
import { admits, type Breaker, isPristine, probeAt } from '../queue/breaker'
import type { ClaimedTask as Task } from '../queue/claim'
import { claimTasks, nextRunAt } from '../queue/claim'
import type { QueueEventBus } from '../queue/events'
import { finishTasks, type Outcome } from '../queue/finish'
import { CONTROL_CHANNEL, type ControlMessage, type Notifier, TASKS_CHANNEL } from '../queue/notify'
import {
  breakerOf,
  breakerSettingsOf,
  readTypes,
  recordBreaker,
  type TaskTypeRow,
  upsertTypes,
} from '../queue/registry'
import { registerWorker, stopWorker } from '../queue/workers'
import { AbortReason, type Attempt, type AttemptResult, startAttempt } from './execute'
import { Heartbeat } from './heartbeat'

export interface WorkerOptions {
  sql: Sql
  events: QueueEventBus
  log: Logger
  handlers: TaskHandler[]
  /** The --id given on the command line; the worker's full id adds host and pid to stay unique. */
  idSuffix?: string
  concurrency: number
  pollIntervalMs: number
  leaseMs: number
  shutdownGraceMs: number
  defaultTimeoutMs: number
  /** Same-process wake-ups, when the API runs in this process too. */
  notifier?: Notifier
  /** Appends `{task_id, attempt, worker, at}` per execution: the torture tests count duplicates from it. */
  journalFile?: string
  /** Chaos hooks; left undefined when chaos is off. */
  beforeRun?: (task: Task, signal: AbortSignal) => Promise<void>
  onControl?: (msg: ControlMessage, worker: Worker) => void
}

export class Worker {
  readonly id: string
  private readonly handlers: Map<string, TaskHandler>
  private readonly running = new Map<string, Attempt>()
  private readonly outbox: { outcome: Outcome; result: AttemptResult; task: Task }[] = []
  private types = new Map<string, TaskTypeRow>()
  /** Types with a breaker probe in flight in this worker: at most one each. */
  private readonly probing = new Set<string>()
  private claiming = false
  private wakeAgain = false
  private flushing = false
  private stopping = false
  private graceOver = false
  private pollTimer: Timer | undefined
  private retryTimer: Timer | undefined
  private backoffMs = 0
  private dbDown = false
  private readonly heartbeat: Heartbeat
  private readonly unsubscribe: (() => unknown)[] = []

  constructor(private readonly opts: WorkerOptions) {
    this.id = `${hostname().replace(/[^A-Za-z0-9.-]/g, '-')}-${process.pid}-w${opts.idSuffix ?? '0'}`
    this.handlers = new Map(opts.handlers.map((h) => [h.type, h]))
    this.heartbeat = new Heartbeat({
      sql: opts.sql,
      workerId: this.id,
      leaseMs: opts.leaseMs,
      log: opts.log,
      running: () => this.running,
      onCancel: (id) => this.abort(id, new AbortReason('cancel', 'cancelled by user')),
      onLeaseLost: (id) => this.abort(id, new AbortReason('lease_lost', 'lease lost: the task was rescued')),
      onTick: () => this.refreshTypes(),
      onDatabase: (up, err) => this.setDatabase(up, err),
    })
  }

  get taskTypes(): string[] {
    return [...this.handlers.keys()]
  }

  get inFlight(): number {
    return this.running.size
  }

  async start(): Promise<void> {
    const { sql, log } = this.opts
    await upsertTypes(
      sql,
      this.opts.handlers.map((h) => ({
        name: h.type,
        description: h.description,
        payload_schema: JSON.parse(JSON.stringify(h.schema)),
        example_payload: h.example,
      })),
    )
    await registerWorker(sql, {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      concurrency: this.opts.concurrency,
      leaseMs: this.opts.leaseMs,
      types: this.taskTypes,
    })
    await this.refreshTypes()
    // listen() reconnects by itself after the database comes back and then calls onlisten again,
    // where we claim: notifications sent while we were away are lost, the tasks are not.
    const tasks = await sql.listen(
      TASKS_CHANNEL,
      () => this.wake(),
      () => this.wake(),
    )
    const control = await sql.listen(CONTROL_CHANNEL, (payload) => this.control(payload))
    this.unsubscribe.push(
      () => tasks.unlisten(),
      () => control.unlisten(),
    )
    if (this.opts.notifier) this.unsubscribe.push(this.opts.notifier.onLocalWake(() => this.wake()))
    this.heartbeat.start()
    this.opts.events.emit('worker:started', {
      workerId: this.id,
      types: this.taskTypes,
      concurrency: this.opts.concurrency,
    })
    log.info('worker started', {
      worker: this.id,
      concurrency: this.opts.concurrency,
      types: this.taskTypes.join(','),
    })
    this.wake()
  }

  /** Claim as soon as possible (coalesced: many wakes in one turn make one claim). */
  wake(): void {
    if (this.stopping) return
    if (this.claiming) {
      this.wakeAgain = true
      return
    }
    this.claiming = true
    queueMicrotask(() => void this.claim())
  }

  private async claim(): Promise<void> {
    let full = false
    try {
      const free = this.opts.concurrency - this.running.size
      if (free <= 0 || this.stopping) return
      const now = new Date()
      const all: string[] = []
      const probes: string[] = []
      for (const [name, row] of this.types) {
        if (row.paused || !row.is_active || !this.handlers.has(name)) continue
        const a = admits(breakerOf(row), breakerSettingsOf(row), now)
        if (a === 'all') all.push(name)
        else if (a === 'probe' && !this.probing.has(name)) probes.push(name)
      }
      const tasks = await claimTasks(this.opts.sql, {
        workerId: this.id,
        types: all,
        limit: free,
        leaseMs: this.opts.leaseMs,
      })
      full = tasks.length === free
      for (const name of probes) {
        if (tasks.length >= free) break
        const [probe] = await claimTasks(this.opts.sql, {
          workerId: this.id,
          types: [name],
          limit: 1,
          leaseMs: this.opts.leaseMs,
        })
        if (!probe) continue
        this.probing.add(name)
        const changed = await recordBreaker(this.opts.sql, name, 'probe')
        if (changed) this.applyBreaker(changed.row, changed.before)
        tasks.push(probe)
      }
      if (tasks.length > 0)
        this.opts.events.emit('worker:claimed', { workerId: this.id, count: tasks.length })
      for (const task of tasks) this.begin(task)
      this.setDatabase(true)
      this.backoffMs = 0
      if (!full) await this.armPollTimer(now)
    } catch (err) {
      this.retryLater(err)
    } finally {
      this.claiming = false
      if (full || this.wakeAgain) {
        this.wakeAgain = false
        this.wake()
      }
    }
  }

  /** Sleep until the next scheduled/retrying task or breaker probe is due, at most one poll interval. */
  private async armPollTimer(now: Date): Promise<void> {
    let wait = this.opts.pollIntervalMs
    const next = await nextRunAt(this.opts.sql, this.taskTypes)
    if (next) wait = Math.min(wait, next.getTime() - Date.now() + 5)
    for (const row of this.types.values()) {
      const at = probeAt(breakerOf(row), breakerSettingsOf(row))
      if (at) wait = Math.min(wait, at.getTime() - now.getTime() + 5)
    }
    clearTimeout(this.pollTimer)
    this.pollTimer = setTimeout(() => this.wake(), Math.max(wait, 5))
  }

  private retryLater(err: unknown): void {
    if (!isConnectionError(err)) this.opts.log.error('claim failed', { worker: this.id, error: err })
    else this.setDatabase(false, err)
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 250), 5000)
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => this.wake(), this.backoffMs)
  }

  private begin(task: Task): void {
    const handler = this.handlers.get(task.task_type)
    const type = this.types.get(task.task_type)
    const timeoutMs = task.timeout_ms ?? type?.timeout_ms ?? handler?.timeoutMs ?? this.opts.defaultTimeoutMs
    const log = this.opts.log.child({ task: task.id, type: task.task_type, attempt: task.current_attempt })
    this.opts.events.emit('task:transition', {
      id: task.id,
      taskType: task.task_type,
      from: task.current_attempt > 1 ? 'retrying' : 'pending',
      to: 'running',
      attempt: task.current_attempt,
      workerId: this.id,
    })
    if (this.opts.journalFile)
      appendFileSync(
        this.opts.journalFile,
        `${JSON.stringify({ task_id: task.id, attempt: task.current_attempt, worker: this.id, at: Date.now() })}\n`,
      )
    const attempt = startAttempt(task, {
      handler,
      timeoutMs,
      beforeRun: this.opts.beforeRun,
      context: {
        id: task.id,
        taskType: task.task_type,
        attempt: task.current_attempt,
        maxAttempts: task.max_attempts,
        metadata: task.metadata,
        createdBy: task.created_by,
        createdAt: task.created_at,
        log,
        sql: this.opts.sql,
      },
    })
    this.running.set(task.id, attempt)
    // Claimed after the grace period ended (a slow claim): hand it back at once.
    if (this.graceOver) attempt.controller.abort(new AbortReason('shutdown', 'worker shutting down'))
    attempt.done.then((result) => {
      if (!result.outcome) {
        // The lease was lost: another worker owns the task now. Free the slot, report nothing.
        this.opts.log.warn('attempt abandoned: its lease expired and the task was rescued', {
          task: task.id,
          attempt: task.current_attempt,
          worker: this.id,
        })
        this.running.delete(task.id)
        this.probing.delete(task.task_type)
        this.wake()
        return
      }
      this.outbox.push({ outcome: result.outcome, result, task })
      this.flush()
    })
  }

  private abort(id: string, reason: AbortReason): void {
    this.running.get(id)?.controller.abort(reason)
  }

  /** Writes every finished outcome in one statement; runs again at once if more arrived meanwhile. */
  private flush(): void {
    if (this.flushing || this.outbox.length === 0) return
    this.flushing = true
    queueMicrotask(() => void this.flushNow())
  }

  private async flushNow(): Promise<void> {
    const batch = this.outbox.splice(0)
    try {
      const written = await finishTasks(
        this.opts.sql,
        this.id,
        batch.map((b) => b.outcome),
      )
      this.setDatabase(true)
      for (const b of batch) {
        this.running.delete(b.task.id)
        if (!written.has(b.task.id)) {
          this.opts.log.warn('outcome discarded: the task was taken from this worker (lease expired)', {
            task: b.task.id,
          })
          continue
        }
        this.report(b)
      }
      this.flushing = false
      await this.updateBreakers(batch)
    } catch (err) {
      // Keep the outcomes (and their slots) and write them when the database is back. If that takes
      // longer than the lease, the tasks are rescued and these writes are refused by their guard.
      this.outbox.unshift(...batch)
      if (isConnectionError(err)) this.setDatabase(false, err)
      else this.opts.log.error('writing outcomes failed', { worker: this.id, error: err })
      await Bun.sleep(Math.min(Math.max(this.backoffMs, 250), 5000))
      this.flushing = false
    }
    if (this.outbox.length > 0) this.flush()
    this.wake()
  }

  private report({ outcome, result, task }: { outcome: Outcome; result: AttemptResult; task: Task }): void {
    const error = 'error' in outcome ? outcome.error : undefined
    this.opts.events.emit('task:transition', {
      id: task.id,
      taskType: task.task_type,
      from: 'running',
      to: outcome.status,
      attempt: task.current_attempt,
      workerId: this.id,
      error,
      durationMs: result.durationMs,
    })
  }

  /** Breaker writes happen only on failures and on the first success after one. */
  private async updateBreakers(batch: { result: AttemptResult; task: Task }[]): Promise<void> {
    for (const { result, task } of batch) {
      const type = task.task_type
      const wasProbe = this.probing.delete(type)
      const row = this.types.get(type)
      if (!result.breaker || !row) continue
      if (result.breaker === 'success' && isPristine(breakerOf(row)) && !wasProbe) continue
      try {
        const changed = await recordBreaker(this.opts.sql, type, result.breaker)
        if (changed) this.applyBreaker(changed.row, changed.before)
      } catch (err) {
        this.opts.log.warn('breaker update failed', { type, error: err })
      }
    }
  }

  private applyBreaker(row: TaskTypeRow, before: Breaker['state']): void {
    this.types.set(row.name, row)
    if (row.breaker_state === before) return
    this.opts.events.emit('breaker:changed', {
      taskType: row.name,
      from: before,
      to: row.breaker_state,
      failures: row.breaker_failures,
    })
    this.opts.log.warn(`circuit breaker ${row.breaker_state}`, {
      type: row.name,
      from: before,
      failures: row.breaker_failures,
    })
    // Other workers refresh their view of the type at once.
    this.opts.sql`SELECT pg_notify(${CONTROL_CHANNEL}, ${JSON.stringify({ kind: 'types' })})`.catch(() => {})
  }

  private async refreshTypes(): Promise<void> {
    const rows = await readTypes(this.opts.sql, this.taskTypes)
    const before = new Map(this.types)
    this.types = new Map(rows.map((r) => [r.name, r]))
    // A type resumed or a breaker closed elsewhere: claim now rather than at the next poll.
    const unblocked = rows.some((r) => {
      const old = before.get(r.name)
      return (
        old && ((old.paused && !r.paused) || (old.breaker_state !== 'closed' && r.breaker_state === 'closed'))
      )
    })
    if (unblocked) this.wake()
  }

  private control(payload: string): void {
    let msg: ControlMessage
    try {
      msg = JSON.parse(payload)
    } catch {
      return
    }
    if (msg.kind === 'cancel') this.abort(msg.id, new AbortReason('cancel', 'cancelled by user'))
    else if (msg.kind === 'types') this.refreshTypes().catch(() => {})
    this.opts.onControl?.(msg, this)
  }

  private setDatabase(up: boolean, err?: unknown): void {
    if (up === !this.dbDown) return
    this.dbDown = !up
    if (up) {
      this.opts.log.info('database connection restored', { worker: this.id })
      this.opts.events.emit('db:restored', {})
      this.wake()
    } else {
      const message = err instanceof Error ? err.message : String(err)
      this.opts.log.warn('database unreachable; retrying', { worker: this.id, error: message })
      this.opts.events.emit('db:lost', { error: message })
    }
  }

  /**
   * Graceful stop: claim nothing more, give running attempts the grace period, then abort the rest
   * and hand them back to the queue (running → pending, the attempt not counted). Returns how many
   * were handed back.
   */
  async stop(graceMs = this.opts.shutdownGraceMs): Promise<number> {
    if (this.stopping) return 0
    this.stopping = true
    clearTimeout(this.pollTimer)
    clearTimeout(this.retryTimer)
    const deadline = Date.now() + graceMs
    // A claim in flight still hands us tasks (it committed, or will): wait for it too, or they would
    // be left `running` behind us until their lease expired.
    while ((this.running.size > 0 || this.claiming) && Date.now() < deadline)
      await Bun.sleep(Math.min(50, deadline - Date.now()))
    this.graceOver = true
    let handedBack = 0
    for (const [, attempt] of this.running) {
      attempt.controller.abort(new AbortReason('shutdown', 'worker shutting down'))
      handedBack++
    }
    // The aborted attempts settle at once; wait for their hand-back to be written (bounded).
    const flushDeadline = Date.now() + 5000
    while ((this.running.size > 0 || this.flushing || this.claiming) && Date.now() < flushDeadline)
      await Bun.sleep(20)
    this.heartbeat.stop()
    for (const off of this.unsubscribe) await Promise.resolve(off()).catch(() => {})
    await stopWorker(this.opts.sql, this.id).catch(() => {})
    this.opts.events.emit('worker:stopped', { workerId: this.id, handedBack })
    this.opts.log.info('worker stopped', { worker: this.id, handed_back: handedBack })
    return handedBack
  }

  /** Used by heartbeat failure recovery and tests: true while this worker has no database. */
  get databaseDown(): boolean {
    return this.dbDown
  }
}

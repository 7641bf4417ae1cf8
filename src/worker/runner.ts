// The worker: keeps up to `concurrency` attempts executing. It wires four small parts together —
// the claimer (claim loop, local queue of tasks claimed ahead), the completer (write-behind of
// outcomes), the type view (what may run: pause, breakers) and the heartbeat (leases) — around one
// asserted mode (mode.ts). A finished attempt frees its slot at once: the next task starts from
// the local queue while the outcome waits for the next write.
import { appendFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { DEFAULT_PREFETCH } from '../config'
import type { Sql } from '../db/connect'
import type { TaskHandler } from '../handlers/contract'
import type { Logger } from '../log'
import type { ClaimedTask as Task } from '../queue/claim'
import type { QueueEventBus } from '../queue/events'
import { handBack } from '../queue/hand-back'
import { CONTROL_CHANNEL, type ControlMessage, type Notifier, TASKS_CHANNEL } from '../queue/notify'
import { upsertTypes } from '../queue/registry'
import { registerWorker, stopWorker } from '../queue/workers'
import { type Claimed, Claimer } from './claimer'
import { Completer, type Finished } from './completer'
import { AbortReason, type Attempt, type AttemptResult, startAttempt } from './execute'
import { Heartbeat } from './heartbeat'
import { settlesBy, WorkerMode } from './mode'
import { TypeView } from './type-view'

export interface WorkerOptions {
  sql: Sql
  events: QueueEventBus
  log: Logger
  handlers: TaskHandler[]
  /** The --id given on the command line; the worker's full id adds host and pid to stay unique. */
  idSuffix?: string
  concurrency: number
  /** Tasks claimed ahead, as a multiple of concurrency (STARTER__WORKER__PREFETCH); 0 = strict. */
  prefetch?: number
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

/** How long stop() waits, after the grace period, for aborted attempts' hand-backs and the last writes. */
const FINAL_WRITE_MS = 5000

export class Worker {
  readonly id: string
  private readonly handlers: Map<string, TaskHandler>
  private readonly mode = new WorkerMode()
  private readonly executing = new Map<string, Attempt>()
  private readonly types: TypeView
  private readonly claimer: Claimer
  private readonly completer: Completer
  private readonly heartbeat: Heartbeat
  /** Hand-backs in flight; stop() waits for them. */
  private readonly handingBack = new Set<Promise<unknown>>()
  /** Claimed tasks handed back without starting (counted from the start of the drain). */
  private prefetchedBack = 0
  /** Breaker writes, one after another. */
  private breakerWrites: Promise<void> = Promise.resolve()
  private dbDown = false
  /** STARTER__WORKER__PREFETCH=0: no claim ahead, and a slot stays taken until its outcome is written. */
  private readonly strict: boolean
  private stopped: Promise<number> | undefined
  private readonly unsubscribe: (() => unknown)[] = []

  constructor(private readonly opts: WorkerOptions) {
    this.id = `${hostname().replace(/[^A-Za-z0-9.-]/g, '-')}-${process.pid}-w${opts.idSuffix ?? '0'}`
    this.handlers = new Map(opts.handlers.map((h) => [h.type, h]))
    const onDatabase = (up: boolean, err?: unknown) => this.setDatabase(up, err)
    this.types = new TypeView({
      sql: opts.sql,
      events: opts.events,
      log: opts.log,
      handled: [...this.handlers.keys()],
      onUnblocked: () => this.claimer.wake('fresh'),
    })
    this.claimer = new Claimer({
      sql: opts.sql,
      workerId: this.id,
      events: opts.events,
      log: opts.log,
      mode: this.mode,
      types: this.types,
      concurrency: opts.concurrency,
      prefetch: opts.prefetch ?? DEFAULT_PREFETCH,
      leaseMs: opts.leaseMs,
      pollIntervalMs: opts.pollIntervalMs,
      executing: () => this.occupied(),
      onReady: () => this.pump(),
      onLate: (late) => this.giveBack(late),
      onDatabase,
    })
    const strict = (opts.prefetch ?? DEFAULT_PREFETCH) === 0
    this.strict = strict
    this.completer = new Completer({
      sql: opts.sql,
      workerId: this.id,
      log: opts.log,
      // Strict mode writes each outcome at once (coalescing only while a write is in flight), as
      // before claim-ahead; with prefetch the slot is already refilled, so waiting ≤ 10 ms for
      // company costs no throughput and makes one statement out of many outcomes.
      delayMs: strict ? 0 : 10,
      batchMax: Math.max(64, 2 * opts.concurrency),
      maxInFlight: strict ? 1 : 2,
      onWritten: (batch, written) => this.written(batch, written),
      onDatabase,
    })
    this.heartbeat = new Heartbeat({
      sql: opts.sql,
      workerId: this.id,
      leaseMs: opts.leaseMs,
      log: opts.log,
      held: () => [
        ...this.executing.keys(),
        ...this.claimer.queued.map((c) => c.task.id),
        ...this.completer.unwritten(),
      ],
      onLeases: (ours, sentAt) => this.judgeLeases(ours, sentAt),
      onTick: () => this.types.refresh(),
      onDatabase,
    })
  }

  get taskTypes(): string[] {
    return [...this.handlers.keys()]
  }

  /** Attempts executing now (never more than concurrency; tasks claimed ahead are not counted). */
  get inFlight(): number {
    return this.executing.size
  }

  /** Tasks claimed ahead, waiting in the local queue: `running` in the database, not executing. */
  get prefetched(): number {
    return this.claimer.queued.length
  }

  /** Whether this worker's view of the type says paused (the view refreshes on NOTIFY and heartbeat). */
  paused(type: string): boolean {
    return this.types.row(type)?.paused ?? false
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
    await this.types.refresh()
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
    // stop() may have been called while we were starting: it drains, and we do not run. What was
    // subscribed after its clean-up is undone here.
    if (this.mode.value !== 'starting') {
      for (const off of this.unsubscribe.splice(0)) await Promise.resolve(off()).catch(() => {})
      return
    }
    this.heartbeat.start()
    this.mode.to('running')
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

  /** New work may be queued: claim as soon as possible (coalesced). */
  wake(): void {
    this.claimer.wake('fresh')
  }

  /**
   * Slots taken. With prefetch, a slot frees the moment its attempt ends. Strict, it frees once the
   * outcome is written, as before claim-ahead: the table then never shows more tasks running for a
   * worker than its concurrency.
   */
  private occupied(): number {
    return this.executing.size + (this.strict ? this.completer.size : 0)
  }

  /** Starts tasks from the local queue while slots are free, then lets the claimer refill. */
  private pump(): void {
    if (!this.mode.accepting) return
    let now: Date | undefined
    let blocked: Claimed[] | undefined
    while (this.occupied() < this.opts.concurrency) {
      const next = this.claimer.next()
      if (!next) break
      now ??= new Date()
      // Paused, or its breaker opened, while it waited here: it goes back instead of starting.
      if (next.probe || this.types.mayStart(next.task.task_type, now)) this.begin(next.task)
      else {
        blocked ??= []
        blocked.push(next)
      }
    }
    if (blocked) this.giveBack(blocked)
    this.claimer.wake('slot')
  }

  private begin(task: Task): void {
    const handler = this.handlers.get(task.task_type)
    const type = this.types.row(task.task_type)
    const timeoutMs = task.timeout_ms ?? type?.timeout_ms ?? handler?.timeoutMs ?? this.opts.defaultTimeoutMs
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
        // Made only if the handler logs: most attempts never do.
        log: () =>
          this.opts.log.child({ task: task.id, type: task.task_type, attempt: task.current_attempt }),
        sql: this.opts.sql,
      },
    })
    this.executing.set(task.id, attempt)
    attempt.done.then((result) => this.ended(attempt, result))
  }

  /** The slot is free at once; the outcome goes to the completer. */
  private ended(attempt: Attempt, result: AttemptResult): void {
    const { task } = attempt
    this.executing.delete(task.id)
    const ms = performance.now() - attempt.startedAt
    this.claimer.ran(ms)
    this.opts.events.emit('attempt:ended', { id: task.id, workerId: this.id, durationMs: ms })
    if (result.outcome) this.completer.add({ outcome: result.outcome, result, task })
    else {
      // The lease was lost: another worker owns the task now. Report nothing.
      this.opts.log.warn('attempt abandoned: its lease expired and the task was rescued', {
        task: task.id,
        attempt: task.current_attempt,
        worker: this.id,
      })
      this.types.abandoned(task.task_type)
    }
    this.pump()
  }

  private written(batch: Finished[], written: ReadonlySet<string>): void {
    for (const { outcome, result, task } of batch) {
      if (!written.has(task.id)) {
        this.opts.log.warn('outcome discarded: the task was taken from this worker (lease expired)', {
          task: task.id,
        })
        continue
      }
      this.opts.events.emit('task:transition', {
        id: task.id,
        taskType: task.task_type,
        from: 'running',
        to: outcome.status,
        attempt: task.current_attempt,
        workerId: this.id,
        error: 'error' in outcome ? outcome.error : undefined,
        durationMs: result.durationMs,
      })
    }
    this.breakerWrites = this.breakerWrites.then(async () => {
      for (const { result, task } of batch) {
        const write = this.types.attemptWritten(task.task_type, result.breaker)
        if (write) await write
      }
    })
    if (this.strict) this.pump()
  }

  /** Claimed tasks that will not start here go back to the queue, uncounted (hand-back.ts). */
  private giveBack(claimed: Claimed[]): void {
    const ids = claimed.map((c) => c.task.id)
    const p = handBack(this.opts.sql, this.id, ids)
      .then((back) => {
        this.prefetchedBack += back.length
        // Other workers may take them now.
        if (back.length > 0) this.opts.notifier?.poke()
      })
      .catch((err) => {
        // Their leases are no longer extended: they are rescued (counted as a lost attempt).
        this.opts.log.warn('handing back claimed tasks failed; the lease will return them', {
          worker: this.id,
          count: ids.length,
          error: err,
        })
      })
      .finally(() => this.handingBack.delete(p))
    this.handingBack.add(p)
  }

  private judgeLeases(ours: ReadonlyMap<string, boolean>, sentAt: number): void {
    for (const [id, attempt] of this.executing) {
      if (attempt.startedAt > sentAt) continue
      const cancel = ours.get(id)
      if (cancel === undefined)
        attempt.abort(new AbortReason('lease_lost', 'lease lost: the task was rescued'))
      else if (cancel) attempt.abort(new AbortReason('cancel', 'cancelled by user'))
    }
    for (const c of [...this.claimer.queued]) {
      if (c.claimedAt > sentAt) continue
      const cancel = ours.get(c.task.id)
      if (cancel === undefined) {
        this.claimer.remove(c.task.id)
        this.opts.log.warn('a task claimed ahead was taken from this worker (lease expired)', {
          task: c.task.id,
        })
      } else if (cancel) this.cancelQueued(c.task.id)
    }
  }

  /** A cancel for a task claimed ahead: it never starts, and ends cancelled. */
  private cancelQueued(id: string): void {
    const c = this.claimer.remove(id)
    if (!c) return
    const outcome = { id, status: 'cancelled', error: 'cancelled by user' } as const
    this.completer.add({ outcome, result: { outcome, breaker: null, durationMs: 0 }, task: c.task })
  }

  private control(payload: string): void {
    let msg: ControlMessage
    try {
      msg = JSON.parse(payload)
    } catch {
      return
    }
    if (msg.kind === 'cancel') {
      this.executing.get(msg.id)?.abort(new AbortReason('cancel', 'cancelled by user'))
      this.cancelQueued(msg.id)
    } else if (msg.kind === 'types') this.types.refresh().catch(() => {})
    this.opts.onControl?.(msg, this)
  }

  private setDatabase(up: boolean, err?: unknown): void {
    if (up === !this.dbDown) return
    this.dbDown = !up
    if (up) {
      this.opts.log.info('database connection restored', { worker: this.id })
      this.opts.events.emit('db:restored', {})
      this.claimer.retryNow()
    } else {
      const message = err instanceof Error ? err.message : String(err)
      this.opts.log.warn('database unreachable; retrying', { worker: this.id, error: message })
      this.opts.events.emit('db:lost', { error: message })
    }
  }

  /**
   * Graceful stop: claim nothing more and hand back at once what was claimed ahead (uncounted);
   * give executing attempts the grace period, then abort the rest, whose outcome is a hand-back
   * (running → pending, the attempt not counted); write every outcome; deregister. Resolves with
   * how many tasks were handed back. Calling it again returns the same promise.
   */
  stop(graceMs = this.opts.shutdownGraceMs): Promise<number> {
    this.stopped ??= this.drain(graceMs)
    return this.stopped
  }

  private async drain(graceMs: number): Promise<number> {
    this.mode.to('draining')
    const deadline = Date.now() + graceMs
    // A claim in flight still hands us tasks (it committed, or will): they go back through onLate.
    const claimReturned = this.claimer.stop()
    this.prefetchedBack = 0
    this.giveBack(this.claimer.takeAll())
    const attempts = [...this.executing.values()]
    await settlesBy(Promise.all([claimReturned, ...attempts.map((a) => a.done)]), deadline)
    const aborted = attempts.filter((a) => this.executing.has(a.task.id))
    for (const a of aborted) a.abort(new AbortReason('shutdown', 'worker shutting down'))
    // The aborted attempts settle at once (their race with the signal); then everything is written.
    const finalDeadline = Date.now() + FINAL_WRITE_MS
    await settlesBy(Promise.all([claimReturned, ...aborted.map((a) => a.done)]), finalDeadline)
    await settlesBy(Promise.all(this.handingBack), finalDeadline)
    if (!(await this.completer.drain(finalDeadline)))
      this.opts.log.warn('outcomes left unwritten at stop; their leases expire and the tasks are rescued', {
        worker: this.id,
        count: this.completer.size,
      })
    this.completer.close()
    this.heartbeat.stop()
    for (const off of this.unsubscribe) await Promise.resolve(off()).catch(() => {})
    await stopWorker(this.opts.sql, this.id).catch(() => {})
    this.mode.to('stopped')
    const handedBack = aborted.length + this.prefetchedBack
    this.opts.events.emit('worker:stopped', {
      workerId: this.id,
      handedBack,
      prefetched: this.prefetchedBack,
    })
    this.opts.log.info('worker stopped', {
      worker: this.id,
      handed_back: aborted.length,
      prefetched_handed_back: this.prefetchedBack,
    })
    return handedBack
  }

  /** Used by heartbeat failure recovery and tests: true while this worker has no database. */
  get databaseDown(): boolean {
    return this.dbDown
  }
}

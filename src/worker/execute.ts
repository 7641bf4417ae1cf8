// One attempt of one task: validate the payload, run the handler under an AbortSignal that fires on
// timeout, cancellation, shutdown or a lost lease, and turn whatever happened into an outcome.
import type { Sql } from '../db/connect'
import { type HandlerContext, PermanentError, type TaskHandler, validatePayload } from '../handlers/contract'
import type { Logger } from '../log'
import type { ClaimedTask as Task } from '../queue/claim'
import { failureOutcome, type Outcome } from '../queue/finish'
import { cleanResult, errorText } from '../queue/outcome-text'

/** Why an attempt's signal fired. The reason decides the outcome. */
export class AbortReason extends Error {
  constructor(
    readonly kind: 'timeout' | 'cancel' | 'shutdown' | 'lease_lost',
    message: string,
  ) {
    super(message)
    this.name = 'AbortReason'
  }
}

export interface Attempt {
  task: Task
  startedAt: number
  /** Set once the attempt's promise settles. */
  done: Promise<AttemptResult>
  /**
   * Fires the attempt's signal (the first reason wins, as with AbortController) and settles the
   * attempt at once, even if the handler ignores the signal.
   */
  abort(reason: AbortReason): void
}

export interface AttemptResult {
  /** null when the lease was lost: the task is no longer ours to report on. */
  outcome: Outcome | null
  /** Failures that count against the type's circuit breaker (not bad payloads, not cancels). */
  breaker: 'failure' | 'success' | null
  durationMs: number
}

export interface RunOptions {
  handler: TaskHandler | undefined
  timeoutMs: number
  /** The handler's context but its signal; `log` may be given as a function, called if the handler logs. */
  context: Omit<HandlerContext, 'signal' | 'log'> & { log: Logger | (() => Logger) }
  /** Chaos fault injection; undefined unless chaos is enabled, so the hot path pays one check. */
  beforeRun?: (task: Task, signal: AbortSignal) => Promise<void>
}

/**
 * An attempt's abort signal, made when first read. Most attempts end without anyone reading it (a
 * handler that does not wait on anything): an AbortController and an abort listener per attempt were
 * ~7 % of a no-op attempt's worker CPU (`bun --cpu-prof`, issue 13 item 5). An abort before the
 * first read is kept and applied to the controller when it is made, so a late reader sees it.
 */
class LazySignal {
  private controller: AbortController | undefined
  reason: AbortReason | undefined

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController()
      if (this.reason) this.controller.abort(this.reason)
    }
    return this.controller.signal
  }

  /** false when an earlier reason stands. */
  abort(reason: AbortReason): boolean {
    if (this.reason) return false
    this.reason = reason
    this.controller?.abort(reason)
    return true
  }
}

/**
 * What a handler gets. A class with its lazy parts on the prototype: a spread of the fields plus a
 * getter, and a child logger made for every attempt, were ~10 % of a no-op attempt's worker CPU.
 */
class AttemptContext implements HandlerContext {
  readonly id: string
  readonly taskType: string
  readonly attempt: number
  readonly maxAttempts: number
  readonly metadata: Record<string, unknown>
  readonly createdBy: string | null
  readonly createdAt: Date
  readonly sql: Sql
  private logger: Logger | (() => Logger)

  constructor(
    c: RunOptions['context'],
    private readonly lazy: LazySignal,
  ) {
    this.id = c.id
    this.taskType = c.taskType
    this.attempt = c.attempt
    this.maxAttempts = c.maxAttempts
    this.metadata = c.metadata
    this.createdBy = c.createdBy
    this.createdAt = c.createdAt
    this.sql = c.sql
    this.logger = c.log
  }

  get signal(): AbortSignal {
    return this.lazy.signal
  }

  get log(): Logger {
    if (typeof this.logger === 'function') this.logger = this.logger()
    return this.logger
  }
}

export function startAttempt(task: Task, opts: RunOptions): Attempt {
  const lazy = new LazySignal()
  const startedAt = performance.now()
  // Rejects the attempt's race when its signal fires; set before startAttempt returns.
  let stop: ((reason: AbortReason) => void) | undefined
  const abort = (reason: AbortReason) => {
    if (lazy.abort(reason)) stop?.(reason)
  }
  const done = (async (): Promise<AttemptResult> => {
    const timer = setTimeout(
      () => abort(new AbortReason('timeout', `timed out after ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    )
    const elapsed = () => Math.round(performance.now() - startedAt)
    try {
      if (!opts.handler)
        throw new PermanentError(`No handler for task type "${task.task_type}" in this worker`)
      const handler = opts.handler
      const run = async () => {
        if (opts.beforeRun) await opts.beforeRun(task, lazy.signal)
        const payload = validatePayload(handler.schema, task.payload)
        return handler.run(payload, new AttemptContext(opts.context, lazy))
      }
      // The race frees the slot when the signal fires even if a handler ignores it.
      const value = await new Promise((resolve, reject) => {
        stop = reject
        if (lazy.reason) reject(lazy.reason)
        else run().then(resolve, reject)
      })
      const result = cleanResult(value)
      // A result PostgreSQL cannot hold (circular, NaN, too large) would be the same on every
      // attempt: a permanent failure, not counted against the breaker (like a bad payload).
      if (!result.ok)
        return { outcome: failureOutcome(task, result.error, true), breaker: null, durationMs: elapsed() }
      return {
        outcome: { id: task.id, status: 'completed', result: result.value },
        breaker: 'success',
        durationMs: elapsed(),
      }
    } catch (err) {
      try {
        return { ...classify(task, err, lazy.reason), durationMs: elapsed() }
      } catch (again) {
        // An attempt must always settle with an outcome, or its slot and lease are held for ever.
        const error = `The attempt's error could not be handled: ${errorText(again)}`
        return { outcome: { id: task.id, status: 'failed', error }, breaker: null, durationMs: elapsed() }
      }
    } finally {
      clearTimeout(timer)
    }
  })()
  return { task, startedAt, done, abort }
}

function classify(
  task: Task,
  err: unknown,
  reason: AbortReason | undefined,
): Omit<AttemptResult, 'durationMs'> {
  if (reason) {
    switch (reason.kind) {
      case 'cancel':
        return { outcome: { id: task.id, status: 'cancelled', error: reason.message }, breaker: null }
      case 'shutdown':
        return { outcome: { id: task.id, status: 'pending' }, breaker: null }
      case 'lease_lost':
        return { outcome: null, breaker: null }
      case 'timeout':
        return { outcome: failureOutcome(task, reason.message, false), breaker: 'failure' }
    }
  }
  const permanent = err instanceof PermanentError
  const message = errorText(err)
  return { outcome: failureOutcome(task, message, permanent), breaker: permanent ? null : 'failure' }
}

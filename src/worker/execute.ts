// One attempt of one task: validate the payload, run the handler under an AbortSignal that fires on
// timeout, cancellation, shutdown or a lost lease, and turn whatever happened into an outcome.
import { type HandlerContext, PermanentError, type TaskHandler, validatePayload } from '../handlers/contract'
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
  controller: AbortController
  startedAt: number
  /** Set once the attempt's promise settles. */
  done: Promise<AttemptResult>
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
  context: Omit<HandlerContext, 'signal'>
  /** Chaos fault injection; undefined unless chaos is enabled, so the hot path pays one check. */
  beforeRun?: (task: Task, signal: AbortSignal) => Promise<void>
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

export function startAttempt(task: Task, opts: RunOptions): Attempt {
  const controller = new AbortController()
  const startedAt = performance.now()
  const done = (async (): Promise<AttemptResult> => {
    const timer = setTimeout(
      () => controller.abort(new AbortReason('timeout', `timed out after ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    )
    const elapsed = () => Math.round(performance.now() - startedAt)
    try {
      if (!opts.handler)
        throw new PermanentError(`No handler for task type "${task.task_type}" in this worker`)
      const handler = opts.handler
      const run = async () => {
        if (opts.beforeRun) await opts.beforeRun(task, controller.signal)
        const payload = validatePayload(handler.schema, task.payload)
        return handler.run(payload, { ...opts.context, signal: controller.signal })
      }
      // The race frees the slot when the signal fires even if a handler ignores it.
      const result = cleanResult(await Promise.race([run(), abortPromise(controller.signal)]))
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
        return { ...classify(task, err, controller.signal), durationMs: elapsed() }
      } catch (again) {
        // An attempt must always settle with an outcome, or its slot and lease are held for ever.
        const error = `The attempt's error could not be handled: ${errorText(again)}`
        return { outcome: { id: task.id, status: 'failed', error }, breaker: null, durationMs: elapsed() }
      }
    } finally {
      clearTimeout(timer)
    }
  })()
  return { task, controller, startedAt, done }
}

function classify(task: Task, err: unknown, signal: AbortSignal): Omit<AttemptResult, 'durationMs'> {
  const reason = signal.aborted ? signal.reason : null
  if (reason instanceof AbortReason) {
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

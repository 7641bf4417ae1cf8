// "Why is this task not running?", answered from the same facts the claim acts on: the task's own
// time (scheduled_at, backoff), its type (inactive, paused, breaker), the live workers for the
// type and their free slots, the tasks the claim takes first, the owner's running cap, and for a
// running task its lease. Several reasons can hold at once; each has a code, evidence and a
// sentence for a person. The reads are in why-sql.ts; the judgement below is pure, so the panel's
// badges, the overview's breakdown and `tasklab why` all say the same thing.
import type { Sql } from '../db/connect'
import { getTask } from './actions'
import { admits, probeAt } from './breaker'
import type { RetryStrategy } from './retry'
import { type TaskStatus, TERMINAL } from './states'
import type { Scope, Task } from './task'
import {
  type Ahead,
  dbNow,
  runningByOwner,
  runningOf,
  type TypeFacts,
  tasksAhead,
  typeFacts,
  unfinishedTasks,
  type WaitingRow,
  workerHeartbeat,
} from './why-sql'

export const REASON_CODES = [
  'TERMINAL',
  'CANCEL_REQUESTED',
  'RUNNING',
  'SCHEDULED',
  'BACKOFF',
  'TYPE_INACTIVE',
  'TYPE_PAUSED',
  'BREAKER_OPEN',
  'NO_WORKER',
  'USER_CAP',
  'WORKERS_BUSY',
  'READY',
] as const
/** In this order a task's first reason is its headline (the list badge, the overview breakdown). */
export type ReasonCode = (typeof REASON_CODES)[number]

export interface Reason {
  code: ReasonCode
  message: string
  [evidence: string]: unknown
}

export interface Why {
  task_id: string
  status: TaskStatus
  /** True when nothing holds it back: the next claim with a free slot takes it. */
  runnable: boolean
  reasons: Reason[]
  checked_at: Date
}

export interface WhyOptions {
  /** The per-user running cap, when this build has one (STARTER__WORKER__MAX_RUNNING_PER_USER). */
  userCap?: number | null
}

const secs = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`)
const inTime = (at: Date, now: Date) => {
  const ms = at.getTime() - now.getTime()
  return ms <= 0 ? 'now' : `in ${secs(ms)}`
}

export function strategyWords(s: RetryStrategy): string {
  switch (s.type) {
    case 'exponential':
      return `exponential: ${secs(s.base_delay_ms)} × ${s.multiplier}^attempt, at most ${secs(s.max_delay_ms)}`
    case 'linear':
      return `linear: ${secs(s.base_delay_ms)} + ${secs(s.increment_ms)} per attempt, at most ${secs(s.max_delay_ms)}`
    case 'fixed':
      return `fixed: every ${secs(s.interval_ms)}`
  }
}

/** What holds back every waiting task of a type (inactive, paused, breaker, no worker), in order. */
export function typeReasons(f: TypeFacts | undefined, type: string, now: Date): Reason[] {
  const out: Reason[] = []
  if (!f?.registered) {
    out.push({
      code: 'TYPE_INACTIVE',
      message: `${type} is not a registered type: a worker that handles it registers it when it starts.`,
      task_type: type,
      registered: false,
    })
  } else if (!f.is_active) {
    out.push({
      code: 'TYPE_INACTIVE',
      message: `${type} is deactivated: workers do not claim it until an admin activates it (Task types).`,
      task_type: type,
      registered: true,
    })
  }
  if (f?.paused)
    out.push({
      code: 'TYPE_PAUSED',
      message: `${type} is paused: its tasks wait until it is resumed (Task types, or PATCH /tasks/types/${type}).`,
      task_type: type,
      paused_since: f.paused_since,
    })
  if (f && f.breaker_state !== 'closed') {
    const breaker = {
      state: f.breaker_state,
      failures: f.breaker_failures,
      successes: 0,
      openedAt: f.breaker_opened_at,
    }
    const settings = {
      failureThreshold: f.breaker_failure_threshold,
      successThreshold: 1,
      cooldownMs: f.breaker_cooldown_ms,
    }
    const halfOpensAt = probeAt(breaker, settings)
    const evidence = {
      task_type: type,
      breaker_state: f.breaker_state,
      failures: f.breaker_failures,
      failure_threshold: f.breaker_failure_threshold,
      opened_at: f.breaker_opened_at,
      half_opens_at: halfOpensAt,
    }
    if (admits(breaker, settings, now) === 'none')
      out.push({
        code: 'BREAKER_OPEN',
        message: `The circuit breaker of ${type} is open after ${f.breaker_failures} failures in a row (threshold ${f.breaker_failure_threshold}); it half-opens ${inTime(halfOpensAt!, now)} and lets one probe task through.`,
        ...evidence,
      })
    else if (f.running_of_type > 0)
      out.push({
        code: 'BREAKER_OPEN',
        message: `The circuit breaker of ${type} is half-open: one probe task is running, and the others wait for its outcome.`,
        ...evidence,
      })
  }
  if (f?.registered && f.workers.length === 0)
    out.push({
      code: 'NO_WORKER',
      message: `No live worker handles ${type}: start one with \`tasklab worker\` (or \`tasklab start\`) against this database.`,
      task_type: type,
    })
  return out
}

function freeSlots(f: TypeFacts): { slots: number; running: number; free: number } {
  const slots = f.workers.reduce((n, w) => n + w.concurrency, 0)
  const running = f.workers.reduce((n, w) => n + Math.min(w.running, w.concurrency), 0)
  return { slots, running, free: slots - running }
}

function busyReason(f: TypeFacts, ahead: Ahead | null): Reason | null {
  const { slots, running, free } = freeSlots(f)
  const before = ahead ? ahead.higher_priority + ahead.same_priority_older : 0
  if (free > 0 && (ahead === null || before < free)) return null
  const workers = f.workers.map((w) => w.id)
  const why = ahead
    ? ` ${before} ready task(s) are ahead of it: ${ahead.higher_priority} of higher priority, ${ahead.same_priority_older} of the same priority and older.`
    : ''
  return {
    code: 'WORKERS_BUSY',
    message:
      free > 0
        ? `${free} of ${slots} slots of the workers for ${f.name} are free, but the tasks ahead of it take them first.${why}`
        : `All ${slots} slots of the workers for ${f.name} are taken (${running} running).${why}`,
    workers,
    slots,
    running,
    ...(ahead ? { ahead: { total: before, ...ahead } } : {}),
  }
}

function capReason(cap: number | null | undefined, running: number): Reason | null {
  if (!cap || running < cap) return null
  return {
    code: 'USER_CAP',
    message: `Its owner already has ${running} running task(s), the per-user cap (STARTER__WORKER__MAX_RUNNING_PER_USER = ${cap}); it runs when one of them ends.`,
    cap,
    running,
  }
}

function terminalReason(t: Pick<Task, 'status' | 'completed_at'>): Reason {
  const can = t.status === 'completed' ? ['delete'] : ['retry', 'delete']
  const what =
    t.status === 'completed'
      ? 'It finished successfully'
      : t.status === 'failed'
        ? 'It failed for good'
        : 'It was cancelled'
  return {
    code: 'TERMINAL',
    message: `${what}; nothing will run it again. You can ${can.join(' or ')} it.`,
    finished_at: t.completed_at,
    can,
  }
}

const cancelReason = (): Reason => ({
  code: 'CANCEL_REQUESTED',
  message: 'A cancel was requested: the handler was told to stop, and the task ends cancelled when it does.',
})

const ready = (): Reason => ({
  code: 'READY',
  message: 'Nothing holds it back: the next free worker slot claims it.',
})

/** Whether a waiting task is due: its scheduled time or backoff is over. */
function timeReason(
  t: Pick<
    Task,
    | 'status'
    | 'run_at'
    | 'scheduled_at'
    | 'retry_strategy'
    | 'current_attempt'
    | 'max_attempts'
    | 'last_error'
  >,
  now: Date,
): Reason | null {
  if (t.run_at <= now) return null
  if (t.status === 'retrying')
    return {
      code: 'BACKOFF',
      message: `Attempt ${t.current_attempt} of ${t.max_attempts} failed; the retry strategy (${strategyWords(t.retry_strategy)}) waits until ${t.run_at.toISOString()}, ${inTime(t.run_at, now)}.`,
      until: t.run_at,
      strategy: t.retry_strategy,
      attempt: t.current_attempt,
      max_attempts: t.max_attempts,
      last_error: t.last_error,
    }
  return {
    code: 'SCHEDULED',
    message: `It is scheduled for ${t.run_at.toISOString()}, ${inTime(t.run_at, now)}; no worker claims it before then.`,
    scheduled_at: t.scheduled_at ?? t.run_at,
  }
}

const blocking = (r: Reason) => r.code !== 'READY'

/** The full answer for one task (404 through getTask when it is missing or not the caller's). */
export async function explainTask(sql: Sql, id: string, scope: Scope, opts: WhyOptions = {}): Promise<Why> {
  const task = await getTask(sql, id, scope)
  const now = await dbNow(sql)
  const reasons: Reason[] = []
  if (TERMINAL.includes(task.status)) {
    reasons.push(terminalReason(task))
  } else if (task.status === 'running') {
    if (task.cancel_requested) reasons.push(cancelReason())
    reasons.push(await runningReason(sql, task, now))
  } else {
    const time = timeReason(task, now)
    if (time) reasons.push(time)
    const facts = (await typeFacts(sql, [task.task_type])).get(task.task_type)
    const held = typeReasons(facts, task.task_type, now)
    reasons.push(...held)
    if (opts.userCap && task.created_by) {
      const cap = capReason(opts.userCap, await runningOf(sql, task.created_by))
      if (cap) reasons.push(cap)
    }
    if (facts && facts.workers.length > 0 && !time && held.length === 0) {
      // The claim of those workers takes the first ready tasks of all their types.
      const types = [...new Set(facts.workers.flatMap((w) => w.task_types))]
      const busy = busyReason(facts, await tasksAhead(sql, task, types))
      if (busy) reasons.push(busy)
    }
    if (reasons.length === 0) reasons.push(ready())
  }
  return {
    task_id: task.id,
    status: task.status,
    runnable: !TERMINAL.includes(task.status) && task.status !== 'running' && !reasons.some(blocking),
    reasons,
    checked_at: now,
  }
}

async function runningReason(sql: Sql, t: Task, now: Date): Promise<Reason> {
  const worker = t.locked_by!
  const hb = await workerHeartbeat(sql, worker)
  const expires = t.lease_expires_at!
  const left = t.max_attempts - t.current_attempt
  const then = t.cancel_requested
    ? 'ends it cancelled'
    : left > 0
      ? `counts attempt ${t.current_attempt} as failed ("worker lost") and retries it after its backoff (${left} attempt(s) left)`
      : `counts attempt ${t.current_attempt} as failed ("worker lost") and moves it to failed: it was the last attempt`
  return {
    code: 'RUNNING',
    message: `Worker ${worker} is running attempt ${t.current_attempt} of ${t.max_attempts} (last heartbeat ${hb ? `${secs(Math.max(0, now.getTime() - hb.heartbeat_at.getTime()))} ago` : 'unknown'}); its lease ends ${inTime(expires, now)} unless renewed. Should the worker stop heartbeating, the rescue then ${then}.`,
    worker,
    worker_alive: hb?.alive ?? false,
    heartbeat_at: hb?.heartbeat_at ?? null,
    lease_expires_at: expires,
    attempt: t.current_attempt,
    max_attempts: t.max_attempts,
    started_at: t.started_at,
    on_lease_expiry: t.cancel_requested ? 'cancelled' : left > 0 ? 'retrying' : 'failed',
  }
}

/** The headline reason of a waiting or running task, from facts shared by many tasks. */
function headline(
  t: WaitingRow,
  facts: Map<string, TypeFacts>,
  running: Map<string, number>,
  now: Date,
  opts: WhyOptions,
): Reason {
  if (t.status === 'running')
    return t.cancel_requested ? cancelReason() : { code: 'RUNNING', message: 'A worker is running it.' }
  if (t.run_at > now)
    return t.status === 'retrying'
      ? { code: 'BACKOFF', message: `Waiting for its retry backoff to end, ${inTime(t.run_at, now)}.` }
      : { code: 'SCHEDULED', message: `Waiting for its scheduled time, ${inTime(t.run_at, now)}.` }
  const f = facts.get(t.task_type)
  const [held] = typeReasons(f, t.task_type, now)
  if (held) return held
  const cap = t.created_by ? capReason(opts.userCap, running.get(t.created_by) ?? 0) : null
  if (cap) return cap
  return (f && busyReason(f, null)) ?? ready()
}

export interface WhySummary {
  /** Unfinished tasks (waiting or running) by their headline reason. */
  by_reason: Partial<Record<ReasonCode, number>>
  /** Per task id, when ids were asked for. */
  tasks?: Record<string, { code: ReasonCode; message: string }>
  checked_at: Date
}

/**
 * Headline reasons for many tasks at once: all the caller's unfinished tasks, counted, or the given
 * ids, one by one. Cheaper than explainTask per task: the type facts are read once, and
 * WORKERS_BUSY means "no free slot" (how many tasks are ahead is only counted for one task).
 */
export async function summarizeWhy(
  sql: Sql,
  scope: Scope,
  opts: WhyOptions & { ids?: string[] } = {},
): Promise<WhySummary> {
  const [rows, now] = await Promise.all([
    unfinishedTasks(sql, scope, { ids: opts.ids, byOwner: Boolean(opts.userCap) }),
    dbNow(sql),
  ])
  const facts = await typeFacts(sql, [...new Set(rows.map((r) => r.task_type))])
  const owners = opts.userCap ? [...new Set(rows.flatMap((r) => (r.created_by ? [r.created_by] : [])))] : []
  const running = await runningByOwner(sql, owners)
  const by_reason: WhySummary['by_reason'] = {}
  const tasks: NonNullable<WhySummary['tasks']> = {}
  for (const r of rows) {
    const h = headline(r, facts, running, now, opts)
    by_reason[h.code] = (by_reason[h.code] ?? 0) + r.n
    if (r.id) tasks[r.id] = { code: h.code, message: h.message }
  }
  return { by_reason, ...(opts.ids ? { tasks } : {}), checked_at: now }
}

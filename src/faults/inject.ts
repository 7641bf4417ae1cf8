// The worker side of chaos: the `beforeRun` and `onControl` hooks of src/worker/runner.ts. They
// exist only when the process runs with --chaos (src/cli/run.ts checks the flag once); without it
// the worker holds no hook, and an attempt pays one `undefined` check.
//
// Rules are cached: loaded at start, reloaded on NOTIFY tasklab_control {"kind":"faults"} and every
// 2 s (a lost NOTIFY during a database outage heals within that), and checked against their expiry
// at each attempt, so an expired rule stops at once without a reload.

import type { Sql } from '../db/connect'
import { PermanentError, RetryableError, sleep } from '../handlers/contract'
import type { Logger } from '../log'
import type { ClaimedTask as Task } from '../queue/claim'
import type { ControlMessage } from '../queue/notify'
import { activeFaults, type FaultRule } from './rules'

export const REFRESH_MS = 2000

export interface ChaosHooks {
  beforeRun(task: Task, signal: AbortSignal): Promise<void>
  onControl(msg: ControlMessage, worker: { id: string }): void
  /** The rules as this process last loaded them. */
  readonly rules: readonly FaultRule[]
  refresh(): Promise<void>
  stop(): void
}

/** The rules that apply to this attempt: its type (or '*'), unexpired, metadata matching. */
export function faultsFor(
  rules: readonly FaultRule[],
  task: Pick<Task, 'task_type' | 'metadata'>,
  now = Date.now(),
): FaultRule[] {
  return rules.filter(
    (r) =>
      (r.task_type === '*' || r.task_type === task.task_type) &&
      new Date(r.expires_at).getTime() > now &&
      matches(r.match, task.metadata),
  )
}

function matches(match: Record<string, unknown> | null, metadata: Record<string, unknown> | null): boolean {
  if (!match) return true
  const m = metadata ?? {}
  return Object.entries(match).every(([k, v]) => JSON.stringify(m[k]) === JSON.stringify(v))
}

export interface Verdict {
  latencyMs: number
  /** What happens after the latency, the most drastic hit first. */
  action:
    | { kind: 'crash' | 'hang'; rule: FaultRule }
    | { kind: 'fail'; rule: FaultRule; permanent: boolean }
    | null
}

/** Rolls each rule once. Latencies add up; then crash beats hang beats fail. */
export function decide(rules: readonly FaultRule[], random: () => number = Math.random): Verdict {
  let latencyMs = 0
  const hit = rules.filter((r) => random() < r.probability)
  for (const r of hit) if (r.kind === 'latency') latencyMs += r.latency_ms ?? 0
  for (const kind of ['crash', 'hang'] as const) {
    const rule = hit.find((r) => r.kind === kind)
    if (rule) return { latencyMs, action: { kind, rule } }
  }
  const fails = hit.filter((r) => r.kind === 'fail')
  const rule = fails.find((r) => r.permanent) ?? fails[0]
  return { latencyMs, action: rule ? { kind: 'fail', rule, permanent: rule.permanent } : null }
}

/** Waits until the attempt's signal fires (timeout, cancel, shutdown): a handler that hangs. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

/** A simulated kill -9: no graceful stop, no hand-back, no `stopped_at`; leases expire and rescue follows. */
export function killSelf(why: string): never {
  process.stderr.write(`tasklab chaos: ${why}: SIGKILL to self (pid ${process.pid})\n`)
  process.kill(process.pid, 'SIGKILL')
  throw new Error('unreachable: SIGKILL did not end the process')
}

export function createChaosHooks(opts: {
  sql: Sql
  log: Logger
  refreshMs?: number
  random?: () => number
  kill?: (why: string) => void
}): ChaosHooks {
  const { sql, log } = opts
  const random = opts.random ?? Math.random
  const kill = opts.kill ?? killSelf
  let rules: FaultRule[] = []
  let inFlight: Promise<void> | null = null
  let again = false

  // A change announced while a read is in flight may have committed after that read's snapshot:
  // read once more when it ends, or the new rule would wait for the next timer tick (2 s).
  const refresh = (): Promise<void> => {
    if (inFlight) {
      again = true
      return inFlight.then(() => (again ? refresh() : undefined))
    }
    inFlight = activeFaults(sql)
      .then((r) => {
        if (r.length !== rules.length) log.info('chaos fault rules loaded', { rules: r.length })
        rules = r
      })
      .catch((err) => {
        // CONNECTION_ENDED: the pool was closed on purpose, the process is shutting down.
        if ((err as { code?: string }).code !== 'CONNECTION_ENDED')
          log.warn('chaos fault rules not reloaded; keeping the cached ones', { error: err })
      })
      .finally(() => {
        inFlight = null
      })
    again = false
    return inFlight
  }
  const ready = refresh()
  const timer = setInterval(() => void refresh(), opts.refreshMs ?? REFRESH_MS)
  timer.unref?.()

  return {
    get rules() {
      return rules
    },
    refresh,
    stop: () => clearInterval(timer),
    async beforeRun(task, signal) {
      await ready
      const applicable = faultsFor(rules, task)
      if (applicable.length === 0) return
      const v = decide(applicable, random)
      if (v.latencyMs > 0) await sleep(v.latencyMs, signal)
      const a = v.action
      if (!a) return
      const text =
        a.rule.message ??
        `chaos: injected ${a.kind === 'fail' ? (a.permanent ? 'permanent failure' : 'failure') : a.kind}`
      if (a.kind === 'crash') kill(`fault rule ${a.rule.id} crashes the worker during task ${task.id}`)
      if (a.kind === 'hang' || a.kind === 'crash') await hang(signal)
      if (a.kind === 'fail') throw a.permanent ? new PermanentError(text) : new RetryableError(text)
    },
    onControl(msg, worker) {
      if (msg.kind === 'faults') void refresh()
      else if (msg.kind === 'kill' && msg.worker === worker.id)
        kill(`kill requested through the API for worker ${worker.id}`)
    },
  }
}

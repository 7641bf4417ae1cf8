// What every scenario shares: create tagged tasks, watch them drain while the chaos happens, then
// account for every one of them. Tasks carry metadata {chaos_run: <run id>}, and every count comes
// from the API filtered by that id, so a scenario against a busy instance counts only its own.
import type { ApiClient, ApiTask, NewFault, NewTask } from './client'
import type { Cluster } from './cluster'

export interface Ctx {
  api: ApiClient
  /** Spawn mode only: the processes, their journals and the database. */
  cluster: Cluster | null
  /**
   * The database, for db-restart: the cluster's, or --database-url against a running instance;
   * embeddedDir when it lives on an embedded PostgreSQL (that data dir's), which db-restart restarts.
   */
  database: { name: string; adminUrl: string; embeddedDir?: string } | null
  tasks: number
  workers: number
  log(line: string): void
  /** What to put back if the run is interrupted midway: fault rules, breaker settings, connections. */
  undo: Set<() => Promise<unknown>>
}

/** Runs `fn`, then `restore` — also when the run is interrupted (SIGINT) while `fn` runs. */
export async function restoring<T>(
  ctx: Ctx,
  restore: () => Promise<unknown>,
  fn: () => Promise<T>,
): Promise<T> {
  ctx.undo.add(restore)
  try {
    return await fn()
  } finally {
    ctx.undo.delete(restore)
    await restore().catch((err) => ctx.log(`  cleanup failed: ${(err as Error).message}`))
  }
}

/** Runs `fn` with a fault rule in force; the rule is deleted afterwards, whatever happened. */
export async function withFault<T>(ctx: Ctx, rule: NewFault, fn: (id: string) => Promise<T>): Promise<T> {
  const { id } = await ctx.api.createFault(rule)
  return restoring(
    ctx,
    () => ctx.api.deleteFault(id),
    () => fn(id),
  )
}

export interface Check {
  name: string
  ok: boolean
  detail?: string
}

export interface Report {
  scenario: string
  run: string
  created: number
  completed: number
  failed: number
  failed_expected: number
  cancelled: number
  /** Still pending, scheduled, retrying or running when the run ended. */
  unfinished: number
  /** Executions beyond one per (task, attempt), from the workers' journals; null without --spawn. */
  duplicates: number | null
  rescued: number | null
  drain_ms: number
  checks: Check[]
  notes: string[]
  verdict: 'pass' | 'fail' | 'skipped'
}

export type Scenario = (ctx: Ctx) => Promise<Report>

export interface Counts {
  completed: number
  failed: number
  cancelled: number
  unfinished: number
  running: number
}

const UNFINISHED = 'pending,scheduled,running,retrying'

/** When each run began: its time to drain counts from there, creating the tasks included. */
const runStarted = new Map<string, number>()

export function newRun(scenario: string): string {
  const run = `chaos-${scenario}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
  runStarted.set(run, performance.now())
  return run
}

export function tagged(run: string, task: NewTask, extra: Record<string, unknown> = {}): NewTask {
  return { ...task, metadata: { chaos_run: run, ...extra } }
}

export async function counts(api: ApiClient, run: string): Promise<Counts> {
  const total = async (status: string) => (await api.listTasks({ q: run, status, limit: 1 })).total
  const [completed, failed, cancelled, unfinished, running] = await Promise.all([
    total('completed'),
    total('failed'),
    total('cancelled'),
    total(UNFINISHED),
    total('running'),
  ])
  return { completed, failed, cancelled, unfinished, running }
}

export interface Drained {
  counts: Counts | null
  ms: number
  drained: boolean
  /** When (performance.now()) the API failed to answer a poll. */
  apiErrors: number[]
}

/**
 * Polls until every created task is terminal, or the deadline. `tick` runs between polls (the
 * chaos itself: kills, restarts); API errors while the database is away are waited out.
 */
export async function drain(
  ctx: Ctx,
  run: string,
  created: number,
  opts: { timeoutMs?: number; tick?: (c: Counts | null) => Promise<void>; hold?: () => boolean } = {},
): Promise<Drained> {
  const started = runStarted.get(run) ?? performance.now()
  const deadline = performance.now() + (opts.timeoutMs ?? Math.max(90_000, created * 150))
  let last: Counts | null = null
  let lastPrint = 0
  const apiErrors: number[] = []
  for (;;) {
    try {
      last = await counts(ctx.api, run)
    } catch (err) {
      last = null
      apiErrors.push(performance.now())
      if (performance.now() - lastPrint > 1000) {
        lastPrint = performance.now()
        ctx.log(`  (API not answering: ${(err as Error).message.slice(0, 120)})`)
      }
    }
    const done =
      last !== null &&
      last.unfinished === 0 &&
      last.completed + last.failed + last.cancelled >= created &&
      !opts.hold?.()
    const ms = Math.round(performance.now() - started)
    if (last && (done || performance.now() - lastPrint > 2000)) {
      lastPrint = performance.now()
      ctx.log(
        `  ${(ms / 1000).toFixed(1)} s: ${last.completed} completed, ${last.failed} failed, ${last.cancelled} cancelled, ${last.unfinished} unfinished (${last.running} running) of ${created}`,
      )
    }
    if (done) return { counts: last, ms, drained: true, apiErrors }
    if (performance.now() > deadline) return { counts: last, ms, drained: false, apiErrors }
    if (opts.tick) await opts.tick(last)
    await Bun.sleep(250)
  }
}

/** Duplicate executions of this run's attempts, from the journals (null when we have none). */
export function duplicates(ctx: Ctx, ids: ReadonlySet<string>): number | null {
  if (!ctx.cluster) return null
  const seen = new Map<string, number>()
  for (const e of ctx.cluster.journal()) {
    if (!ids.has(e.task_id)) continue
    const key = `${e.task_id}#${e.attempt}`
    seen.set(key, (seen.get(key) ?? 0) + 1)
  }
  let extra = 0
  for (const n of seen.values()) if (n > 1) extra += n - 1
  return extra
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return out
}

/** How many attempts of these tasks ended with an error matching `pattern` (from their events). */
export async function failedAttempts(
  api: ApiClient,
  tasks: readonly ApiTask[],
  pattern: RegExp,
): Promise<number> {
  const retried = tasks.filter((t) => t.current_attempt > 1 || t.status === 'failed')
  const perTask = await pool(retried, 8, async (t) => {
    const events = await api.taskEvents(t.id)
    return events.filter((e) => e.from_status === 'running' && e.error && pattern.test(e.error)).length
  })
  return perTask.reduce((a, b) => a + b, 0)
}

/**
 * The common end of every scenario: fetch all of the run's tasks, check none is lost or unfinished,
 * count duplicates, compare failures with what the scenario expected, and build the report.
 */
export async function account(
  ctx: Ctx,
  scenario: string,
  run: string,
  createdIds: readonly string[],
  result: Drained,
  expect: {
    failed: number
    checks?: (tasks: ApiTask[]) => Promise<Check[]> | Check[]
    rescued?: (tasks: ApiTask[]) => Promise<number>
  },
  extra: { checks?: Check[]; notes?: string[] } = {},
): Promise<Report> {
  const tasks = await ctx.api.allTasks(run)
  const ids = new Set(createdIds)
  const listed = new Set(tasks.map((t) => t.id))
  const lost = createdIds.filter((id) => !listed.has(id))
  const by = (s: string) => tasks.filter((t) => t.status === s).length
  const completed = by('completed')
  const failed = by('failed')
  const cancelled = by('cancelled')
  const unfinished = tasks.length - completed - failed - cancelled
  const dup = duplicates(ctx, ids)
  const checks: Check[] = [
    {
      name: 'every created task is listed (none lost)',
      ok: lost.length === 0,
      detail: lost.length ? `${lost.length} missing, e.g. ${lost[0]}` : undefined,
    },
    {
      name: 'every task reached a terminal state',
      ok: result.drained && unfinished === 0,
      detail: unfinished
        ? `${unfinished} still pending/running after ${Math.round(result.ms / 1000)} s`
        : undefined,
    },
    {
      name: `failed = ${expect.failed} as expected`,
      ok: failed === expect.failed,
      detail: failed === expect.failed ? undefined : `${failed} failed`,
    },
    ...(extra.checks ?? []),
    ...(expect.checks ? await expect.checks(tasks) : []),
  ]
  if (dup !== null)
    checks.push({
      name: 'no attempt executed twice',
      ok: dup === 0,
      detail: dup ? `${dup} duplicate executions` : undefined,
    })
  return {
    scenario,
    run,
    created: createdIds.length,
    completed,
    failed,
    failed_expected: expect.failed,
    cancelled,
    unfinished,
    duplicates: dup,
    rescued: expect.rescued ? await expect.rescued(tasks) : null,
    drain_ms: result.ms,
    checks,
    notes: extra.notes ?? [],
    verdict: checks.every((c) => c.ok) ? 'pass' : 'fail',
  }
}

/** A report with no tasks: a scenario skipped, or one that broke before it could count. */
export function emptyReport(
  scenario: string,
  verdict: 'fail' | 'skipped',
  checks: Check[],
  notes: string[] = [],
): Report {
  return {
    scenario,
    run: '',
    created: 0,
    completed: 0,
    failed: 0,
    failed_expected: 0,
    cancelled: 0,
    unfinished: 0,
    duplicates: null,
    rescued: null,
    drain_ms: 0,
    checks,
    notes,
    verdict,
  }
}

export const skipped = (scenario: string, why: string): Report => emptyReport(scenario, 'skipped', [], [why])

/** Retry settings that outlast the chaos: quick, and enough attempts that only a poison fails. */
export const RESILIENT = {
  max_attempts: 10,
  retry_strategy: { type: 'fixed' as const, interval_ms: 100, max_attempts: 10 },
}

/** A random delay_task between lo and hi seconds. */
export function delayTask(lo: number, hi: number): NewTask {
  return {
    task_type: 'delay_task',
    payload: { delay_seconds: Math.round((lo + Math.random() * (hi - lo)) * 1000) / 1000 },
  }
}

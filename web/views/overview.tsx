// The overview: the state machine with live counts and rates, throughput and queue latency over
// the last minutes (both from the event stream), the dead letter size, workers alive, and warnings a learner needs to see
// (tasks that no live worker will ever pick up, paused types, open breakers).
import type { ComponentChildren } from 'preact'
import { Chart } from '../components/chart'
import { StateDiagram } from '../components/state-diagram'
import { Card } from '../components/ui'
import { answer, api } from '../lib/api'
import { duration, num } from '../lib/format'
import { type Bucket, useLive, useNow, WINDOW_S } from '../lib/live'
import { type TaskStatus, type TaskType, WAITING, type WhySummary, type WorkerInfo } from '../lib/types'
import { useApi } from '../lib/use-api'
import { HELD, REASON_LABEL, WAITING_REASONS } from '../lib/why'
import { isAlive, liveWorkerCount, nextProbe, probeText } from './types-util'

/** Points per chart: one per second in the first minute, one per 5 s over 5 minutes. */
const POINTS = 60

/**
 * The charts' span: the time since this page started listening, from 1 up to 5 minutes, so a
 * freshly opened page shows its first minute across the whole width rather than in a sliver.
 */
export function spanSeconds(now: number, since: number): number {
  const elapsed = Math.floor(now / 1000) - since
  return Math.min(WINDOW_S, Math.max(60, Math.ceil(elapsed / 60) * 60))
}

/**
 * Completed and failed per second, and the mean queue latency and run time of the claims and
 * attempts the stream reported, over steps of span/60 complete seconds.
 */
function series(buckets: Bucket[], now: number, since: number, span: number) {
  const slots = POINTS
  const STEP_S = span / POINTS
  // The current second is still filling: leaving it out keeps the line from dipping at "now".
  const end = Math.floor(now / 1000) - 1
  // Steps that ended before the page started listening are unknown, not zero.
  const known = (i: number) => end - (slots - 1 - i) * STEP_S >= since
  const completed = Array.from({ length: slots }, (_, i) => (known(i) ? 0 : null)) as (number | null)[]
  const failed = [...completed]
  const sums = Array.from({ length: slots }, () => ({ wait: 0, waitN: 0, run: 0, runN: 0 }))
  for (const b of buckets) {
    const i = slots - 1 - Math.floor((end - b.t) / STEP_S)
    if (i < 0 || i >= slots) continue
    completed[i] = (completed[i] ?? 0) + b.completed / STEP_S
    failed[i] = (failed[i] ?? 0) + b.failed / STEP_S
    sums[i]!.wait += b.latencySum
    sums[i]!.waitN += b.latencyN
    sums[i]!.run += b.runSum
    sums[i]!.runN += b.runN
  }
  // A step with no claim has no latency: a gap, not a zero.
  const wait = sums.map((s) => (s.waitN ? s.wait / s.waitN : null))
  const run = sums.map((s) => (s.runN ? s.run / s.runN : null))
  return { completed, failed, wait, run, slots }
}

export function Overview() {
  const live = useLive()
  const now = useNow(1000)
  const types = useApi('types', () => answer(api.GET('/api/v1/tasks/types')), live.seq, 3000)
  const workers = useApi('workers', () => answer(api.GET('/api/v1/workers')), live.seq, 3000)
  // One grouped count per second at most, so the breakdown keeps pace with the tile's number.
  const why = useApi('why', () => answer(api.GET('/api/v1/tasks/why')), live.seq, 1000)
  const c = live.counts
  const alive = (workers.data ?? []).filter((w) => isAlive(w, now))
  const span = spanSeconds(now, live.since)
  const spanLabel = `${span / 60} min ago`
  const tp = series(live.buckets, now, live.since, span)
  const waiting = c ? WAITING.reduce((s, k) => s + (c[k] ?? 0), 0) : undefined
  // Completed per second over the last 10 complete seconds (fewer if the page is younger).
  const end = Math.floor(now / 1000) - 1
  const window = Math.max(1, Math.min(10, end - live.since + 1))
  const recent =
    live.buckets.filter((b) => b.t <= end && b.t > end - window).reduce((s, b) => s + b.completed, 0) / window

  return (
    <div class="page overview">
      <div class="page-head">
        <h1>Overview</h1>
        <p class="muted">
          Every task moves through these states. Counts and arrows update live; click a state to list its
          tasks.
        </p>
      </div>
      <Warnings types={types.data} workers={workers.data} byType={live.byType} now={now} />
      <div class="tiles">
        <Tile
          label="Waiting"
          value={waiting}
          hint="pending + scheduled + retrying"
          href="/tasks?status=pending,scheduled,retrying"
          detail={<WaitingBreakdown by={why.data?.by_reason} />}
        />
        <Tile
          label="Running"
          value={c?.running}
          hint="held by a worker right now"
          href="/tasks?status=running"
        />
        <Tile label="Completed / s" value={recent} fmt={(v) => v.toFixed(1)} hint="last 10 seconds" />
        <Tile
          label="Dead letter"
          value={c?.failed}
          hint="failed: needs a human"
          href="/dead-letter"
          tone={(c?.failed ?? 0) > 0 ? 'danger' : undefined}
        />
        <Tile
          label="Workers alive"
          value={workers.data ? alive.length : undefined}
          hint={workers.data ? `${alive.reduce((s, w) => s + (w.concurrency ?? 0), 0)} slots` : ''}
          href="/workers"
          tone={workers.data && alive.length === 0 ? 'danger' : undefined}
        />
      </div>
      <Card title="Task state machine" class="diagram-card">
        <StateDiagram counts={c} seq={live.seq} />
        <p class="legend-line muted small">
          <span class="key">
            <span class="key-line solid" /> done by workers and the scheduler
          </span>
          <span class="key">
            <span class="key-line dashed" /> done by you (cancel, retry)
          </span>
          <span>
            an arrow in use turns blue, carries a moving dot and shows its rate (transitions per second over
            the last 20 s)
          </span>
        </p>
      </Card>
      <div class="grid2">
        <Card title="Throughput">
          <Chart
            slots={tp.slots}
            spanLabel={spanLabel}
            format={(v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1))}
            series={[
              { name: 'completed / s', cls: 'ok', values: tp.completed },
              { name: 'failed / s', cls: 'bad', values: tp.failed },
            ]}
            empty="no tasks finished since this page opened"
          />
        </Card>
        <Card title="Queue latency">
          <Chart
            slots={tp.slots}
            spanLabel={spanLabel}
            format={(v) => duration(v)}
            series={[
              { name: 'mean wait from ready to claimed', cls: 'info', values: tp.wait },
              { name: 'mean run time', cls: 'warn', values: tp.run },
            ]}
            empty="no task claimed since this page opened"
          />
        </Card>
      </div>
    </div>
  )
}

function Tile(props: {
  label: string
  value: number | undefined
  hint?: string
  href?: string
  tone?: 'danger'
  fmt?: (v: number) => string
  detail?: ComponentChildren
}) {
  const body = (
    <>
      <span class="tile-label">{props.label}</span>
      <span class="tile-value">
        {props.value === undefined ? '…' : props.fmt ? props.fmt(props.value) : num(props.value)}
      </span>
      {props.hint && <span class="tile-hint">{props.hint}</span>}
      {props.detail}
    </>
  )
  const cls = `tile${props.tone ? ` ${props.tone}` : ''}`
  return props.href ? (
    <a href={props.href} class={cls} data-tile={props.label}>
      {body}
    </a>
  ) : (
    <div class={cls} data-tile={props.label}>
      {body}
    </div>
  )
}

/** The waiting tasks by the reason they wait (GET /tasks/why), largest first. */
function WaitingBreakdown(props: { by: WhySummary['by_reason'] | undefined }) {
  const parts = WAITING_REASONS.filter((c) => (props.by?.[c] ?? 0) > 0).sort(
    (a, b) => (props.by?.[b] ?? 0) - (props.by?.[a] ?? 0),
  )
  if (!props.by || parts.length === 0) return null
  return (
    <span class="tile-breakdown" data-breakdown>
      {parts.map((c) => (
        <span key={c} class={`why-badge${HELD.has(c) ? ' held' : ''}`} data-why={c}>
          {num(props.by![c]!)} {REASON_LABEL[c]}
        </span>
      ))}
    </span>
  )
}

function Warnings(props: {
  types: TaskType[] | undefined
  workers: WorkerInfo[] | undefined
  byType: Record<string, Partial<Record<TaskStatus, number>>> | null
  now: number
}) {
  if (!props.types || !props.workers) return null
  const notes: { key: string; tone: 'danger' | 'warn'; text: preact.ComponentChildren }[] = []
  const alive = props.workers.filter((w) => isAlive(w, props.now))
  for (const t of props.types) {
    const counts = props.byType?.[t.task_type]
    const waiting = counts ? WAITING.reduce((s, k) => s + (counts[k] ?? 0), 0) : 0
    const workersFor = liveWorkerCount(t, alive)
    if (waiting > 0 && workersFor === 0)
      notes.push({
        key: `orphan-${t.task_type}`,
        tone: 'danger',
        text: (
          <>
            <strong>
              {num(waiting)} {t.task_type}
            </strong>{' '}
            task{waiting === 1 ? '' : 's'} but no live worker handles <code>{t.task_type}</code>: these tasks
            stay pending forever until a worker that registers the type starts (<code>tasklab worker</code>).{' '}
            <a href={`/tasks?task_type=${t.task_type}&status=pending,scheduled,retrying`}>See them</a>
          </>
        ),
      })
    if (t.paused && waiting > 0)
      notes.push({
        key: `paused-${t.task_type}`,
        tone: 'warn',
        text: (
          <>
            <code>{t.task_type}</code> is paused: {num(waiting)} task{waiting === 1 ? '' : 's'} wait until you
            resume it on <a href="/types">Task types</a>.
          </>
        ),
      })
    if (t.breaker.state !== 'closed') {
      const probe = nextProbe(t)
      notes.push({
        key: `breaker-${t.task_type}`,
        tone: 'warn',
        text: (
          <>
            The circuit breaker of <code>{t.task_type}</code> is{' '}
            <strong>{t.breaker.state.replace('_', '-')}</strong> after {t.breaker.failures} failures: its
            tasks wait instead of failing{probe ? `; ${probeText(probe, props.now)}` : ''}.
          </>
        ),
      })
    }
  }
  if (alive.length === 0)
    notes.unshift({
      key: 'no-workers',
      tone: 'danger',
      text: (
        <>
          No worker is alive. Nothing will run: start one with <code>tasklab worker</code> (or run{' '}
          <code>tasklab start</code>, which includes one).
        </>
      ),
    })
  if (!notes.length) return null
  return (
    <div class="warnings">
      {notes.map((n) => (
        <div key={n.key} class={`note ${n.tone}`} role="status" data-warning={n.key}>
          {n.text}
        </div>
      ))}
    </div>
  )
}

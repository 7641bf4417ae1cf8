// What /metrics reports, from one source: the database, to which every process contributes.
// - Counters and latency histograms come from task_events, read through the live feed (stored
//   transitions, claims and completions rebuilt from the rows each outcome write names): every
//   transition made by any process (the workers of every machine, the API's cancels and retries,
//   rescue) counts, whichever process serves /metrics. They start at 0 when this process starts,
//   as Prometheus counters do after a restart; every serve process behind a load balancer reports
//   the same totals since its own start, so query them with rate(), not by summing processes.
// - Gauges (tasks per status and type, breakers, live workers) are read at scrape time.
// The feed skips the rare transition whose transaction commits after a later one was read
// (src/api/events/feed.ts); the tasks gauge is exact.
import type { Sql } from '../../db/connect'
import { LIVE_WORKER } from '../../queue/workers'
import type { FeedEvent, LiveFeed } from '../events/feed'
import { Histogram, labels } from './histogram'

const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const

export class MetricsCollector {
  private claimed = 0
  private readonly outcomes = new Map<string, number>()
  readonly queueLatency = new Histogram(
    'tasklab_task_queue_latency_seconds',
    'Time from runnable (created, scheduled time or backoff end) to claimed.',
  )
  readonly runTime = new Histogram('tasklab_task_run_seconds', 'Time an attempt ran, by type and outcome.')

  constructor(feed: LiveFeed) {
    // Creations count nowhere here (claims, outcomes and their times do): the feed may skip them.
    feed.subscribe((batch) => this.observe(batch), { creations: false })
  }

  /** Counts every transition; times only rows whose task still shows the same attempt (exact). */
  observe(batch: FeedEvent[]): void {
    for (const e of batch) {
      if (e.to_status === 'running') this.claimed++
      // Outcomes of an attempt, and every move to the dead letter queue (rescue's included).
      if (e.from_status === 'running' || e.to_status === 'failed') {
        const key = `${e.task_type}\u0000${e.to_status}`
        this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1)
      }
      if (e.current_attempt !== e.attempt) continue
      if (e.to_status === 'running' && e.run_at)
        this.queueLatency.observe({ task_type: e.task_type }, (e.at.getTime() - e.run_at.getTime()) / 1000)
      else if (e.from_status === 'running' && e.started_at && e.to_status !== 'pending')
        this.runTime.observe(
          { task_type: e.task_type, outcome: e.to_status },
          (e.at.getTime() - e.started_at.getTime()) / 1000,
        )
    }
  }

  async render(sql: Sql): Promise<string> {
    const out: string[] = []
    out.push(
      '# HELP tasklab_tasks_claimed_total Claims by every worker (task_events), since this process started.',
      '# TYPE tasklab_tasks_claimed_total counter',
    )
    out.push(`tasklab_tasks_claimed_total ${this.claimed}`)
    const counter = (name: string, help: string, to: string) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`)
      for (const [key, n] of this.outcomes) {
        const [type, status] = key.split('\u0000')
        if (status === to) out.push(`${name}${labels({ task_type: type! })} ${n}`)
      }
    }
    const since = 'by any process (task_events), since this process started.'
    counter('tasklab_tasks_completed_total', `Attempts that completed, ${since}`, 'completed')
    counter('tasklab_tasks_failed_total', `Tasks moved to the dead letter queue, ${since}`, 'failed')
    counter('tasklab_tasks_retried_total', `Attempts that failed with attempts left, ${since}`, 'retrying')
    out.push(...this.queueLatency.render(), ...this.runTime.render())
    try {
      const [tasks, types, [workers]] = await Promise.all([
        sql<
          { task_type: string; status: string; n: number }[]
        >`SELECT task_type, status::text, count(*)::int AS n FROM tasks GROUP BY 1, 2 ORDER BY 1, 2`,
        sql<
          { name: string; breaker_state: keyof typeof BREAKER_VALUE; paused: boolean }[]
        >`SELECT name, breaker_state, paused FROM task_types ORDER BY name`,
        sql<{ n: number }[]>`SELECT count(*)::int AS n FROM workers WHERE ${sql.unsafe(LIVE_WORKER)}`,
      ])
      out.push('# HELP tasklab_tasks Tasks in the database by status and type.', '# TYPE tasklab_tasks gauge')
      for (const r of tasks)
        out.push(`tasklab_tasks${labels({ status: r.status, task_type: r.task_type })} ${r.n}`)
      out.push(
        '# HELP tasklab_breaker_state Circuit breaker per type: 0 closed, 1 half-open, 2 open.',
        '# TYPE tasklab_breaker_state gauge',
      )
      for (const r of types)
        out.push(`tasklab_breaker_state${labels({ task_type: r.name })} ${BREAKER_VALUE[r.breaker_state]}`)
      out.push('# HELP tasklab_type_paused 1 when the type is paused.', '# TYPE tasklab_type_paused gauge')
      for (const r of types)
        out.push(`tasklab_type_paused${labels({ task_type: r.name })} ${r.paused ? 1 : 0}`)
      out.push(
        '# HELP tasklab_workers_alive Workers heartbeating within their lease.',
        '# TYPE tasklab_workers_alive gauge',
      )
      out.push(`tasklab_workers_alive ${workers!.n}`)
      out.push(
        '# HELP tasklab_database_up 1 when PostgreSQL answered this scrape.',
        '# TYPE tasklab_database_up gauge',
        'tasklab_database_up 1',
      )
    } catch {
      out.push(
        '# HELP tasklab_database_up 1 when PostgreSQL answered this scrape.',
        '# TYPE tasklab_database_up gauge',
        'tasklab_database_up 0',
      )
    }
    return `${out.join('\n')}\n`
  }
}

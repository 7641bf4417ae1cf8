// The storage page's memory: a sample of sizes and dead rows every 5 s while someone is looking
// (sampling starts with the first GET /storage and stops 10 minutes after the last), kept for 15
// minutes. The projection "size in a day" is the growth over those samples, carried on.
import type { Sql } from '../../db/connect'
import { type TableStorage, tableStorage } from '../../db/storage'

export interface Sample {
  at: string
  total_bytes: number
  dead_rows: number
  /** The two tables that grow with the queue. */
  tasks: { bytes: number; dead_rows: number }
  /** The tasks' history: its stored part, the table task_event_log (task_events is a view over it). */
  task_events: { bytes: number; dead_rows: number }
}

export interface Projection {
  bytes_per_hour: number
  in_a_day_bytes: number
  /** The span of samples the rate was measured over. */
  window_secs: number
}

const EVERY_MS = 5000
/** 15 minutes of samples: what the chart shows and the projection reads (~27 kB of JSON). */
const KEEP = 180
const IDLE_MS = 10 * 60_000
const RATE_WINDOW_MS = 15 * 60_000
/** Fewer seconds of samples than this give no projection rather than a wild one. */
const MIN_WINDOW_MS = 10_000

export function sampleOf(tables: TableStorage[], at = new Date()): Sample {
  const one = (name: string) => {
    const t = tables.find((x) => x.table === name)
    return { bytes: t?.total_bytes ?? 0, dead_rows: t?.dead_rows ?? 0 }
  }
  return {
    at: at.toISOString(),
    total_bytes: tables.reduce((s, t) => s + t.total_bytes, 0),
    dead_rows: tables.reduce((s, t) => s + t.dead_rows, 0),
    tasks: one('tasks'),
    task_events: one('task_event_log'),
  }
}

/** Growth per hour over the recent samples, and the size a day from now at that rate. */
export function project(samples: readonly Sample[]): Projection | null {
  const last = samples.at(-1)
  if (!last) return null
  const lastAt = Date.parse(last.at)
  const first = samples.find((s) => Date.parse(s.at) >= lastAt - RATE_WINDOW_MS)!
  const span = lastAt - Date.parse(first.at)
  if (span < MIN_WINDOW_MS) return null
  const perMs = (last.total_bytes - first.total_bytes) / span
  return {
    bytes_per_hour: Math.round(perMs * 3_600_000),
    in_a_day_bytes: Math.max(0, Math.round(last.total_bytes + perMs * 86_400_000)),
    window_secs: Math.round(span / 1000),
  }
}

export class StorageHistory {
  readonly samples: Sample[] = []
  private timer: ReturnType<typeof setInterval> | undefined
  private lastAsked = 0

  constructor(private readonly sql: Sql) {}

  /** Records a reading taken by a request, and keeps sampling for a while after it. */
  record(tables: TableStorage[]): void {
    this.lastAsked = Date.now()
    this.push(sampleOf(tables))
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), EVERY_MS)
      // The sampler never keeps a process (or a test run) alive by itself.
      this.timer.unref?.()
    }
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private async tick(): Promise<void> {
    if (Date.now() - this.lastAsked > IDLE_MS) return this.stop()
    try {
      this.push(sampleOf(await tableStorage(this.sql)))
    } catch {
      // The database is away: a gap in the chart, not an error anyone needs to see.
    }
  }

  private push(s: Sample): void {
    const prev = this.samples.at(-1)
    // A request right after a timed sample replaces it rather than crowding the chart.
    if (prev && Date.parse(s.at) - Date.parse(prev.at) < 1000) this.samples.pop()
    this.samples.push(s)
    if (this.samples.length > KEEP) this.samples.splice(0, this.samples.length - KEEP)
  }
}

// A Prometheus histogram per label set, in the text exposition format.
export const BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

interface Series {
  counts: number[]
  sum: number
  count: number
}

export const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

export function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

export class Histogram {
  private readonly series = new Map<string, { labels: Record<string, string>; s: Series }>()

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets = BUCKETS_S,
  ) {}

  observe(l: Record<string, string>, seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return
    const key = JSON.stringify(l)
    let entry = this.series.get(key)
    if (!entry) {
      entry = { labels: l, s: { counts: this.buckets.map(() => 0), sum: 0, count: 0 } }
      this.series.set(key, entry)
    }
    const { s } = entry
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]!) s.counts[i]!++
    s.sum += seconds
    s.count++
  }

  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const { labels: l, s } of this.series.values()) {
      for (const [i, b] of this.buckets.entries())
        out.push(`${this.name}_bucket${labels({ ...l, le: String(b) })} ${s.counts[i]}`)
      out.push(`${this.name}_bucket${labels({ ...l, le: '+Inf' })} ${s.count}`)
      out.push(`${this.name}_sum${labels(l)} ${s.sum}`, `${this.name}_count${labels(l)} ${s.count}`)
    }
    return out
  }
}

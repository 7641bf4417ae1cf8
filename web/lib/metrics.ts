// Queue latency (time from "ready" to "claimed") from the Prometheus histogram of GET /metrics:
// the growth of its _sum over the growth of its _count between two reads is the mean latency of the
// tasks claimed in between. Read every 2 s while the overview is open.
import { useEffect, useState } from 'preact/hooks'
import { authHeaders, BASE } from './api'

export interface LatencyPoint {
  t: number
  ms: number | null
}

/** Sums every sample of each metric name over its labels. */
export function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (!m) continue
    const v = Number(m[3])
    if (Number.isFinite(v)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + v)
  }
  return out
}

function latencyTotals(metrics: Map<string, number>): { sum: number; count: number } | null {
  for (const [name, sum] of metrics) {
    if (!/queue_latency.*_sum$|latency_seconds_sum$/.test(name) || /run|duration/.test(name)) continue
    const count = metrics.get(name.replace(/_sum$/, '_count'))
    if (count !== undefined) return { sum, count }
  }
  return null
}

export function useQueueLatency(
  windowS = 300,
  everyMs = 2000,
): { points: LatencyPoint[]; available: boolean } {
  const [points, setPoints] = useState<LatencyPoint[]>([])
  const [available, setAvailable] = useState(true)
  useEffect(() => {
    let prev: { sum: number; count: number } | null = null
    let stopped = false
    const read = async () => {
      try {
        const res = await fetch(`${BASE}/metrics`, { headers: authHeaders() })
        if (!res.ok) throw new Error(String(res.status))
        const totals = latencyTotals(parseProm(await res.text()))
        if (!totals) return setAvailable(false)
        if (prev && !stopped) {
          const dc = totals.count - prev.count
          const ms = dc > 0 ? ((totals.sum - prev.sum) / dc) * 1000 : null
          const t = Date.now()
          setPoints((p) => [...p.filter((x) => x.t > t - windowS * 1000), { t, ms }])
        }
        prev = totals
      } catch {
        setAvailable(false)
      }
    }
    // The first read only sets the baseline; it waits for the page's first requests to finish.
    const first = setTimeout(read, 500)
    const timer = setInterval(read, everyMs)
    return () => {
      stopped = true
      clearTimeout(first)
      clearInterval(timer)
    }
  }, [windowS, everyMs])
  return { points, available }
}

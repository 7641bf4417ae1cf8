// Statistics and pacing shared by every tasklab measurement (the peers' lib/common.mjs has the
// same formulas, so the two sides of a ratio are computed alike).

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const idx = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(idx)
  const hi = Math.ceil(idx)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (idx - lo)
}

export function median(values: number[]): number {
  return percentile(
    values.filter(Number.isFinite).sort((a, b) => a - b),
    50,
  )
}

export interface LatencySummary {
  n: number
  min: number
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

export function summarize(values: number[]): LatencySummary {
  const v = [...values].sort((a, b) => a - b)
  return {
    n: v.length,
    min: v[0]!,
    p50: percentile(v, 50),
    p95: percentile(v, 95),
    p99: percentile(v, 99),
    max: v[v.length - 1]!,
    mean: v.reduce((s, x) => s + x, 0) / v.length,
  }
}

/** Runs fn(i) for i in [0, n) with at most `inflight` calls outstanding. */
export async function runPool(
  n: number,
  inflight: number,
  fn: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0
  const lane = async () => {
    for (let i = next++; i < n; i = next++) await fn(i)
  }
  await Promise.all(Array.from({ length: Math.min(inflight, n) }, lane))
}

/**
 * Wall-clock ms with sub-ms precision, comparable across processes. (Bun's process.hrtime counts
 * from its own process start, unlike Node's CLOCK_MONOTONIC, so it cannot be compared across them.)
 */
export const nowMs = (): number => performance.timeOrigin + performance.now()

/** Polls `check` every `everyMs` until it returns a value, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  everyMs: number,
  check: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`)
    await Bun.sleep(everyMs)
  }
}

// A dependency-free line chart for the last minutes: one value per bucket per series, newest right.

export interface Series {
  name: string
  cls: string
  values: (number | null)[]
}

const W = 600
const H = 170
const PAD = { l: 44, r: 10, t: 12, b: 22 }

function niceMax(v: number): number {
  if (v <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

export function Chart(props: {
  series: Series[]
  slots: number
  spanLabel: string
  format: (v: number) => string
  empty?: string
}) {
  const n = Math.max(props.slots, 2)
  const all = props.series.flatMap((s) => s.values.filter((v): v is number => v !== null))
  const max = niceMax(Math.max(0, ...all))
  const x = (i: number) => PAD.l + (i / (n - 1)) * (W - PAD.l - PAD.r)
  const y = (v: number) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b)
  const hasData = all.some((v) => v > 0)

  return (
    <div class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={props.series.map((s) => s.name).join(', ')}
      >
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={PAD.l} x2={W - PAD.r} y1={y(max * f)} y2={y(max * f)} class="grid" />
            <text x={PAD.l - 6} y={y(max * f)} class="axis" text-anchor="end" dominant-baseline="middle">
              {props.format(max * f)}
            </text>
          </g>
        ))}
        <text x={PAD.l} y={H - 4} class="axis">
          {props.spanLabel}
        </text>
        <text x={W - PAD.r} y={H - 4} class="axis" text-anchor="end">
          now
        </text>
        {props.series.map((s) => {
          const pts: string[] = []
          s.values.forEach((v, i) => {
            if (v !== null) pts.push(`${x(i + n - s.values.length).toFixed(1)},${y(v).toFixed(1)}`)
          })
          if (pts.length === 0) return null
          const first = pts[0]!.split(',')[0]
          const [lastX, lastY] = pts[pts.length - 1]!.split(',')
          // The latest reading gets a dot, so a series with one point so far is visible too. A round
          // cap on a zero-length line stays round although the SVG stretches to its box.
          return (
            <g key={s.name} class={`series ${s.cls}`}>
              {pts.length > 1 && (
                <path class="area" d={`M${first},${y(0)} L${pts.join(' L')} L${lastX},${y(0)} Z`} />
              )}
              {pts.length > 1 && <polyline class="line" points={pts.join(' ')} />}
              <line class="latest" x1={lastX} y1={lastY} x2={lastX} y2={lastY} />
            </g>
          )
        })}
      </svg>
      <div class="legend">
        {props.series.map((s) => (
          <span key={s.name} class={`key ${s.cls}`}>
            {s.name}
          </span>
        ))}
        {!hasData && <span class="muted">{props.empty ?? 'no activity yet'}</span>}
      </div>
    </div>
  )
}

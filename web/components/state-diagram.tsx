// The task state machine as a live diagram: every state with its count, every allowed transition
// (from src/queue/states.ts, the same table the database enforces) with its name and, while tasks
// take it, its rate over the last seconds. Solid arrows are moves made by workers and the
// scheduler, dashed ones moves made by you (cancel, retry) — in both states, idle or active; an
// active arrow turns the accent colour and carries a moving dot. Two hand-made layouts, wide and
// narrow (a phone), keep every label beside its own arrow and clear of the others
// (test/browser/diagram.test.ts checks the label boxes at 390, 1024 and 1440 px).
import { useEffect, useState } from 'preact/hooks'
import { num, rate } from '../lib/format'
import { edgeRate, RATE_WINDOW_S } from '../lib/live'
import type { TaskStatus } from '../lib/types'
import { TRANSITIONS } from '../lib/types'
import { STATUS_HELP } from './ui'

type Pt = [number, number]
type Anchor = 'start' | 'middle' | 'end'

interface EdgeSpec {
  /** Control point offset of a single curve (pixels off the straight line, to the left of a→b). */
  bend?: number
  /** Or corners to pass through, rounded. */
  route?: Pt[]
  /** Where the name sits, and on which side of it the rate goes while the arrow is active. */
  label: Pt
  /** The name in lines, where one line is too wide for the room. */
  text?: string[]
  anchor: Anchor
  rate: 'up' | 'down'
}

interface Layout {
  view: Pt
  node: Pt
  font: number
  pos: Record<TaskStatus, Pt>
  edges: Record<string, EdgeSpec>
}

/** Short names for the arrows; the full sentence from TRANSITIONS is the hover text. */
export const LABELS: Record<string, string> = {
  'pending>running': 'claim',
  'running>pending': 'hand back',
  'running>completed': 'success',
  'running>retrying': 'error, attempts left',
  'retrying>running': 'backoff over',
  'running>failed': 'give up',
  'retrying>failed': 'give up',
  'scheduled>pending': 'time reached',
  'pending>scheduled': 'delay',
  'failed>pending': 'retry (you)',
  'cancelled>pending': 'retry (you)',
  'pending>cancelled': 'cancel',
  'scheduled>cancelled': 'cancel',
  'running>cancelled': 'cancel',
  'retrying>cancelled': 'cancel',
}

const e = (label: Pt, anchor: Anchor, rate: 'up' | 'down', more: Partial<EdgeSpec> = {}): EdgeSpec => ({
  label,
  anchor,
  rate,
  ...more,
})

// The happy path runs straight across (pending → running → completed); waiting states sit to the
// left, the outcomes of a failure below. "retry (you)" from failed goes round the outside, over
// the top, so it crosses no other arrow.
const WIDE: Layout = {
  view: [1000, 470],
  node: [150, 62],
  font: 14,
  pos: {
    scheduled: [150, 70],
    pending: [150, 240],
    cancelled: [150, 410],
    running: [520, 240],
    retrying: [520, 410],
    completed: [870, 240],
    failed: [870, 410],
  },
  edges: {
    'pending>scheduled': e([128, 163], 'end', 'down', { bend: 18 }),
    'scheduled>pending': e([172, 163], 'start', 'down', { bend: 18 }),
    'scheduled>cancelled': e([38, 240], 'middle', 'down', {
      route: [
        [38, 96],
        [38, 384],
      ],
    }),
    'pending>running': e([335, 212], 'middle', 'up', { bend: 22 }),
    'running>pending': e([335, 270], 'middle', 'down', { bend: 22 }),
    'pending>cancelled': e([172, 325], 'start', 'down', { bend: 18 }),
    'cancelled>pending': e([128, 325], 'end', 'down', { bend: 18 }),
    'running>completed': e([695, 226], 'middle', 'up'),
    'running>retrying': e([540, 320], 'start', 'down', { bend: 18 }),
    'retrying>running': e([500, 320], 'end', 'down', { bend: 18 }),
    'running>failed': e([712, 338], 'start', 'down'),
    'retrying>failed': e([695, 426], 'middle', 'down'),
    'running>cancelled': e([320, 360], 'middle', 'down'),
    'retrying>cancelled': e([335, 426], 'middle', 'down'),
    'failed>pending': e([600, 128], 'middle', 'up', {
      route: [
        [978, 410],
        [978, 140],
        [310, 140],
      ],
    }),
  },
}

// A phone: the happy path runs down the left column, failure outcomes down the right one, and
// "retry (you)" from failed goes round the bottom and up the left edge. Text is 15 units so that it
// is still ~11 px when the 420-unit drawing is ~310 px wide.
const NARROW: Layout = {
  view: [420, 690],
  node: [104, 50],
  font: 15,
  pos: {
    scheduled: [100, 45],
    pending: [100, 215],
    running: [100, 395],
    completed: [100, 575],
    cancelled: [320, 215],
    retrying: [320, 395],
    failed: [320, 575],
  },
  edges: {
    'pending>scheduled': e([88, 130], 'end', 'down', { bend: 12 }),
    'scheduled>pending': e([112, 130], 'start', 'down', { bend: 12 }),
    'scheduled>cancelled': e([332, 117], 'start', 'down', { route: [[320, 45]] }),
    'pending>running': e([88, 300], 'end', 'down', { bend: -12 }),
    'running>pending': e([112, 300], 'start', 'down', { bend: -12 }),
    'pending>cancelled': e([210, 193], 'middle', 'up', { bend: 12 }),
    'cancelled>pending': e([210, 238], 'middle', 'down', { bend: 12 }),
    'running>completed': e([88, 485], 'end', 'down'),
    'running>retrying': e([210, 418], 'middle', 'down', { bend: -12, text: ['error,', 'attempts left'] }),
    'retrying>running': e([210, 370], 'middle', 'up', { bend: -12 }),
    'running>failed': e([228, 500], 'middle', 'down'),
    'retrying>failed': e([332, 485], 'start', 'down'),
    'running>cancelled': e([222, 296], 'middle', 'down'),
    'retrying>cancelled': e([332, 305], 'start', 'down'),
    'failed>pending': e([168, 654], 'middle', 'down', {
      route: [
        [320, 640],
        [16, 640],
        [16, 215],
      ],
    }),
  },
}

/** Edges not drawn: a scheduled task that is claimed is recorded through pending (two events). */
const HIDDEN = new Set(['scheduled>running'])

/** Moves a user makes: drawn dashed, as the legend says. */
export function byUser(from: string, to: string): boolean {
  return to === 'cancelled' || (to === 'pending' && (from === 'failed' || from === 'cancelled'))
}

/** Where the ray from a node's centre towards `toward` leaves its rectangle (plus a small gap). */
function exitPoint(c: Pt, toward: Pt, [w, h]: Pt): Pt {
  const dx = toward[0] - c[0]
  const dy = toward[1] - c[1]
  const sx = dx === 0 ? Infinity : (w / 2 + 4) / Math.abs(dx)
  const sy = dy === 0 ? Infinity : (h / 2 + 4) / Math.abs(dy)
  const s = Math.min(sx, sy)
  return [c[0] + dx * s, c[1] + dy * s]
}

/** A path through corners, each rounded with a radius of up to 24 px. */
function rounded(points: Pt[]): string {
  let d = `M${points[0]![0]},${points[0]![1]}`
  for (let i = 1; i < points.length - 1; i++) {
    const [p, c, n] = [points[i - 1]!, points[i]!, points[i + 1]!]
    const r1 = Math.min(24, Math.hypot(c[0] - p[0], c[1] - p[1]) / 2)
    const r2 = Math.min(24, Math.hypot(n[0] - c[0], n[1] - c[1]) / 2)
    const towards = (a: Pt, b: Pt, r: number): Pt => {
      const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1
      return [a[0] + ((b[0] - a[0]) / len) * r, a[1] + ((b[1] - a[1]) / len) * r]
    }
    const before = towards(c, p, r1)
    const after = towards(c, n, r2)
    d += ` L${before[0]},${before[1]} Q${c[0]},${c[1]} ${after[0]},${after[1]}`
  }
  const last = points[points.length - 1]!
  return `${d} L${last[0]},${last[1]}`
}

function pathOf(layout: Layout, from: TaskStatus, to: TaskStatus): string {
  const a = layout.pos[from]
  const b = layout.pos[to]
  const spec = layout.edges[`${from}>${to}`]
  if (spec?.route) {
    const route = spec.route
    return rounded([
      exitPoint(a, route[0]!, layout.node),
      ...route,
      exitPoint(b, route[route.length - 1]!, layout.node),
    ])
  }
  const bend = spec?.bend ?? 0
  const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1
  // The normal to the left of a→b: the two arrows of a pair, bent alike, go to opposite sides.
  const ctrl: Pt = [
    (a[0] + b[0]) / 2 + ((b[1] - a[1]) / len) * bend,
    (a[1] + b[1]) / 2 - ((b[0] - a[0]) / len) * bend,
  ]
  const p0 = exitPoint(a, ctrl, layout.node)
  const p1 = exitPoint(b, ctrl, layout.node)
  return `M${p0[0]},${p0[1]} Q${ctrl[0]},${ctrl[1]} ${p1[0]},${p1[1]}`
}

/** The narrow layout below 700 px of viewport: at 390 px the wide one shrinks its text to ~5 px. */
function useNarrow(): boolean {
  const query = '(max-width: 700px)'
  const [narrow, setNarrow] = useState(() => typeof matchMedia === 'function' && matchMedia(query).matches)
  useEffect(() => {
    const m = matchMedia(query)
    const on = () => setNarrow(m.matches)
    m.addEventListener('change', on)
    return () => m.removeEventListener('change', on)
  }, [])
  return narrow
}

export function StateDiagram(props: { counts: Partial<Record<TaskStatus, number>> | null; seq: number }) {
  const layout = useNarrow() ? NARROW : WIDE
  const [W, H] = layout.node
  const edges: { from: TaskStatus; to: TaskStatus; why: string }[] = []
  for (const [from, tos] of Object.entries(TRANSITIONS) as [TaskStatus, Record<string, string>][])
    for (const [to, why] of Object.entries(tos))
      if (!HIDDEN.has(`${from}>${to}`)) edges.push({ from, to: to as TaskStatus, why })

  return (
    <svg
      class={`diagram ${layout === NARROW ? 'narrow' : 'wide'}`}
      viewBox={`0 0 ${layout.view[0]} ${layout.view[1]}`}
      role="img"
      aria-label="Task state machine with live counts"
      data-seq={props.seq}
      style={{ fontSize: `${layout.font}px` }}
    >
      <defs>
        {(['arrow', 'arrow-on'] as const).map((id) => (
          <marker
            key={id}
            id={id}
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerUnits="userSpaceOnUse"
            markerWidth="10"
            markerHeight="10"
            orient="auto-start-reverse"
          >
            <path d="M0,0 L10,5 L0,10 z" class={id === 'arrow-on' ? 'arrowhead on' : 'arrowhead'} />
          </marker>
        ))}
      </defs>
      {edges.map(({ from, to, why }) => {
        const key = `${from}>${to}`
        const spec = layout.edges[key]!
        const r = edgeRate(from, to)
        const d = pathOf(layout, from, to)
        const width = r > 0 ? Math.min(5, 2 + Math.log10(1 + r * 10)) : 1.6
        const [x, y] = spec.label
        const lines = spec.text ?? [LABELS[key]!]
        const lineH = 1.2 * layout.font
        const rateY = spec.rate === 'up' ? y - lineH : y + lines.length * lineH
        return (
          <g key={key} class={`edge${r > 0 ? ' on' : ''}${byUser(from, to) ? ' user' : ''}`} data-edge={key}>
            <title>{`${from} → ${to}: ${why}${r > 0 ? ` — ${rate(r)} over the last ${RATE_WINDOW_S} s` : ''}`}</title>
            <path
              d={d}
              style={{ strokeWidth: width }}
              marker-end={r > 0 ? 'url(#arrow-on)' : 'url(#arrow)'}
            />
            {r > 0 && (
              <circle r="3.5" class="pulse">
                {/* Preact's SVG types lack animateMotion's `path`; the browser reads it as usual. */}
                <animateMotion dur="1.4s" repeatCount="indefinite" {...({ path: d } as object)} />
              </circle>
            )}
            <text x={x} y={y} class="label" text-anchor={spec.anchor} dominant-baseline="middle">
              {lines.map((line, i) => (
                <tspan key={line} x={x} y={y + i * lineH} class="name">
                  {line}
                </tspan>
              ))}
              {r > 0 && (
                <tspan x={x} y={rateY} class="rate">
                  {rate(r)}
                </tspan>
              )}
            </text>
          </g>
        )
      })}
      {(Object.keys(layout.pos) as TaskStatus[]).map((s) => {
        const [x, y] = layout.pos[s]
        const n = props.counts?.[s]
        return (
          <a
            key={s}
            href={`/tasks?status=${s}`}
            class={`node s-${s}`}
            data-state={s}
            aria-label={`${s}: ${n ?? 'unknown'} tasks`}
          >
            <title>{`${s}: ${STATUS_HELP[s]} Click to list them.`}</title>
            <rect x={x - W / 2} y={y - H / 2} width={W} height={H} rx="14" />
            <text x={x} y={y - H * 0.15} text-anchor="middle" class="node-name">
              {s}
            </text>
            <text x={x} y={y + H * 0.28} text-anchor="middle" class="node-count" data-count={n ?? ''}>
              {n === undefined ? '…' : num(n)}
            </text>
          </a>
        )
      })}
    </svg>
  )
}

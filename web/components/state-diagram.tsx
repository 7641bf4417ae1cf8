// The task state machine as a live diagram: every state with its count, every allowed transition
// (from src/queue/states.ts, the same table the database enforces) with its rate over the last
// seconds. Edges that carry traffic are drawn thicker and animated; a state is a link to the list.

import { num, rate } from '../lib/format'
import { edgeRate, RATE_WINDOW_S } from '../lib/live'
import type { TaskStatus } from '../lib/types'
import { TRANSITIONS } from '../lib/types'
import { STATUS_HELP } from './ui'

const W = 150
const H = 62
const POS: Record<TaskStatus, [number, number]> = {
  scheduled: [110, 62],
  pending: [110, 215],
  cancelled: [110, 368],
  running: [480, 215],
  retrying: [480, 368],
  completed: [850, 62],
  failed: [850, 215],
}

/** Short names for the arrows; the full sentence from TRANSITIONS is the hover text. */
const LABELS: Record<string, string> = {
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

/** Curvature per edge (pixels of the control point off the straight line), chosen so pairs separate. */
const BEND: Record<string, number> = {
  'pending>running': -16,
  'running>pending': -16,
  'running>retrying': -22,
  'retrying>running': -22,
  'scheduled>pending': -20,
  'pending>scheduled': -20,
  'pending>cancelled': -20,
  'cancelled>pending': -20,
  'failed>pending': -150,
  'scheduled>cancelled': -170,
  'running>completed': -30,
  'retrying>failed': 30,
}

/** Arrows whose name would collide with a neighbour's; their sentence stays in the hover text. */
const UNLABELLED = new Set(['scheduled>cancelled', 'pending>scheduled', 'cancelled>pending'])

/** Edges not drawn: a scheduled task that is claimed is recorded through pending (two events). */
const HIDDEN = new Set(['scheduled>running'])

type Pt = [number, number]

/** Where the ray from a node's centre towards `toward` leaves its rectangle (plus a small gap). */
function exitPoint(c: Pt, toward: Pt): Pt {
  const dx = toward[0] - c[0]
  const dy = toward[1] - c[1]
  const sx = dx === 0 ? Infinity : (W / 2 + 4) / Math.abs(dx)
  const sy = dy === 0 ? Infinity : (H / 2 + 4) / Math.abs(dy)
  const s = Math.min(sx, sy)
  return [c[0] + dx * s, c[1] + dy * s]
}

function geometry(from: TaskStatus, to: TaskStatus) {
  const a = POS[from]
  const b = POS[to]
  const bend = BEND[`${from}>${to}`] ?? 0
  const mx = (a[0] + b[0]) / 2
  const my = (a[1] + b[1]) / 2
  const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1
  // The normal to the left of a→b: opposite directions of a pair bend to opposite sides.
  const ctrl: Pt = [mx + ((b[1] - a[1]) / len) * bend, my - ((b[0] - a[0]) / len) * bend]
  const p0 = exitPoint(a, ctrl)
  const p1 = exitPoint(b, ctrl)
  const mid: Pt = [0.25 * p0[0] + 0.5 * ctrl[0] + 0.25 * p1[0], 0.25 * p0[1] + 0.5 * ctrl[1] + 0.25 * p1[1]]
  // Labels sit on the outer side of the curve, so the two arrows of a pair keep theirs apart.
  const side = bend === 0 ? 1 : Math.sign(bend)
  const nx = ((b[1] - a[1]) / len) * side
  const ny = (-(b[0] - a[0]) / len) * side
  const anchor = nx > 0.5 ? 'start' : nx < -0.5 ? 'end' : 'middle'
  const label: Pt = [mid[0] + nx * 6, mid[1] + (anchor === 'middle' ? ny * 9 : 0)]
  return { d: `M${p0[0]},${p0[1]} Q${ctrl[0]},${ctrl[1]} ${p1[0]},${p1[1]}`, label, anchor }
}

export function StateDiagram(props: { counts: Partial<Record<TaskStatus, number>> | null; seq: number }) {
  const edges: { from: TaskStatus; to: TaskStatus; why: string }[] = []
  for (const [from, tos] of Object.entries(TRANSITIONS) as [TaskStatus, Record<string, string>][])
    for (const [to, why] of Object.entries(tos))
      if (!HIDDEN.has(`${from}>${to}`)) edges.push({ from, to: to as TaskStatus, why })

  return (
    <svg
      class="diagram"
      viewBox="0 0 960 430"
      role="img"
      aria-label="Task state machine with live counts"
      data-seq={props.seq}
    >
      <defs>
        {/* Arrowheads: plain, and highlighted for edges with traffic. */}
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
        const r = edgeRate(from, to)
        const { d, label: at, anchor } = geometry(from, to)
        const user = to === 'cancelled' || (to === 'pending' && (from === 'failed' || from === 'cancelled'))
        const label = r > 0 ? rate(r) : UNLABELLED.has(key) ? '' : (LABELS[key] ?? '')
        const width = r > 0 ? Math.min(6, 1.8 + Math.log10(1 + r * 10)) : 1.4
        return (
          <g key={key} class={`edge${r > 0 ? ' on' : ''}${user ? ' user' : ''}`} data-edge={key}>
            <title>{`${from} → ${to}: ${why}${r > 0 ? ` — ${rate(r)} over the last ${RATE_WINDOW_S} s` : ''}`}</title>
            <path
              d={d}
              style={{ strokeWidth: width }}
              marker-end={r > 0 ? 'url(#arrow-on)' : 'url(#arrow)'}
            />
            {label && (
              <text
                x={at[0]}
                y={at[1]}
                class={r > 0 ? 'rate' : 'label'}
                text-anchor={anchor}
                dominant-baseline="middle"
              >
                {label}
              </text>
            )}
          </g>
        )
      })}
      {(Object.keys(POS) as TaskStatus[]).map((s) => {
        const [x, y] = POS[s]
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
            <text x={x} y={y - 9} text-anchor="middle" class="node-name">
              {s}
            </text>
            <text x={x} y={y + 17} text-anchor="middle" class="node-count" data-count={n ?? ''}>
              {n === undefined ? '…' : num(n)}
            </text>
          </a>
        )
      })}
    </svg>
  )
}

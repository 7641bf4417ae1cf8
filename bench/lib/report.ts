// The table: one row per metric, tasklab beside graphile-worker and pg-boss, with tasklab ÷ peer
// (medians of the run's samples) and the target. Markdown, so it pastes into the README as is.
import { median } from './stats'

export interface Cell {
  samples: number[]
  /** Shown instead of the median (e.g. "not within 30 s"). */
  text?: string
}

export interface Row {
  id: string
  label: string
  unit: 'tasks/s' | 'ms' | 's' | 'MB' | '×' | 'µs'
  better: 'higher' | 'lower'
  target?: string
  tasklab: Cell
  gw?: Cell
  pgboss?: Cell
}

const fmt = (x: number, unit: Row['unit']): string => {
  if (!Number.isFinite(x)) return 'n/a'
  if (unit === 'tasks/s' || unit === 'µs') return Math.round(x).toLocaleString('en-US')
  if (unit === 's') return x.toFixed(2)
  return x < 10 ? x.toFixed(2) : x.toFixed(1)
}

function show(cell: Cell | undefined, unit: Row['unit']): string {
  if (!cell) return ''
  if (cell.text) return cell.text
  if (cell.samples.length === 0) return 'n/a'
  const m = fmt(median(cell.samples), unit)
  if (cell.samples.length < 2) return m
  return `${m} (${fmt(Math.min(...cell.samples), unit)}–${fmt(Math.max(...cell.samples), unit)})`
}

function ratio(a: Cell, b: Cell | undefined): string {
  if (!b || a.samples.length === 0 || b.samples.length === 0) return ''
  const x = median(a.samples)
  const y = median(b.samples)
  if (!Number.isFinite(y)) return b.text ? 'peer never' : ''
  return `${(x / y).toFixed(2)}×`
}

export function renderTable(rows: Row[]): string {
  const head = [
    'Metric',
    'tasklab',
    'graphile-worker',
    'pg-boss',
    'tasklab ÷ gw',
    'tasklab ÷ pg-boss',
    'target',
  ]
  const body = rows.map((r) => [
    `${r.label} (${r.unit}, ${r.better} is better)`,
    show(r.tasklab, r.unit),
    show(r.gw, r.unit),
    show(r.pgboss, r.unit),
    ratio(r.tasklab, r.gw),
    ratio(r.tasklab, r.pgboss),
    r.target ?? '',
  ])
  const all = [head, ...body]
  const w = head.map((_, j) => Math.max(...all.map((row) => row[j]!.length)))
  const line = (row: string[]) => `| ${row.map((c, j) => c.padEnd(w[j]!)).join(' | ')} |`
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...body.map(line)].join('\n')
}

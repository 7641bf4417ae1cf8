// The end of a chaos run: one row per scenario, the broken invariants spelled out under the table,
// and a verdict line. The same data is the --json output.
import type { Report } from './scenario'

export interface RunReport {
  scenarios: Report[]
  mode: 'spawn' | 'url'
  url: string
  tasks_per_scenario: number
  workers: number
  total_created: number
  total_accounted: number
  verdict: 'pass' | 'fail'
  finished_at: string
}

export function summarize(
  scenarios: Report[],
  meta: Pick<RunReport, 'mode' | 'url' | 'tasks_per_scenario' | 'workers'>,
): RunReport {
  const ran = scenarios.filter((s) => s.verdict !== 'skipped')
  return {
    ...meta,
    scenarios,
    total_created: ran.reduce((a, s) => a + s.created, 0),
    total_accounted: ran.reduce((a, s) => a + s.completed + s.failed + s.cancelled, 0),
    verdict: ran.length > 0 && ran.every((s) => s.verdict === 'pass') ? 'pass' : 'fail',
    finished_at: new Date().toISOString(),
  }
}

const HEAD = [
  'scenario',
  'created',
  'completed',
  'failed exp/act',
  'cancelled',
  'unfinished',
  'dup exec',
  'rescued',
  'drain',
  'verdict',
]

export function table(run: RunReport): string {
  const rows = run.scenarios.map((s) =>
    s.verdict === 'skipped'
      ? [s.scenario, '-', '-', '-', '-', '-', '-', '-', '-', 'SKIPPED']
      : [
          s.scenario,
          String(s.created),
          String(s.completed),
          `${s.failed_expected}/${s.failed}`,
          String(s.cancelled),
          String(s.unfinished),
          s.duplicates === null ? 'n/a' : String(s.duplicates),
          s.rescued === null ? '-' : String(s.rescued),
          `${(s.drain_ms / 1000).toFixed(1)} s`,
          s.verdict.toUpperCase(),
        ],
  )
  const widths = HEAD.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
  const out = [
    line(HEAD),
    `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ]
  for (const s of run.scenarios) {
    for (const c of s.checks)
      if (!c.ok) out.push(`  ✗ ${s.scenario}: ${c.name}${c.detail ? ` (${c.detail})` : ''}`)
    if (s.notes.length) out.push(`  ${s.scenario}: ${s.notes.join('; ')}`)
  }
  const pct = run.total_created
    ? ((100 * run.total_accounted) / run.total_created).toFixed(
        run.total_accounted === run.total_created ? 0 : 2,
      )
    : '0'
  const broken = run.scenarios.filter((s) => s.verdict === 'fail').map((s) => s.scenario)
  out.push(
    run.verdict === 'pass'
      ? `verdict: PASS — ${run.total_accounted} of ${run.total_created} tasks accounted for (${pct} %), every invariant held`
      : `verdict: FAIL — ${broken.length ? `invariants broken in ${broken.join(', ')}` : 'nothing ran'}; ${run.total_accounted} of ${run.total_created} tasks accounted for (${pct} %)`,
  )
  return out.join('\n')
}

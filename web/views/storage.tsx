// Storage: how big the database is, the dead rows every claim and finish leaves behind, and the
// open transaction that keeps VACUUM from reclaiming them — named, with its session — plus the
// retention that keeps finished tasks from piling up for ever. Refreshes every 2 s.
import { useState } from 'preact/hooks'
import type { Storage as StorageReport } from '../../src/api/client'
import { Chart, type Series } from '../components/chart'
import { Card, ErrorNote } from '../components/ui'
import { answer, api } from '../lib/api'
import { ago, dateTime, duration, num } from '../lib/format'
import { useNow } from '../lib/live'
import { useApi } from '../lib/use-api'

type Secs = number | null
type Sample = StorageReport['history'][number]

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—'
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let v = Math.abs(n)
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${n < 0 ? '−' : ''}${i === 0 || v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`
}

/** A retention as a person reads it: "7 d", "keep for ever", "default". */
export function keep(secs: Secs): string {
  if (secs === null) return 'default'
  if (secs === 0) return 'for ever'
  if (secs % 86_400 === 0) return `${secs / 86_400} d`
  return duration(secs * 1000)
}

const THRESHOLDS = [10, 60, 300, 3600]
/** Points shown: the last 15 minutes of 5 s samples. */
const POINTS = 180

/** ?long_transaction_secs=N in the address picks the threshold (a link can carry it). */
export function Storage(props: { query: URLSearchParams }) {
  const asked = Number(props.query.get('long_transaction_secs'))
  const [threshold, setThreshold] = useState(asked > 0 && asked <= 86_400 ? asked : 60)
  const choices = [...new Set([...THRESHOLDS, threshold])].sort((a, b) => a - b)
  const tick = useNow(2000)
  const r = useApi(
    `storage ${threshold}`,
    () =>
      answer(api.GET('/api/v1/storage', { params: { query: { long_transaction_secs: String(threshold) } } })),
    tick,
    1500,
  )
  const d = r.data
  const samples = (d?.history ?? []).slice(-POINTS)
  const slots = Math.max(12, samples.length)
  const line = (name: string, cls: string, pick: (s: Sample) => number): Series => ({
    name,
    cls,
    values: samples.map(pick),
  })
  const oldest = d?.oldest_transaction ?? null
  const long = oldest !== null && oldest.age_secs > threshold
  const spanLabel = samples.length ? ago(samples[0]!.at, Date.parse(samples.at(-1)!.at)) : ''

  return (
    <div class="page storage">
      <div class="page-head">
        <h1>Storage</h1>
        <p class="muted">
          Every claim, finish and delete leaves a dead row version behind; VACUUM reclaims it once no open
          transaction can still see it. One transaction left open stops that for the whole database.
        </p>
      </div>
      <ErrorNote error={r.error} />
      {d && (
        <div class="warnings">
          {d.warnings.map((w) => (
            <div
              key={w}
              class={`note ${w.startsWith('A transaction') ? 'danger' : 'warn'}`}
              role="status"
              data-warning={w.startsWith('A transaction') ? 'long-transaction' : 'storage'}
            >
              {w}
            </div>
          ))}
        </div>
      )}
      <div class="tiles">
        <Tile
          label="Size"
          value={d ? bytes(d.totals.total_bytes) : '…'}
          hint={d ? `database ${bytes(d.server.database_bytes)}` : ''}
        />
        <Tile
          label="Dead rows"
          value={d ? num(d.totals.dead_rows) : '…'}
          hint={d ? `${num(d.totals.rows)} live` : ''}
        />
        <Tile
          label="In a day"
          value={d?.projection ? bytes(d.projection.in_a_day_bytes) : '…'}
          hint={
            d?.projection
              ? `${bytes(d.projection.bytes_per_hour)}/h over the last ${duration(d.projection.window_secs * 1000)}`
              : 'measuring: needs 10 s of samples'
          }
        />
        <Tile
          label="Oldest transaction"
          value={d ? (oldest ? duration(oldest.age_secs * 1000) : 'none') : '…'}
          hint={oldest ? `pid ${oldest.pid} ${oldest.application_name}` : 'no open transaction'}
          tone={long ? 'danger' : undefined}
        />
        <Tile
          label="Autovacuum"
          value={d ? (d.server.autovacuum ? 'on' : 'off') : '…'}
          hint={d ? `PostgreSQL ${d.server.version}` : ''}
          tone={d && !d.server.autovacuum ? 'danger' : undefined}
        />
      </div>
      <div class="grid2">
        <Card title="Size">
          <Chart
            slots={slots}
            spanLabel={spanLabel}
            format={bytes}
            series={[
              line('all tables', 'info', (s) => s.total_bytes),
              line('tasks', 'ok', (s) => s.tasks.bytes),
              line('task_events', 'bad', (s) => s.task_events.bytes),
            ]}
            empty="sampling every 5 s while this page is open"
          />
        </Card>
        <Card title="Dead rows">
          <Chart
            slots={slots}
            spanLabel={spanLabel}
            format={(v) => (v >= 10 ? num(Math.round(v)) : String(Math.round(v * 10) / 10))}
            series={[
              line('all tables', 'info', (s) => s.dead_rows),
              line('tasks', 'ok', (s) => s.tasks.dead_rows),
              line('task_events', 'bad', (s) => s.task_events.dead_rows),
            ]}
            empty="no dead rows: nothing to vacuum"
          />
        </Card>
      </div>
      <Card
        title="Open transactions"
        class="table-card"
        actions={
          <label class="small">
            warn after{' '}
            <select
              value={threshold}
              onChange={(e) => setThreshold(Number(e.currentTarget.value))}
              aria-label="Warn about transactions open longer than"
            >
              {choices.map((s) => (
                <option key={s} value={s}>
                  {duration(s * 1000)}
                </option>
              ))}
            </select>
          </label>
        }
      >
        <table class="table">
          <thead>
            <tr>
              <th>PID</th>
              <th>Application</th>
              <th>Client</th>
              <th>State</th>
              <th>Open for</th>
              <th>Query started</th>
              <th title="Transactions begun since its snapshot: how far it holds the horizon back">
                Xmin age
              </th>
              <th>Query</th>
            </tr>
          </thead>
          <tbody>
            {(d?.open_transactions ?? []).map((t) => (
              <tr key={t.pid} data-pid={t.pid} class={t.age_secs > threshold ? 'danger' : ''}>
                <td class="num mono">{t.pid}</td>
                <td>{t.application_name || <span class="muted">none</span>}</td>
                <td class="mono small">{t.client}</td>
                <td>{t.state ?? '—'}</td>
                <td class="num" title={dateTime(t.xact_start)}>
                  {duration(t.age_secs * 1000)}
                </td>
                <td title={dateTime(t.query_start)}>{ago(t.query_start)}</td>
                <td class="num">{num(t.xmin_age)}</td>
                <td class="mono small ellipsis" title={t.query}>
                  {t.query}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {d && d.open_transactions.length === 0 && (
          <p class="empty">No other session has a transaction open.</p>
        )}
      </Card>
      <Card title="Tables" class="table-card">
        <table class="table">
          <thead>
            <tr>
              <th>Table</th>
              <th>Rows</th>
              <th>Dead rows</th>
              <th>Total</th>
              <th>Table</th>
              <th>Indexes</th>
              <th>TOAST</th>
              <th>Last vacuum</th>
            </tr>
          </thead>
          <tbody>
            {(d?.tables ?? []).map((t) => {
              const last = [t.last_vacuum, t.last_autovacuum].filter(Boolean).sort().at(-1) ?? null
              const deadShare = t.rows + t.dead_rows > 0 ? t.dead_rows / (t.rows + t.dead_rows) : 0
              return (
                <tr key={t.table} data-table={t.table}>
                  <td class="mono">{t.table}</td>
                  <td class="num">{num(t.rows)}</td>
                  <td class="num">
                    {num(t.dead_rows)}
                    {deadShare >= 0.2 && <span class="muted"> ({Math.round(deadShare * 100)} %)</span>}
                  </td>
                  <td class="num">{bytes(t.total_bytes)}</td>
                  <td class="num">{bytes(t.table_bytes)}</td>
                  <td class="num">{bytes(t.index_bytes)}</td>
                  <td class="num">{bytes(t.toast_bytes)}</td>
                  <td title={dateTime(last)}>
                    {last ? `${ago(last)}${last === t.last_autovacuum ? ' (auto)' : ''}` : 'never'}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </Card>
      {d && (
        <Card title="Retention">
          <p class="muted small">
            Finished tasks are deleted with their history this long after they end (0 keeps them for ever).
            Set the defaults with <code>STARTER__RETENTION__COMPLETED_SECS</code>,{' '}
            <code>…_CANCELLED_SECS</code> and <code>…_FAILED_SECS</code>; a type overrides them with{' '}
            <code>PATCH /api/v1/tasks/types/&#123;type&#125;</code>{' '}
            <code>{'{"retention": {"completed_secs": 3600}}'}</code>.
          </p>
          <table class="table">
            <thead>
              <tr>
                <th>Task type</th>
                <th>Completed</th>
                <th>Cancelled</th>
                <th>Failed</th>
              </tr>
            </thead>
            <tbody>
              <tr data-retention="default">
                <td>every type (default)</td>
                <td>{keep(d.retention.completed_secs)}</td>
                <td>{keep(d.retention.cancelled_secs)}</td>
                <td>{keep(d.retention.failed_secs)}</td>
              </tr>
              {d.retention.overrides.map((o) => (
                <tr key={o.task_type} data-retention={o.task_type}>
                  <td class="mono">{o.task_type}</td>
                  <td>{keep(o.completed_secs)}</td>
                  <td>{keep(o.cancelled_secs)}</td>
                  <td>{keep(o.failed_secs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </div>
  )
}

function Tile(props: { label: string; value: string; hint?: string; tone?: 'danger' }) {
  return (
    <div class={`tile${props.tone ? ` ${props.tone}` : ''}`} data-tile={props.label}>
      <span class="tile-label">{props.label}</span>
      <span class="tile-value">{props.value}</span>
      {props.hint && <span class="tile-hint">{props.hint}</span>}
    </div>
  )
}

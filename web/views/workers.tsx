// Workers: every process that registered in the last day, alive or not, with what it is doing.
import { Card, Empty, ErrorNote } from '../components/ui'
import { answer, api } from '../lib/api'
import { ago, dateTime, duration } from '../lib/format'
import { useLive, useNow } from '../lib/live'
import { useApi } from '../lib/use-api'
import { isAlive } from './types-util'

export function Workers() {
  const live = useLive()
  const now = useNow(1000)
  const workers = useApi('workers', () => answer(api.GET('/api/v1/workers')), live.seq, 2000)
  const rows = [...(workers.data ?? [])].sort(
    (a, b) => Number(isAlive(b, now)) - Number(isAlive(a, now)) || a.id.localeCompare(b.id),
  )

  return (
    <div class="page workers">
      <div class="page-head">
        <h1>Workers</h1>
        <p class="muted">
          A worker claims tasks under a lease and renews it with a heartbeat. One that stops heartbeating is
          dead: its running tasks are rescued when their lease runs out.
        </p>
      </div>
      <ErrorNote error={workers.error} />
      <Card class="table-card">
        <table class="table">
          <thead>
            <tr>
              <th>Worker</th>
              <th>State</th>
              <th>Host</th>
              <th>PID</th>
              <th>Uptime</th>
              <th>Last heartbeat</th>
              <th>Running</th>
              <th>Types</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((w) => {
              const ok = isAlive(w, now)
              const n = w.running_tasks
              return (
                <tr key={w.id} data-worker={w.id} class={ok ? '' : 'dim'}>
                  <td class="mono">
                    {w.id}{' '}
                    {w.kind === 'remote' && (
                      <span class="badge" title="a remote worker speaking the HTTP worker protocol">
                        HTTP
                      </span>
                    )}
                  </td>
                  <td>
                    <span class={`alive ${ok ? 'yes' : 'no'}`}>
                      {ok ? 'alive' : w.stopped_at ? 'stopped' : 'lost'}
                    </span>
                  </td>
                  <td>{w.host}</td>
                  <td class="num">{w.kind === 'remote' ? '—' : w.pid}</td>
                  <td title={dateTime(w.started_at)}>
                    {ok ? duration(now - new Date(w.started_at).getTime()) : '—'}
                  </td>
                  <td>{ago(w.heartbeat_at, now)}</td>
                  <td class="num">
                    {n}
                    {w.concurrency ? <span class="muted"> / {w.concurrency}</span> : null}
                    {ok && w.concurrency ? <Meter value={n} max={w.concurrency} /> : null}
                  </td>
                  <td class="small">{(w.task_types ?? []).join(', ')}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
        {workers.data && rows.length === 0 && (
          <Empty>
            No worker has registered. Start one with <code>tasklab worker</code>.
          </Empty>
        )}
      </Card>
    </div>
  )
}

function Meter({ value, max }: { value: number; max: number }) {
  return (
    <span class="meter" title={`${value} of ${max} slots busy`}>
      <span style={{ width: `${Math.min(100, (value / max) * 100)}%` }} />
    </span>
  )
}

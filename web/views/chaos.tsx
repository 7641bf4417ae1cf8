// Chaos (only when the server runs with --chaos): fault rules per type, killing a worker, and small
// scenarios run from the browser through the public API, each tagging its tasks with
// metadata {chaos_run: id} so the invariant verdict counts only them:
//   created = terminal + in flight, and no task is running past its lease.
import { useEffect, useState } from 'preact/hooks'
import type { NewFault, NewTask } from '../../src/api/client'
import { Action, Card, Empty, ErrorNote, toast } from '../components/ui'
import { answer, api, dataOf, getToken } from '../lib/api'
import { chaosCommand } from '../lib/chaos-command'
import { ago, num } from '../lib/format'
import { bump, useLive, useNow } from '../lib/live'
import type { FaultRule, TaskType } from '../lib/types'
import { useApi } from '../lib/use-api'
import { isAlive } from './types-util'

const createFault = (body: NewFault) => answer(api.POST('/api/v1/chaos/faults', { body }))

const KIND_HELP = {
  fail: 'the attempt throws (retried, or dead-lettered when permanent)',
  latency: 'the attempt waits first',
  hang: 'the attempt never returns; its timeout ends it',
  crash: 'the worker process dies mid-task (SIGKILL); its lease expires and the task is rescued',
}

interface Scenario {
  name: string
  about: string
  run: (runId: string) => Promise<number>
}

async function createTagged(
  runId: string,
  tasks: NewTask[],
  extra: Record<string, unknown> = {},
): Promise<number> {
  let n = 0
  for (let i = 0; i < tasks.length; i += 500) {
    const chunk = tasks.slice(i, i + 500).map((t) => ({ ...t, metadata: { chaos_run: runId, ...extra } }))
    n += (await dataOf(api.POST('/api/v1/tasks/batch', { body: { tasks: chunk } }))).length
  }
  return n
}

const PRIORITY_CYCLE = ['low', 'normal', 'high', 'critical'] as const

const SCENARIOS: Scenario[] = [
  {
    name: 'Flood',
    about: '300 short delay_task tasks at once, mixed priorities: watch the queue drain, critical first.',
    run: (id) =>
      createTagged(
        id,
        Array.from({ length: 300 }, (_, i) => ({
          task_type: 'delay_task',
          priority: PRIORITY_CYCLE[i % 4],
          payload: { delay_seconds: 0.05 + (i % 5) * 0.05 },
        })),
      ),
  },
  {
    name: 'Flaky email',
    about: 'A 2-minute rule failing 40 % of email attempts, then 40 emails: watch retries and backoff.',
    run: async (id) => {
      await createFault({
        task_type: 'email',
        kind: 'fail',
        probability: 0.4,
        expires_in_secs: 120,
        match: { chaos_run: id },
      })
      return createTagged(
        id,
        Array.from({ length: 40 }, (_, i) => ({
          task_type: 'email',
          payload: { to: `user${i}@example.com`, subject: 'hello', body: 'chaos', latency_ms: 50 },
          retry_strategy: { type: 'fixed' as const, interval_ms: 500, max_attempts: 4 },
        })),
      )
    },
  },
  {
    name: 'Breaker trip',
    about:
      'Every data_processing attempt fails for 60 s: after 5 failures the breaker opens and the rest wait instead of burning.',
    run: async (id) => {
      await createFault({
        task_type: 'data_processing',
        kind: 'fail',
        probability: 1,
        expires_in_secs: 60,
        match: { chaos_run: id },
      })
      return createTagged(
        id,
        Array.from({ length: 20 }, () => ({
          task_type: 'data_processing',
          payload: { operation: 'sum', data: [1, 2, 3] },
          retry_strategy: { type: 'fixed' as const, interval_ms: 1000, max_attempts: 5 },
        })),
      )
    },
  },
  {
    name: 'Poison messages',
    about: '10 tasks that fail permanently (straight to the dead letter queue) among 50 good ones.',
    run: async (id) => {
      await createFault({
        task_type: 'delay_task',
        kind: 'fail',
        permanent: true,
        expires_in_secs: 120,
        match: { chaos_run: id, poison: true },
      })
      const good = Array.from({ length: 50 }, () => ({
        task_type: 'delay_task',
        payload: { delay_seconds: 0.1 },
      }))
      const bad = Array.from({ length: 10 }, () => ({
        task_type: 'delay_task',
        payload: { delay_seconds: 0.1 },
      }))
      return (await createTagged(id, good)) + (await createTagged(id, bad, { poison: true }))
    },
  },
]

export function Chaos() {
  const live = useLive()
  const now = useNow(1000)
  const faults = useApi('faults', () => answer(api.GET('/api/v1/chaos/faults')), live.seq, 2000)
  const workers = useApi('workers', () => answer(api.GET('/api/v1/workers')), live.seq, 2000)
  const types = useApi('types', () => answer(api.GET('/api/v1/tasks/types')))
  const [run, setRun] = useState<{ id: string; name: string; created: number } | null>(null)

  const start = async (s: Scenario) => {
    const id = `${s.name.toLowerCase().replace(/\s+/g, '-')}-${Date.now().toString(36)}`
    const created = await s.run(id)
    setRun({ id, name: s.name, created })
    bump()
    faults.reload()
  }

  return (
    <div class="page chaos">
      <div class="page-head">
        <h1>Chaos</h1>
        <p class="muted">
          Break things on purpose and check that the queue keeps its promises. Rules expire by themselves (10
          minutes unless you say otherwise).
        </p>
      </div>
      <div class="grid2">
        <Card title="Scenarios">
          <ul class="scenarios">
            {SCENARIOS.map((s) => (
              <li key={s.name}>
                <div>
                  <strong>{s.name}</strong>
                  <p class="muted small">{s.about}</p>
                </div>
                <Action label="Start" kind="primary" run={() => start(s)} done={`${s.name} started`} />
              </li>
            ))}
          </ul>
          <p class="muted small">
            The full scripted scenarios (worker kills, database restart) run from the command line, with your
            session token (db-restart also needs <code>--database-url</code>):{' '}
            <code>{chaosCommand(location.origin)}</code>{' '}
            <Action
              label="Copy with my token"
              run={() => navigator.clipboard.writeText(chaosCommand(location.origin, getToken() ?? ''))}
              done="command copied"
              small
            />
          </p>
        </Card>
        <Card title={run ? `Verdict: ${run.name}` : 'Invariant verdict'}>
          {run ? (
            <Verdict run={run} seq={live.changes} now={now} />
          ) : (
            <Empty>Start a scenario to watch its tasks being accounted for.</Empty>
          )}
        </Card>
      </div>
      <Card title="Fault rules in force">
        <ErrorNote error={faults.error} />
        <NewFaultForm types={types.data ?? []} onCreated={() => faults.reload()} />
        {faults.data && faults.data.length === 0 && <Empty>No fault rule is in force.</Empty>}
        {faults.data && faults.data.length > 0 && (
          <table class="table compact">
            <thead>
              <tr>
                <th>Type</th>
                <th>Kind</th>
                <th>Chance</th>
                <th>Only when metadata has</th>
                <th>Expires</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {faults.data.map((f) => (
                <tr key={f.id}>
                  <td>{f.task_type === '*' ? 'every type' : f.task_type}</td>
                  <td title={KIND_HELP[f.kind]}>
                    {f.kind}
                    {f.permanent ? ' (permanent)' : ''}
                    {f.latency_ms ? ` ${f.latency_ms} ms` : ''}
                  </td>
                  <td class="num">{Math.round(f.probability * 100)} %</td>
                  <td class="mono small">{f.match ? JSON.stringify(f.match) : 'any task'}</td>
                  <td>{ago(f.expires_at, now)}</td>
                  <td>
                    <Action
                      label="Delete"
                      small
                      run={async () => {
                        await answer(
                          api.DELETE('/api/v1/chaos/faults/{id}', { params: { path: { id: f.id } } }),
                        )
                        faults.reload()
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Kill a worker">
        <p class="muted small">
          The worker exits at once, as with <code>kill -9</code>: its running tasks stay "running" until their
          lease runs out, then they are rescued and retried. In <code>tasklab start</code> the worker lives
          inside the server process, so killing it stops this panel's server too.
        </p>
        <table class="table compact">
          <tbody>
            {(workers.data ?? [])
              .filter((w) => isAlive(w, now))
              .map((w) => (
                <tr key={w.id}>
                  <td class="mono">{w.id}</td>
                  <td>
                    {w.host} pid {w.pid}
                  </td>
                  <td class="num">{typeof w.running_tasks === 'number' ? w.running_tasks : 0} running</td>
                  <td>
                    <Action
                      label="Kill"
                      kind="danger"
                      small
                      confirm={`Kill worker ${w.id} (pid ${w.pid}) abruptly?`}
                      run={async () => {
                        const { message } = await answer(
                          api.POST('/api/v1/chaos/workers/{id}/kill', { params: { path: { id: w.id } } }),
                        )
                        toast(message ?? 'Worker killed')
                        bump()
                      }}
                    />
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </Card>
    </div>
  )
}

function NewFaultForm(props: { types: TaskType[]; onCreated: () => void }) {
  const [type, setType] = useState('*')
  const [kind, setKind] = useState<FaultRule['kind']>('fail')
  const [p, setP] = useState(0.5)
  const [permanent, setPermanent] = useState(false)
  const [latency, setLatency] = useState(2000)
  const [minutes, setMinutes] = useState(10)
  const [error, setError] = useState<unknown>(null)
  const submit = async (e: Event) => {
    e.preventDefault()
    setError(null)
    try {
      const body: NewFault = {
        task_type: type,
        kind,
        probability: p,
        expires_in_secs: minutes * 60,
      }
      if (kind === 'fail') body.permanent = permanent
      if (kind === 'latency') body.latency_ms = latency
      const { message } = await createFault(body)
      toast(message ?? 'Fault rule created')
      props.onCreated()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <form class="fault-form" onSubmit={submit}>
      <label class="inline">
        Type
        <select value={type} onChange={(e) => setType(e.currentTarget.value)}>
          <option value="*">every type</option>
          {props.types.map((t) => (
            <option key={t.task_type} value={t.task_type}>
              {t.task_type}
            </option>
          ))}
        </select>
      </label>
      <label class="inline" title={KIND_HELP[kind]}>
        Kind
        <select value={kind} onChange={(e) => setKind(e.currentTarget.value as FaultRule['kind'])}>
          {Object.keys(KIND_HELP).map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      <label class="inline">
        Chance
        <input
          type="number"
          min={0.01}
          max={1}
          step={0.01}
          value={p}
          onInput={(e) => setP(Number(e.currentTarget.value))}
        />
      </label>
      {kind === 'fail' && (
        <label class="check-label">
          <input
            type="checkbox"
            checked={permanent}
            onChange={(e) => setPermanent(e.currentTarget.checked)}
          />{' '}
          permanent
        </label>
      )}
      {kind === 'latency' && (
        <label class="inline">
          Latency (ms)
          <input
            type="number"
            min={1}
            value={latency}
            onInput={(e) => setLatency(Number(e.currentTarget.value))}
          />
        </label>
      )}
      <label class="inline">
        For (min)
        <input
          type="number"
          min={1}
          max={1440}
          value={minutes}
          onInput={(e) => setMinutes(Number(e.currentTarget.value))}
        />
      </label>
      <button type="submit" class="btn primary">
        Add rule
      </button>
      <ErrorNote error={error} />
    </form>
  )
}

const TERMINAL = 'completed,failed,cancelled'
const IN_FLIGHT = 'pending,scheduled,running,retrying'

function Verdict(props: { run: { id: string; created: number }; seq: number; now: number }) {
  const [v, setV] = useState<{ terminal: number; inFlight: number; overdue: number } | null>(null)
  useEffect(() => {
    let stale = false
    const list = (status: string, limit: number) =>
      answer(
        api.GET('/api/v1/tasks', { params: { query: { q: props.run.id, status, limit: String(limit) } } }),
      )
    const count = async (status: string) => (await list(status, 1)).meta.total
    void (async () => {
      const [terminal, inFlight, running] = await Promise.all([
        count(TERMINAL),
        count(IN_FLIGHT),
        list('running', 1000),
      ])
      // A little slack for the rescue pass, which runs every few seconds.
      const overdue = running.data.filter(
        (t) => t.lease_expires_at && new Date(t.lease_expires_at).getTime() < Date.now() - 5000,
      ).length
      if (!stale) setV({ terminal, inFlight, overdue })
    })().catch(() => {})
    return () => {
      stale = true
    }
  }, [props.seq, props.run.id])
  if (!v) return <p class="muted">Counting…</p>
  const accounted = v.terminal + v.inFlight === props.run.created
  return (
    <div class="verdict">
      <p class="muted small">
        run <code>{props.run.id}</code>
      </p>
      <ul>
        <li class={accounted ? 'ok' : 'bad'}>
          created {num(props.run.created)} = terminal {num(v.terminal)} + in flight {num(v.inFlight)}{' '}
          {accounted ? '✓' : '✗ (a task is missing)'}
        </li>
        <li class={v.overdue === 0 ? 'ok' : 'bad'}>
          {v.overdue === 0
            ? 'no task running past its lease ✓'
            : `${v.overdue} task(s) running past their lease ✗`}
        </li>
        <li class={v.inFlight === 0 ? 'ok' : ''}>
          {v.inFlight === 0 ? 'every task reached a terminal state ✓' : `${num(v.inFlight)} still in flight…`}
        </li>
      </ul>
    </div>
  )
}

// Task types: who can run them (live workers), their circuit breaker, and the admin's switches:
// pause/resume and the breaker thresholds, timeout and default retry strategy (PATCH /tasks/types/{type}).
import { useState } from 'preact/hooks'
import type { TypePatch } from '../../src/api/client'
import { Action, Card, ErrorNote, toast } from '../components/ui'
import { answer, api } from '../lib/api'
import { duration, num } from '../lib/format'
import { bump, useLive, useNow } from '../lib/live'
import type { TaskType } from '../lib/types'
import { useApi } from '../lib/use-api'
import { describeStrategy } from './task-detail'
import { isAlive, liveWorkerCount, nextProbe, probeText } from './types-util'

const BREAKER_HELP = {
  closed: 'Closed: tasks run normally.',
  open: 'Open: too many failures in a row; tasks of this type wait instead of failing until the cool-down ends.',
  half_open:
    'Half-open: letting one probe task through; enough successes close it again, a failure reopens it.',
}

/** PATCH /tasks/types/{type}: pause, breaker reset, settings. */

export function Types(props: { admin: boolean }) {
  const live = useLive()
  const now = useNow(1000)
  const types = useApi('types', () => answer(api.GET('/api/v1/tasks/types')), live.seq, 3000)
  const workers = useApi('workers', () => answer(api.GET('/api/v1/workers')), live.seq, 3000)
  const [editing, setEditing] = useState<string | null>(null)
  const alive = (workers.data ?? []).filter((w) => isAlive(w, now))

  const patch = async (name: string, body: TypePatch) => {
    await answer(api.PATCH('/api/v1/tasks/types/{type}', { params: { path: { type: name } }, body }))
    bump()
    types.reload()
  }

  return (
    <div class="page types">
      <div class="page-head">
        <h1>Task types</h1>
        <p class="muted">
          Workers register the types they can run when they start. A task of a type with no live worker waits;
          a paused type's tasks wait until it is resumed.
        </p>
      </div>
      <ErrorNote error={types.error} />
      <div class="type-grid">
        {(types.data ?? []).map((t) => {
          const n = liveWorkerCount(t, alive)
          const waiting = live.byType?.[t.task_type]
          const probe = nextProbe(t)
          return (
            <Card key={t.task_type} class={`type-card${t.paused ? ' paused' : ''}`}>
              <div class="type-head" data-type={t.task_type}>
                <div>
                  <h2>
                    {t.task_type}
                    {!t.is_active && <span class="tag">inactive</span>}
                    {t.paused && (
                      <span class="tag warn" data-paused="true">
                        paused
                      </span>
                    )}
                  </h2>
                  <p class="muted small">{t.description}</p>
                </div>
                {props.admin && (
                  <div class="actions">
                    {t.paused ? (
                      <Action
                        label="Resume"
                        kind="primary"
                        run={() => patch(t.task_type, { paused: false })}
                        done={`${t.task_type} resumed`}
                      />
                    ) : (
                      <Action
                        label="Pause"
                        run={() => patch(t.task_type, { paused: true })}
                        done={`${t.task_type} paused: its tasks wait`}
                      />
                    )}
                    {t.breaker.state !== 'closed' && (
                      <Action
                        label="Close breaker"
                        title="Reset the breaker to closed now, without waiting for a successful probe"
                        run={() => patch(t.task_type, { breaker: { state: 'closed' } })}
                        done={`${t.task_type} breaker closed`}
                      />
                    )}
                    <button
                      type="button"
                      class="btn"
                      onClick={() => setEditing(editing === t.task_type ? null : t.task_type)}
                    >
                      {editing === t.task_type ? 'Close' : 'Settings'}
                    </button>
                  </div>
                )}
              </div>
              <dl class="facts inline-facts">
                <dt>Live workers</dt>
                <dd class={n === 0 ? 'bad' : ''} data-live-workers={n}>
                  {n}
                  {n === 0 && ' — its tasks stay pending'}
                </dd>
                <dt>Breaker</dt>
                <dd>
                  <span class={`breaker b-${t.breaker.state}`} title={BREAKER_HELP[t.breaker.state]}>
                    {t.breaker.state.replace('_', '-')}
                  </span>{' '}
                  <span class="muted small">
                    {t.breaker.failures}/{t.breaker.failure_threshold} failures
                    {probe ? ` · ${probeText(probe, now)}` : ''}
                  </span>
                </dd>
                {waiting && (
                  <>
                    <dt>Tasks</dt>
                    <dd class="small">
                      {(['pending', 'running', 'retrying', 'failed'] as const).map((s) => (
                        <a key={s} href={`/tasks?task_type=${t.task_type}&status=${s}`} class="mini">
                          {num(waiting[s] ?? 0)} {s}
                        </a>
                      ))}
                    </dd>
                  </>
                )}
                <dt>Timeout</dt>
                <dd>{t.timeout_ms ? duration(t.timeout_ms) : 'default'}</dd>
                <dt>Default retries</dt>
                <dd class="small">
                  {t.retry_strategy ? describeStrategy(t.retry_strategy) : 'server default'}
                </dd>
              </dl>
              {editing === t.task_type && <Settings t={t} onSave={(body) => patch(t.task_type, body)} />}
            </Card>
          )
        })}
      </div>
    </div>
  )
}

function Settings(props: { t: TaskType; onSave: (body: Record<string, unknown>) => Promise<void> }) {
  const { t } = props
  const [failure, setFailure] = useState(t.breaker.failure_threshold)
  const [success, setSuccess] = useState(t.breaker.success_threshold)
  const [cooldown, setCooldown] = useState(t.breaker.cooldown_ms)
  const [timeout, setTimeoutMs] = useState(t.timeout_ms ? String(t.timeout_ms) : '')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)

  const save = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const body: Record<string, unknown> = {
        breaker: { failure_threshold: failure, success_threshold: success, cooldown_ms: cooldown },
      }
      if (timeout.trim()) body.timeout_ms = Number(timeout)
      await props.onSave(body)
      toast(`${t.task_type} settings saved`)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form class="settings" onSubmit={save}>
      <label class="inline">
        Open after failures
        <input
          type="number"
          min={1}
          value={failure}
          onInput={(e) => setFailure(Number(e.currentTarget.value))}
        />
      </label>
      <label class="inline">
        Close after successes
        <input
          type="number"
          min={1}
          value={success}
          onInput={(e) => setSuccess(Number(e.currentTarget.value))}
        />
      </label>
      <label class="inline">
        Cool-down (ms)
        <input
          type="number"
          min={0}
          value={cooldown}
          onInput={(e) => setCooldown(Number(e.currentTarget.value))}
        />
      </label>
      <label class="inline">
        Timeout (ms)
        <input
          type="number"
          min={1}
          value={timeout}
          placeholder="default"
          onInput={(e) => setTimeoutMs(e.currentTarget.value)}
        />
      </label>
      <ErrorNote error={error} />
      <button type="submit" class="btn primary" disabled={busy}>
        {busy ? 'Saving…' : 'Save'}
      </button>
    </form>
  )
}

// One task: what it carries (payload, result, metadata), how it retries, and every attempt read from
// its transition history (GET /tasks/{id}/events), newest first. The buttons follow the state:
// cancel while it can still be stopped, retry once it is failed or cancelled, delete when finished.

import { retryDelayMs } from '../../src/shared/retry'
import { Action, Badge, Card, Empty, ErrorNote, Json } from '../components/ui'
import { WhyBox } from '../components/why-box'
import { answer, api } from '../lib/api'
import { ago, dateTime, duration, num } from '../lib/format'
import { bump, taskVersion, useLive, useNow } from '../lib/live'
import { navigate } from '../lib/router'
import type { RetryStrategy, Task, TaskEvent, TaskStatus } from '../lib/types'
import { CANCELLABLE, DELETABLE, RETRYABLE, TERMINAL } from '../lib/types'
import { useApi } from '../lib/use-api'

export interface Attempt {
  /** Numbered across manual retries: the third run of the handler is attempt 3, whatever reset. */
  n: number
  /** The task's own attempt counter at the time (it restarts at 1 after a manual retry). */
  tryOf: number
  /** How many manual retries came before this attempt. */
  retries: number
  worker: string | null
  start: string
  end: string | null
  outcome: TaskStatus | null
  error: string | null
  /** Who ended it when not its worker: the rescue after a lost lease, or a user's cancel. */
  endedBy: string | null
}

/** Each `→ running` event opens an attempt; the next event out of running closes it. */
export function attemptsOf(events: TaskEvent[]): Attempt[] {
  const out: Attempt[] = []
  let open: Attempt | null = null
  let retries = 0
  for (const e of events) {
    if (e.to_status === 'running') {
      open = {
        n: out.length + 1,
        tryOf: e.attempt,
        retries,
        worker: e.worker_id,
        start: e.at,
        end: null,
        outcome: null,
        error: null,
        endedBy: null,
      }
      out.push(open)
    } else if (open && e.from_status === 'running') {
      open.end = e.at
      open.outcome = e.to_status
      open.error = e.error
      open.worker ??= e.worker_id
      open.endedBy = e.actor === 'worker' ? null : e.actor
      open = null
    } else if (e.from_status === 'failed' || e.from_status === 'cancelled') retries++
  }
  return out.reverse()
}

/** Who made a transition, in words: the rescue is named as such, not after the worker it replaced. */
export function actorOf(e: TaskEvent): string {
  if (e.actor === 'rescue') return e.worker_id ? `rescue (lease of ${e.worker_id} expired)` : 'rescue'
  if (e.actor === 'worker') return e.worker_id ?? 'worker'
  if (e.actor.startsWith('user:')) return 'a user'
  return e.actor
}

/** The error worth a banner: the one that put the task where it is now, never a healed one. */
export function currentError(t: Task): { label: string; tone: 'error' | 'warn' } | null {
  if (!t.last_error) return null
  if (t.status === 'failed') return { label: 'Failed with', tone: 'error' }
  if (t.status === 'retrying') return { label: `Attempt ${t.current_attempt} failed with`, tone: 'warn' }
  if (t.status === 'running' && t.current_attempt > 1)
    return { label: `Attempt ${t.current_attempt - 1} failed with`, tone: 'warn' }
  return null
}

export function describeStrategy(s: RetryStrategy | null): string {
  if (!s) return 'none'
  const delays = Array.from({ length: Math.max(0, Math.min(s.max_attempts - 1, 5)) }, (_, i) =>
    duration(retryDelayMs(s, i + 1)),
  )
  const more = s.max_attempts - 1 > 5 ? ', …' : ''
  const wait = delays.length ? `; waits ${delays.join(', ')}${more} between attempts` : '; no retries'
  const kind = { exponential: 'Exponential backoff', linear: 'Linear backoff', fixed: 'Fixed interval' }[
    s.type
  ]
  return `${kind}, up to ${s.max_attempts} attempt${s.max_attempts === 1 ? '' : 's'}${wait}.`
}

export function TaskDetail(props: { id: string }) {
  const live = useLive()
  const now = useNow(1000)
  // With the stream, refetch when this task moves; while polling, on any change.
  const key = live.conn === 'live' ? `t${taskVersion(props.id)}` : `c${live.changes}`
  const path = { params: { path: { id: props.id } } }
  const task = useApi(`task ${props.id}`, () => answer(api.GET('/api/v1/tasks/{id}', path)), key, 500)
  const events = useApi(
    `events ${props.id}`,
    () => answer(api.GET('/api/v1/tasks/{id}/events', path)),
    key,
    500,
  )
  const t = task.data

  if (task.error && !t)
    return (
      <div class="page">
        <h1>Task not found</h1>
        <ErrorNote error={task.error} />
        <p>
          <a href="/tasks">Back to the list</a>
        </p>
      </div>
    )
  if (!t) return <div class="page muted">Loading…</div>

  const attempts = attemptsOf(events.data ?? [])
  const error = currentError(t)
  const retries = attempts[0]?.retries ?? 0
  const act = (action: 'cancel' | 'retry') => async () => {
    if (action === 'cancel') await answer(api.POST('/api/v1/tasks/{id}/cancel', path))
    else await answer(api.POST('/api/v1/tasks/{id}/retry', path))
    bump()
    task.reload()
    events.reload()
  }

  return (
    <div class="page detail" data-task={t.id} data-status={t.status}>
      <div class="page-head row">
        <div>
          <p class="crumbs">
            <a href="/tasks">Tasks</a> / <span class="mono">{t.id}</span>
          </p>
          <h1>
            {t.task_type} <Badge status={t.status} />
            <span class={`prio p-${t.priority}`}>{t.priority}</span>
          </h1>
        </div>
        <div class="actions">
          {CANCELLABLE.includes(t.status) && (
            <Action
              label="Cancel"
              run={act('cancel')}
              done="Cancel requested"
              title="Pending/scheduled/retrying stop at once; a running task's handler is signalled."
            />
          )}
          {RETRYABLE.includes(t.status) && (
            <Action
              label="Retry"
              kind="primary"
              run={act('retry')}
              done="Task queued again with attempts reset"
            />
          )}
          {DELETABLE.includes(t.status) && (
            <Action
              label="Delete"
              kind="danger"
              confirm="Delete this task and its history for good?"
              run={async () => {
                await answer(api.DELETE('/api/v1/tasks/{id}', path))
                bump()
                navigate('/tasks')
              }}
              done="Task deleted"
            />
          )}
          <a
            class="btn"
            href={`/tasks/new?clone=${t.id}`}
            title="Open the form with this task's type, payload and settings"
          >
            Clone
          </a>
        </div>
      </div>

      {error && (
        <div class={`note ${error.tone}`} data-last-error>
          <strong>{error.label}:</strong> {t.last_error}
        </div>
      )}

      <WhyBox id={t.id} version={key} />

      <div class="grid2">
        <Card title="Facts">
          <dl class="facts">
            <dt>Attempts</dt>
            <dd data-attempts>
              {t.current_attempt} of {t.max_attempts}
              {retries > 0 && (
                <span class="muted">
                  {' '}
                  since the last manual retry; {attempts.length} in all across {retries} retr
                  {retries === 1 ? 'y' : 'ies'}
                </span>
              )}
            </dd>
            <dt>Created</dt>
            <dd title={t.created_at}>
              {dateTime(t.created_at)} <span class="muted">({ago(t.created_at, now)})</span>
            </dd>
            {t.scheduled_at && (
              <>
                <dt>Scheduled for</dt>
                <dd>
                  {dateTime(t.scheduled_at)} <span class="muted">({ago(t.scheduled_at, now)})</span>
                </dd>
              </>
            )}
            <dt>Started</dt>
            <dd>{dateTime(t.started_at)}</dd>
            <dt>Finished</dt>
            <dd>{dateTime(t.completed_at)}</dd>
            <dt>Worker</dt>
            <dd class="mono" data-worker>
              {t.locked_by ??
                (attempts[0]?.worker ? (
                  <>
                    {attempts[0].worker} <span class="muted">(ran the last attempt)</span>
                  </>
                ) : (
                  <span class="muted">none yet</span>
                ))}
            </dd>
            <dt>Timeout</dt>
            <dd>{t.timeout_ms ? duration(t.timeout_ms) : 'type default'}</dd>
            <dt>Idempotency key</dt>
            <dd class="mono">{t.idempotency_key ?? '—'}</dd>
            <dt>Retry strategy</dt>
            <dd>
              {describeStrategy(t.retry_strategy)}
              <details>
                <summary>JSON</summary>
                <Json value={t.retry_strategy} />
              </details>
            </dd>
          </dl>
        </Card>
        <Card title={`Attempts (${attempts.length})`} class="timeline-card">
          {attempts.length === 0 ? (
            <Empty>No attempt yet: the task is {t.status}.</Empty>
          ) : (
            <ol class="timeline">
              {attempts.map((a) => (
                <li
                  key={`${a.n}-${a.start}`}
                  class={`attempt o-${a.outcome ?? 'running'}`}
                  data-attempt={a.n}
                  data-outcome={a.outcome ?? 'running'}
                >
                  <div class="attempt-head">
                    <strong>Attempt {a.n}</strong>
                    {a.retries > 0 && a.tryOf === 1 && <span class="muted small">after a manual retry</span>}
                    {a.outcome ? <Badge status={a.outcome} /> : <Badge status="running" />}
                    <span class="muted">
                      {a.end
                        ? duration(new Date(a.end).getTime() - new Date(a.start).getTime())
                        : `running for ${duration(now - new Date(a.start).getTime())}`}
                    </span>
                  </div>
                  <div class="muted small">
                    worker <span class="mono">{a.worker ?? '—'}</span> · started {dateTime(a.start)}
                  </div>
                  {a.error && <div class="attempt-error">{a.error}</div>}
                  {a.endedBy === 'rescue' && (
                    <div class="muted small">
                      ended by the rescue: the worker stopped heartbeating and its lease expired
                    </div>
                  )}
                </li>
              ))}
            </ol>
          )}
        </Card>
      </div>

      <div class="grid3">
        <Card title="Payload">
          <Json value={t.payload} />
        </Card>
        <Card title="Result">
          <Json value={t.result} empty={TERMINAL.includes(t.status) ? 'no result' : 'not finished yet'} />
        </Card>
        <Card title="Metadata">
          <Json value={t.metadata && Object.keys(t.metadata).length ? t.metadata : null} empty="none" />
        </Card>
      </div>

      <Card title={`History (${num(events.data?.length ?? 0)} transitions)`}>
        <table class="table compact">
          <thead>
            <tr>
              <th>When</th>
              <th>Transition</th>
              <th>Attempt</th>
              <th>By</th>
              <th>Error</th>
            </tr>
          </thead>
          <tbody>
            {[...(events.data ?? [])].reverse().map((e) => (
              <tr key={String(e.id)}>
                <td title={e.at}>{dateTime(e.at)}</td>
                <td>
                  {e.from_status ? <Badge status={e.from_status} /> : <span class="muted">created</span>} →{' '}
                  <Badge status={e.to_status} />
                </td>
                <td class="num">{e.attempt}</td>
                <td class="mono small" data-actor={e.actor}>
                  {actorOf(e)}
                </td>
                <td class="err">{e.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  )
}

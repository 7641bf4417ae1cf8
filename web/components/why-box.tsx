// The "Why is it waiting?" box of a task page: GET /tasks/{id}/why, refetched when the task moves
// and every 2 s besides (a heartbeat, a breaker's cool-down or a backoff changes the answer with
// no transition of this task), one line per reason with its code.

import { answer, api } from '../lib/api'
import { useNow } from '../lib/live'
import { useApi } from '../lib/use-api'
import { HELD, REASON_LABEL } from '../lib/why'
import { Card, ErrorNote } from './ui'

export function WhyBox(props: { id: string; version: string }) {
  const tick = Math.floor(useNow(2000) / 2000)
  const why = useApi(
    `why ${props.id}`,
    () => answer(api.GET('/api/v1/tasks/{id}/why', { params: { path: { id: props.id } } })),
    `${props.version}-${tick}`,
    500,
  )
  const w = why.data
  const terminal = w?.reasons[0]?.code === 'TERMINAL'
  const title = !w
    ? 'Why is it waiting?'
    : terminal
      ? 'Finished'
      : w.status === 'running'
        ? 'What is it doing?'
        : w.runnable
          ? 'Why is it waiting? Nothing holds it back'
          : 'Why is it waiting?'
  return (
    <Card title={title} class="why-card">
      <ErrorNote error={why.error} />
      {!w ? (
        <p class="muted">Asking the server…</p>
      ) : (
        <ul class="why" data-why={w.reasons.map((r) => r.code).join(' ')} data-runnable={String(w.runnable)}>
          {w.reasons.map((r) => (
            <li key={r.code} data-code={r.code}>
              <span class={`why-badge${HELD.has(r.code) ? ' held' : ''}`}>{REASON_LABEL[r.code]}</span>
              <span>{r.message}</span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  )
}

export function WhyBadge(props: { code: keyof typeof REASON_LABEL; message: string }) {
  return (
    <span
      class={`why-badge${HELD.has(props.code) ? ' held' : ''}`}
      data-why={props.code}
      title={props.message}
    >
      {REASON_LABEL[props.code]}
    </span>
  )
}

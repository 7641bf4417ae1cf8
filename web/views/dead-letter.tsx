// The dead letter queue: failed tasks grouped by their error, so one broken dependency shows up as
// one line with a count rather than a page of identical rows. Retry or delete a whole group, or
// the selected tasks, with the bulk routes POST /tasks/dead-letter/retry and DELETE /tasks/dead-letter.
import { useRef, useState } from 'preact/hooks'
import { Action, Card, Empty, ErrorNote, toast } from '../components/ui'
import { answer, api } from '../lib/api'
import { ago, num, shortId } from '../lib/format'
import { bump, useLive, useNow } from '../lib/live'
import type { Task } from '../lib/types'
import { useApi } from '../lib/use-api'

const LIMIT = 1000

interface Group {
  error: string
  tasks: Task[]
  types: string[]
  last: string
}

export function groupByError(tasks: Task[]): Group[] {
  const map = new Map<string, Task[]>()
  for (const t of tasks) {
    const key = t.last_error ?? '(no error recorded)'
    map.set(key, [...(map.get(key) ?? []), t])
  }
  return [...map.entries()]
    .map(([error, ts]) => ({
      error,
      tasks: ts,
      types: [...new Set(ts.map((t) => t.task_type))],
      last:
        ts
          .map((t) => t.updated_at)
          .sort()
          .at(-1) ?? '',
    }))
    .sort((a, b) => b.tasks.length - a.tasks.length)
}

async function bulkRetry(ids: string[]): Promise<string> {
  const { message } = await answer(api.POST('/api/v1/tasks/dead-letter/retry', { body: { ids } }))
  bump()
  return message ?? `${ids.length} queued again`
}

async function bulkDelete(ids: string[]): Promise<string> {
  const { message } = await answer(api.DELETE('/api/v1/tasks/dead-letter', { body: { ids } }))
  bump()
  return message ?? `${ids.length} deleted`
}

export function DeadLetter() {
  const live = useLive()
  const now = useNow(5000)
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [open, setOpen] = useState<Set<string>>(new Set())
  // Up to 1,000 rows per read: refreshed at most every 2.5 s, and not while a selection is open.
  const frozen = useRef(live.changes)
  if (selected.size === 0) frozen.current = live.changes
  const list = useApi(
    'dead-letter',
    () => answer(api.GET('/api/v1/tasks/dead-letter', { params: { query: { limit: String(LIMIT) } } })),
    frozen.current,
    2500,
  )
  const tasks = list.data ?? []
  const groups = groupByError(tasks)

  const toggle = (ids: string[], on: boolean) => {
    const s = new Set(selected)
    for (const id of ids) on ? s.add(id) : s.delete(id)
    setSelected(s)
  }
  const run = (fn: (ids: string[]) => Promise<string>, ids: string[]) => async () => {
    const msg = await fn(ids)
    toast(msg)
    setSelected(new Set())
  }

  return (
    <div class="page dead-letter">
      <div class="page-head">
        <h1>Dead letter</h1>
        <p class="muted">
          Tasks that failed for good: attempts used up, or a permanent error such as a bad payload. Nothing
          retries them but you.
          {list.total !== undefined &&
            ` ${num(list.total)} in total${list.total > tasks.length ? `, the newest ${num(tasks.length)} grouped here` : ''}.`}
        </p>
      </div>
      <ErrorNote error={list.error} />
      {selected.size > 0 && (
        <div class="bulkbar card">
          <span>
            <strong>{selected.size}</strong> selected · auto-refresh paused
          </span>
          <span class="spacer" />
          <Action label="Retry selected" kind="primary" run={run(bulkRetry, [...selected])} />
          <Action
            label="Delete selected"
            kind="danger"
            confirm={`Delete ${selected.size} failed task(s) for good?`}
            run={run(bulkDelete, [...selected])}
          />
          <button type="button" class="link" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        </div>
      )}
      {list.data && groups.length === 0 && (
        <Empty>The dead letter queue is empty. Tasks land here when they fail for good.</Empty>
      )}
      {groups.map((g) => {
        const ids = g.tasks.map((t) => t.id)
        const all = ids.every((id) => selected.has(id))
        const isOpen = open.has(g.error)
        return (
          <Card key={g.error} class="dl-group">
            <div class="dl-head" data-group={g.error}>
              <input
                type="checkbox"
                aria-label="Select this group"
                checked={all}
                onChange={() => toggle(ids, !all)}
              />
              <div class="dl-main">
                <div class="dl-error">{g.error}</div>
                <div class="muted small">
                  <strong>{num(g.tasks.length)}</strong> task{g.tasks.length === 1 ? '' : 's'} ·{' '}
                  {g.types.join(', ')} · last failed {ago(g.last, now)}
                </div>
              </div>
              <div class="actions">
                <button
                  type="button"
                  class="btn"
                  onClick={() => {
                    const s = new Set(open)
                    isOpen ? s.delete(g.error) : s.add(g.error)
                    setOpen(s)
                  }}
                >
                  {isOpen ? 'Hide' : 'Show'} tasks
                </button>
                <Action label={`Retry ${g.tasks.length}`} kind="primary" run={run(bulkRetry, ids)} />
                <Action
                  label="Delete"
                  kind="danger"
                  confirm={`Delete these ${g.tasks.length} failed task(s) for good?`}
                  run={run(bulkDelete, ids)}
                />
              </div>
            </div>
            {isOpen && (
              <table class="table compact">
                <tbody>
                  {g.tasks.map((t) => (
                    <tr key={t.id} data-task={t.id}>
                      <td class="check">
                        <input
                          type="checkbox"
                          aria-label={`Select ${shortId(t.id)}`}
                          checked={selected.has(t.id)}
                          onChange={() => toggle([t.id], !selected.has(t.id))}
                        />
                      </td>
                      <td>
                        <a class="mono" href={`/tasks/${t.id}`}>
                          {shortId(t.id)}
                        </a>
                      </td>
                      <td>{t.task_type}</td>
                      <td class="num">
                        {t.current_attempt}/{t.max_attempts} attempts
                      </td>
                      <td>{ago(t.updated_at, now)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Card>
        )
      })}
    </div>
  )
}

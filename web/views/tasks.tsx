// The task list: filters and search kept in the URL, pagination with the total, row selection (or
// every task matching the filter) for bulk cancel/retry/delete. It refreshes with the live stream,
// except while rows are selected, so the selection does not move under the cursor.
import { useEffect, useRef, useState } from 'preact/hooks'
import { Badge, Empty, ErrorNote, errorText, toast } from '../components/ui'
import { WhyBadge } from '../components/why-box'
import { answer, api } from '../lib/api'
import { type BulkAction, collectIds, describe, runBulk, type TaskFilter } from '../lib/bulk'
import { ago, dateTime, fromLocalInput, num, shortId, toLocalInput } from '../lib/format'
import { bump, useLive, useNow } from '../lib/live'
import { navigate, setQuery } from '../lib/router'
import type { TaskStatus } from '../lib/types'
import { PRIORITIES, TASK_STATUSES, TERMINAL } from '../lib/types'
import { useApi } from '../lib/use-api'

const FILTERS = ['status', 'task_type', 'priority', 'created_after', 'created_before', 'q'] as const
const LIMITS = [25, 50, 100, 250]

export function Tasks(props: { query: URLSearchParams }) {
  const q = props.query
  const filter: TaskFilter = {}
  for (const f of FILTERS) filter[f] = q.get(f) ?? undefined
  const limit = Number(q.get('limit')) || 50
  const offset = Math.max(0, Number(q.get('offset')) || 0)
  const filterKey = JSON.stringify(filter)

  const live = useLive()
  const now = useNow(5000)
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [allMatching, setAllMatching] = useState(false)
  const [busy, setBusy] = useState<string | null>(null)
  const frozen = useRef(live.changes)
  if (selected.size === 0 && !allMatching) frozen.current = live.changes
  const query = { ...filter, limit: String(limit), offset: String(offset) }
  const list = useApi(
    `tasks ${JSON.stringify(query)}`,
    () => answer(api.GET('/api/v1/tasks', { params: { query } })),
    frozen.current,
    1000,
  )
  const types = useApi('types', () => answer(api.GET('/api/v1/tasks/types')))
  // The headline reason of each unfinished task on this page, refreshed with the list and every 5 s.
  const unfinished = (list.data ?? []).filter((t) => !TERMINAL.includes(t.status)).map((t) => t.id)
  const ids = unfinished.join(',')
  const why = useApi(
    unfinished.length ? `why ${ids}` : null,
    () => answer(api.GET('/api/v1/tasks/why', { params: { query: { ids } } })),
    `${frozen.current}-${Math.floor(now / 5000)}`,
    1000,
  )

  // A new filter or page is a new question: forget the selection.
  useEffect(() => {
    setSelected(new Set())
    setAllMatching(false)
  }, [filterKey, limit, offset])

  const rows = list.data ?? []
  const total = list.total ?? rows.length
  const statuses = new Set((filter.status ?? '').split(',').filter(Boolean))
  const pageAll = rows.length > 0 && rows.every((r) => selected.has(r.id))
  const count = allMatching ? total : selected.size

  const toggle = (id: string) => {
    const s = new Set(selected)
    if (s.has(id)) s.delete(id)
    else s.add(id)
    setSelected(s)
    setAllMatching(false)
  }

  const bulk = async (action: BulkAction) => {
    if (
      action === 'delete' &&
      !window.confirm(`Delete ${num(count)} task(s) for good? Only finished tasks can be deleted.`)
    )
      return
    setBusy(action)
    try {
      const ids = allMatching ? await collectIds(filter) : [...selected]
      const r = await runBulk(action, ids, (n) => setBusy(`${action} ${n}/${ids.length}`))
      toast(describe(action, r), r.errors.length ? 'error' : 'ok')
      setSelected(new Set())
      setAllMatching(false)
      bump()
    } catch (err) {
      toast(errorText(err), 'error')
    } finally {
      setBusy(null)
    }
  }

  const toggleStatus = (s: TaskStatus) => {
    const next = new Set(statuses)
    if (next.has(s)) next.delete(s)
    else next.add(s)
    setQuery({ status: [...next].join(','), offset: null })
  }

  return (
    <div class="page tasks">
      <div class="page-head">
        <h1>Tasks</h1>
        <p class="muted">
          {list.total === undefined ? '…' : `${num(total)} task${total === 1 ? '' : 's'} match`}
          {' · '}
          {selected.size || allMatching ? (
            <span class="paused-note" data-refresh="paused">
              auto-refresh paused while rows are selected
            </span>
          ) : (
            <span data-refresh="live">refreshes live</span>
          )}
        </p>
      </div>

      <div class="filters card">
        <fieldset class="chips" aria-label="Filter by status">
          {TASK_STATUSES.map((s) => (
            <button
              key={s}
              type="button"
              class={`chip s-${s}${statuses.has(s) ? ' on' : ''}`}
              aria-pressed={statuses.has(s)}
              onClick={() => toggleStatus(s)}
            >
              {s}
              {live.counts?.[s] !== undefined && <span class="chip-count">{num(live.counts[s])}</span>}
            </button>
          ))}
          {statuses.size > 0 && (
            <button type="button" class="link" onClick={() => setQuery({ status: null, offset: null })}>
              all statuses
            </button>
          )}
        </fieldset>
        <div class="filter-row">
          <label>
            Type
            <select
              value={filter.task_type ?? ''}
              onChange={(e) => setQuery({ task_type: e.currentTarget.value, offset: null })}
            >
              <option value="">any</option>
              {(types.data ?? []).map((t) => (
                <option key={t.task_type} value={t.task_type}>
                  {t.task_type}
                </option>
              ))}
            </select>
          </label>
          <label>
            Priority
            <select
              value={filter.priority ?? ''}
              onChange={(e) => setQuery({ priority: e.currentTarget.value, offset: null })}
            >
              <option value="">any</option>
              {[...PRIORITIES].reverse().map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            Created after
            <input
              type="datetime-local"
              value={toLocalInput(filter.created_after ?? null)}
              onChange={(e) =>
                setQuery({ created_after: fromLocalInput(e.currentTarget.value), offset: null })
              }
            />
          </label>
          <label>
            Created before
            <input
              type="datetime-local"
              value={toLocalInput(filter.created_before ?? null)}
              onChange={(e) =>
                setQuery({ created_before: fromLocalInput(e.currentTarget.value), offset: null })
              }
            />
          </label>
          <fieldset class="presets" aria-label="Time range">
            {[
              ['15 min', 15],
              ['1 h', 60],
              ['24 h', 1440],
            ].map(([label, min]) => (
              <button
                key={label}
                type="button"
                class="chip"
                onClick={() =>
                  setQuery({
                    created_after: new Date(Date.now() - (min as number) * 60_000).toISOString(),
                    created_before: null,
                    offset: null,
                  })
                }
              >
                last {label}
              </button>
            ))}
          </fieldset>
          <label class="grow">
            Search
            <input
              type="search"
              placeholder="id, type, error, metadata"
              value={filter.q ?? ''}
              onChange={(e) => setQuery({ q: e.currentTarget.value, offset: null })}
            />
          </label>
          {FILTERS.some((f) => filter[f]) && (
            <button type="button" class="link" onClick={() => navigate('/tasks')}>
              clear filters
            </button>
          )}
        </div>
      </div>

      {(selected.size > 0 || allMatching) && (
        <section class="bulkbar card" aria-label="Bulk actions">
          <span>
            <strong>{num(count)}</strong> selected{allMatching ? ' (every task matching this filter)' : ''}
            {!allMatching && pageAll && total > rows.length && (
              <>
                {' · '}
                <button type="button" class="link" onClick={() => setAllMatching(true)}>
                  Select all {num(total)} matching this filter
                </button>
              </>
            )}
          </span>
          <span class="spacer" />
          {busy && <span class="muted">{busy}…</span>}
          <button type="button" class="btn" disabled={!!busy} onClick={() => bulk('cancel')}>
            Cancel
          </button>
          <button type="button" class="btn" disabled={!!busy} onClick={() => bulk('retry')}>
            Retry
          </button>
          <button type="button" class="btn danger" disabled={!!busy} onClick={() => bulk('delete')}>
            Delete
          </button>
          <button
            type="button"
            class="link"
            onClick={() => {
              setSelected(new Set())
              setAllMatching(false)
            }}
          >
            Clear selection
          </button>
        </section>
      )}

      <ErrorNote error={list.error} />
      <div class="card table-card">
        <table class="table">
          <thead>
            <tr>
              <th class="check">
                <input
                  type="checkbox"
                  aria-label="Select this page"
                  checked={pageAll}
                  onChange={() => {
                    setAllMatching(false)
                    setSelected(pageAll ? new Set() : new Set(rows.map((r) => r.id)))
                  }}
                />
              </th>
              <th>ID</th>
              <th>Type</th>
              <th>Status</th>
              <th>Priority</th>
              <th>Attempts</th>
              <th>Created</th>
              <th>Last error</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr
                key={t.id}
                class={selected.has(t.id) || allMatching ? 'selected' : ''}
                data-task={t.id}
                data-status={t.status}
              >
                <td class="check">
                  <input
                    type="checkbox"
                    aria-label={`Select task ${shortId(t.id)}`}
                    checked={allMatching || selected.has(t.id)}
                    onChange={() => toggle(t.id)}
                  />
                </td>
                <td>
                  <a href={`/tasks/${t.id}`} class="mono">
                    {shortId(t.id)}
                  </a>
                </td>
                <td>{t.task_type}</td>
                <td>
                  <Badge status={t.status} />
                  {why.data?.tasks?.[t.id] && t.status !== 'running' && (
                    <WhyBadge {...why.data.tasks[t.id]!} />
                  )}
                </td>
                <td>
                  <span class={`prio p-${t.priority}`}>{t.priority}</span>
                </td>
                <td class="num">
                  {t.current_attempt}/{t.max_attempts}
                </td>
                <td title={dateTime(t.created_at)}>{ago(t.created_at, now)}</td>
                <td class="err" title={t.last_error ?? ''}>
                  {t.last_error ?? ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.data && rows.length === 0 && (
          <Empty>
            No tasks match. <a href="/tasks/new">Create one</a> or <a href="/tasks">clear the filters</a>.
          </Empty>
        )}
      </div>

      <div class="pager">
        <span class="muted">
          {rows.length ? `${num(offset + 1)}–${num(offset + rows.length)} of ${num(total)}` : ''}
        </span>
        <span class="spacer" />
        <label class="inline">
          Per page
          <select
            value={String(limit)}
            onChange={(e) => setQuery({ limit: e.currentTarget.value, offset: null })}
          >
            {LIMITS.map((l) => (
              <option key={l} value={String(l)}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          class="btn"
          disabled={offset === 0}
          onClick={() => setQuery({ offset: Math.max(0, offset - limit) || null })}
        >
          ← Previous
        </button>
        <button
          type="button"
          class="btn"
          disabled={offset + rows.length >= total}
          onClick={() => setQuery({ offset: offset + limit })}
        >
          Next →
        </button>
      </div>
    </div>
  )
}

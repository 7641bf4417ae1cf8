// Create a task: pick a registered type (its example payload fills the editor), a priority, an
// optional time to run at, and a retry strategy. `?clone=ID` starts from an existing task.
import { useEffect, useState } from 'preact/hooks'
import type { NewTask } from '../../src/api/client'
import { Card, ErrorNote, toast } from '../components/ui'
import { answer, api, dataOf } from '../lib/api'
import { fromLocalInput, json, toLocalInput } from '../lib/format'
import { bump } from '../lib/live'
import { navigate } from '../lib/router'
import { startingPayload } from '../lib/schema'
import type { JsonSchema, Priority, RetryStrategy } from '../lib/types'
import { PRIORITIES } from '../lib/types'
import { useApi } from '../lib/use-api'
import { describeStrategy } from './task-detail'

type StrategyType = RetryStrategy['type']
const FIELDS: Record<StrategyType, { key: string; label: string; def: number }[]> = {
  exponential: [
    { key: 'base_delay_ms', label: 'Base delay (ms)', def: 1000 },
    { key: 'multiplier', label: 'Multiplier', def: 2 },
    { key: 'max_delay_ms', label: 'Max delay (ms)', def: 300_000 },
  ],
  linear: [
    { key: 'base_delay_ms', label: 'Base delay (ms)', def: 1000 },
    { key: 'increment_ms', label: 'Increment (ms)', def: 1000 },
    { key: 'max_delay_ms', label: 'Max delay (ms)', def: 60_000 },
  ],
  fixed: [{ key: 'interval_ms', label: 'Interval (ms)', def: 5000 }],
}

function defaults(type: StrategyType, from?: RetryStrategy | null): Record<string, number> {
  const out: Record<string, number> = {}
  for (const f of FIELDS[type])
    out[f.key] =
      (from?.type === type ? (from as unknown as Record<string, number>)[f.key] : undefined) ?? f.def
  return out
}

export function CreateTask(props: { query: URLSearchParams }) {
  const types = useApi('types', () => answer(api.GET('/api/v1/tasks/types')))
  const cloneId = props.query.get('clone')
  const clone = useApi(cloneId, () =>
    answer(api.GET('/api/v1/tasks/{id}', { params: { path: { id: cloneId ?? '' } } })),
  )
  const active = (types.data ?? []).filter((t) => t.is_active)

  const [type, setType] = useState('')
  const [payload, setPayload] = useState('')
  const [priority, setPriority] = useState<Priority>('normal')
  const [when, setWhen] = useState('')
  const [useStrategy, setUseStrategy] = useState(false)
  const [sType, setSType] = useState<StrategyType>('exponential')
  const [sFields, setSFields] = useState<Record<string, number>>(defaults('exponential'))
  const [maxAttempts, setMaxAttempts] = useState(3)
  const [metadata, setMetadata] = useState('')
  const [idem, setIdem] = useState('')
  const [timeout, setTimeoutMs] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)

  const pick = (name: string, keepPayload = false) => {
    setType(name)
    const t = active.find((x) => x.task_type === name)
    if (!keepPayload) setPayload(json(t ? startingPayload(t.example_payload, t.payload_schema) : {}))
  }

  // First type by default, or everything from the task being cloned.
  useEffect(() => {
    if (cloneId) {
      const c = clone.data
      if (!c) return
      setType(c.task_type)
      setPayload(json(c.payload))
      setPriority(c.priority)
      setMetadata(c.metadata && Object.keys(c.metadata).length ? json(c.metadata) : '')
      setTimeoutMs(c.timeout_ms ? String(c.timeout_ms) : '')
      if (c.retry_strategy) {
        setUseStrategy(true)
        setSType(c.retry_strategy.type)
        setSFields(defaults(c.retry_strategy.type, c.retry_strategy))
        setMaxAttempts(c.retry_strategy.max_attempts)
      }
      return
    }
    if (!type && active[0]) pick(active[0].task_type)
  }, [types.data, clone.data])

  const current = active.find((t) => t.task_type === type)
  const strategy = useStrategy
    ? ({ type: sType, ...sFields, max_attempts: maxAttempts } as RetryStrategy)
    : null

  /** The request body the form sends (also shown as curl); throws on JSON that does not parse. */
  const requestBody = (): NewTask => {
    const body: NewTask = { task_type: type, priority, payload: JSON.parse(payload || '{}') }
    if (metadata.trim()) body.metadata = JSON.parse(metadata)
    if (when) body.scheduled_at = fromLocalInput(when)
    if (strategy) body.retry_strategy = strategy
    else body.max_attempts = maxAttempts
    if (idem.trim()) body.idempotency_key = idem.trim()
    if (timeout.trim()) body.timeout_ms = Number(timeout)
    return body
  }
  let curl = ''
  try {
    curl = `curl -X POST ${location.origin}/api/v1/tasks \\\n  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\\n  -d '${JSON.stringify(requestBody()).replaceAll("'", "'\\''")}'`
  } catch {
    curl = '(fix the JSON above first)'
  }

  const submit = async (e: Event) => {
    e.preventDefault()
    setError(null)
    let body: NewTask
    try {
      body = requestBody()
    } catch (err) {
      setError(new Error(`The payload and metadata must be valid JSON: ${(err as Error).message}`))
      return
    }
    setBusy(true)
    try {
      const data = await dataOf(api.POST('/api/v1/tasks', { body }))
      toast(`Created ${data.task_type} task ${data.id.slice(0, 8)}`)
      bump()
      navigate(`/tasks/${data.id}`)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="page create">
      <div class="page-head">
        <h1>{cloneId ? 'Clone a task' : 'New task'}</h1>
        <p class="muted">
          The task goes to the queue at once; a worker that registered its type picks it up.
        </p>
      </div>
      <form class="create-grid" onSubmit={submit}>
        <Card title="What to run">
          <label>
            Task type
            <select name="task_type" value={type} onChange={(e) => pick(e.currentTarget.value)} required>
              {active.map((t) => (
                <option key={t.task_type} value={t.task_type}>
                  {t.task_type}
                  {t.paused ? ' (paused)' : ''}
                </option>
              ))}
            </select>
          </label>
          {current && <p class="muted small">{current.description}</p>}
          {current?.paused && (
            <div class="note warn">This type is paused: the task will wait until it is resumed.</div>
          )}
          <label>
            Payload (JSON)
            <textarea
              name="payload"
              rows={9}
              class="mono"
              spellcheck={false}
              value={payload}
              onInput={(e) => setPayload(e.currentTarget.value)}
            />
          </label>
          <div class="row-between">
            <SchemaHint schema={current?.payload_schema ?? null} />
            {current && (
              <button
                type="button"
                class="link"
                onClick={() =>
                  setPayload(json(startingPayload(current.example_payload, current.payload_schema)))
                }
              >
                reset to example
              </button>
            )}
          </div>
        </Card>
        <Card title="How and when">
          <fieldset>
            <legend>Priority</legend>
            <div class="seg">
              {[...PRIORITIES].reverse().map((p) => (
                <label key={p} class={`seg-item${priority === p ? ' on' : ''}`}>
                  <input
                    type="radio"
                    name="priority"
                    value={p}
                    checked={priority === p}
                    onChange={() => setPriority(p)}
                  />
                  {p}
                </label>
              ))}
            </div>
            <p class="muted small">
              Critical runs first, then high, normal, low; oldest first within a priority.
            </p>
          </fieldset>
          <label>
            Run at (empty = now)
            <input
              type="datetime-local"
              name="scheduled_at"
              value={when}
              min={toLocalInput(new Date().toISOString())}
              onInput={(e) => setWhen(e.currentTarget.value)}
            />
          </label>
          <fieldset>
            <legend>Retries</legend>
            <label class="inline">
              Max attempts
              <input
                type="number"
                name="max_attempts"
                min={1}
                max={1000}
                value={maxAttempts}
                onInput={(e) => setMaxAttempts(Number(e.currentTarget.value) || 1)}
              />
            </label>
            <label class="check-label">
              <input
                type="checkbox"
                checked={useStrategy}
                onChange={(e) => setUseStrategy(e.currentTarget.checked)}
              />{' '}
              Set a retry strategy (else the server's default)
            </label>
            {useStrategy && (
              <div class="strategy">
                <select
                  name="strategy_type"
                  value={sType}
                  onChange={(e) => {
                    const v = e.currentTarget.value as StrategyType
                    setSType(v)
                    setSFields(defaults(v))
                  }}
                >
                  <option value="exponential">exponential</option>
                  <option value="linear">linear</option>
                  <option value="fixed">fixed</option>
                </select>
                {FIELDS[sType].map((f) => (
                  <label key={f.key} class="inline">
                    {f.label}
                    <input
                      type="number"
                      min={0}
                      step="any"
                      value={sFields[f.key]}
                      onInput={(e) => setSFields({ ...sFields, [f.key]: Number(e.currentTarget.value) })}
                    />
                  </label>
                ))}
                <p class="muted small">{describeStrategy(strategy)}</p>
              </div>
            )}
          </fieldset>
          <details>
            <summary>More: metadata, idempotency key, timeout</summary>
            <label>
              Metadata (JSON object)
              <textarea
                rows={3}
                class="mono"
                value={metadata}
                placeholder='{"source": "panel"}'
                onInput={(e) => setMetadata(e.currentTarget.value)}
              />
            </label>
            <label>
              Idempotency key
              <input
                value={idem}
                placeholder="a repeat returns the first task"
                onInput={(e) => setIdem(e.currentTarget.value)}
              />
            </label>
            <label>
              Timeout (ms)
              <input
                type="number"
                min={1}
                value={timeout}
                placeholder="type default"
                onInput={(e) => setTimeoutMs(e.currentTarget.value)}
              />
            </label>
          </details>
          <ErrorNote error={error} />
          <button type="submit" class="btn primary wide" disabled={busy || !type}>
            {busy ? 'Creating…' : 'Create task'}
          </button>
          <details>
            <summary>The same request with curl</summary>
            <pre class="json small">{curl}</pre>
          </details>
        </Card>
      </form>
    </div>
  )
}

/** "string", "array", or the allowed values of an enum or a union of constants ("sum | avg | min"). */
function fieldType(v: JsonSchema): string {
  const consts = v.enum ?? v.anyOf?.map((o) => o.const).filter((c) => c !== undefined)
  if (consts?.length) return consts.map(String).join(' | ')
  return v.type ?? ''
}

function SchemaHint({ schema }: { schema: JsonSchema | null }) {
  const props = schema?.properties
  if (!props) return <span />
  const required = new Set(schema.required ?? [])
  return (
    <p class="muted small schema">
      Fields:{' '}
      {Object.entries(props).map(([k, v], i) => (
        <span key={k}>
          {i > 0 && ', '}
          <code>{k}</code>
          {required.has(k) ? '' : '?'} <span class="muted">{fieldType(v)}</span>
        </span>
      ))}
    </p>
  )
}

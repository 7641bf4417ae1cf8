// Small shared pieces: status badges, JSON blocks, buttons that call the API, toasts, empty states.
import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { ApiError } from '../lib/api'
import { json } from '../lib/format'
import type { TaskStatus } from '../lib/types'

export const STATUS_HELP: Record<TaskStatus, string> = {
  pending: 'Waiting for a free worker slot.',
  scheduled: 'Waiting for its scheduled time.',
  running: 'A worker holds it under a lease and is running the handler.',
  retrying: 'An attempt failed; waiting for the backoff before the next attempt.',
  completed: 'The handler succeeded; the result is stored.',
  failed: 'Dead letter: attempts exhausted or a permanent error. Retry it by hand.',
  cancelled: 'Cancelled by a user; it will not run unless retried.',
}

export function Badge({ status }: { status: TaskStatus }) {
  return (
    <span class={`badge s-${status}`} title={STATUS_HELP[status]}>
      {status}
    </span>
  )
}

export function Json({ value, empty = 'none' }: { value: unknown; empty?: string }) {
  if (value === null || value === undefined) return <p class="muted">{empty}</p>
  return <pre class="json">{json(value)}</pre>
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`
  return err instanceof Error ? err.message : String(err)
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null
  return (
    <div class="note error" role="alert">
      {errorText(error)}
    </div>
  )
}

// ---- toasts -----------------------------------------------------------------------------------

type Toast = { id: number; text: string; kind: 'ok' | 'error' }
let toasts: Toast[] = []
let toastListener: (t: Toast[]) => void = () => {}
let nextToast = 1

export function toast(text: string, kind: Toast['kind'] = 'ok'): void {
  const t = { id: nextToast++, text, kind }
  toasts = [...toasts, t]
  toastListener(toasts)
  setTimeout(
    () => {
      toasts = toasts.filter((x) => x.id !== t.id)
      toastListener(toasts)
    },
    kind === 'error' ? 7000 : 3500,
  )
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts)
  toastListener = setList
  return (
    <div class="toasts" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast ${t.kind}`}>
          {t.text}
        </div>
      ))}
    </div>
  )
}

/** A button that runs an API call, shows it is busy, and reports the outcome as a toast. */
export function Action(props: {
  label: string
  run: () => Promise<unknown>
  done?: string
  confirm?: string
  kind?: 'primary' | 'danger' | 'plain'
  disabled?: boolean
  title?: string
  small?: boolean
}) {
  const [busy, setBusy] = useState(false)
  const click = async () => {
    if (props.confirm && !window.confirm(props.confirm)) return
    setBusy(true)
    try {
      await props.run()
      if (props.done) toast(props.done)
    } catch (err) {
      toast(errorText(err), 'error')
    } finally {
      setBusy(false)
    }
  }
  return (
    <button
      type="button"
      class={`btn ${props.kind ?? 'plain'}${props.small ? ' small' : ''}`}
      disabled={busy || props.disabled}
      title={props.title}
      onClick={click}
    >
      {busy ? `${props.label}…` : props.label}
    </button>
  )
}

export function Card(props: {
  title?: ComponentChildren
  children: ComponentChildren
  class?: string
  actions?: ComponentChildren
}) {
  return (
    <section class={`card ${props.class ?? ''}`}>
      {(props.title || props.actions) && (
        <header class="card-head">
          {props.title && <h2>{props.title}</h2>}
          {props.actions && <div class="card-actions">{props.actions}</div>}
        </header>
      )}
      {props.children}
    </section>
  )
}

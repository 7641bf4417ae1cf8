// Live updates. The server-sent event stream GET /api/v1/events brings task transitions and counts;
// it is read with fetch (EventSource cannot send the Bearer header). If the stream fails, the
// panel falls back to polling GET /tasks/stats every 2 s and retries the stream with a backoff.
// Throughput, queue latency (each claim's wait_ms) and run times (each attempt's run_ms) are kept
// here in one-second buckets for the last 5 minutes, and arrow rates (the stream's `moves`) for the
// last 20 s, so every view draws from the same numbers. The messages' types are generated from the
// OpenAPI document (StreamEvent).
import { useEffect, useState } from 'preact/hooks'
import type { components } from '../../src/api/client'
import { answer, api, authHeaders, BASE, getToken } from './api'
import type { TaskStatus } from './types'
import { TASK_STATUSES } from './types'

export type Connection = 'connecting' | 'live' | 'polling' | 'offline'

export const WINDOW_S = 300
/** Edge rates are averaged over this many seconds: long enough to be steady, short enough to fall. */
export const RATE_WINDOW_S = 20

export interface Bucket {
  t: number
  completed: number
  failed: number
  /** Sum and number of the claims' waits from ready to claimed (ms). */
  latencySum: number
  latencyN: number
  /** Sum and number of the attempts' run times (ms). */
  runSum: number
  runN: number
}

export interface LiveState {
  conn: Connection
  counts: Partial<Record<TaskStatus, number>> | null
  byType: Record<string, Partial<Record<TaskStatus, number>>> | null
  /** Bumped on every message from the server (at least once a second): for time-based views. */
  seq: number
  /** Bumped only when something changed (a transition, different counts, the user's own action):
   *  lists refetch on this, so an idle panel makes no requests beyond the stream. */
  changes: number
  buckets: Bucket[]
  edges: Map<string, number[]>
  /** When this page started listening (s): charts draw nothing before it rather than a false zero. */
  since: number
}

const state: LiveState = {
  conn: 'connecting',
  counts: null,
  byType: null,
  seq: 0,
  changes: 0,
  buckets: [],
  edges: new Map(),
  since: 0,
}
const listeners = new Set<() => void>()
let notifyQueued = false

function changed(): void {
  if (notifyQueued) return
  notifyQueued = true
  // Coalesce bursts (a batch of 500 transitions) into one render. A timer rather than
  // requestAnimationFrame: a background tab gets no frames, and the first counts should not wait for one.
  setTimeout(() => {
    notifyQueued = false
    for (const fn of listeners) fn()
  }, 16)
}

const nowS = () => Math.floor(Date.now() / 1000)

function bucket(t = nowS()): Bucket {
  let last = state.buckets[state.buckets.length - 1]
  if (!last || last.t !== t) {
    last = { t, completed: 0, failed: 0, latencySum: 0, latencyN: 0, runSum: 0, runN: 0 }
    state.buckets.push(last)
    while (state.buckets.length && state.buckets[0]!.t <= t - WINDOW_S) state.buckets.shift()
  }
  return last
}

function edge(from: string, to: string, n: number): void {
  const key = `${from}>${to}`
  let ring = state.edges.get(key)
  if (!ring) {
    ring = new Array<number>(RATE_WINDOW_S).fill(0)
    state.edges.set(key, ring)
  }
  const t = nowS()
  const slot = t % RATE_WINDOW_S
  const stamp = lastEdgeSecond.get(key)
  if (stamp !== t) {
    // Zero the slots this edge skipped since it last moved, so old traffic ages out.
    const gap = stamp === undefined ? RATE_WINDOW_S : Math.min(RATE_WINDOW_S, t - stamp)
    for (let i = 0; i < gap; i++) ring[(slot - i + RATE_WINDOW_S) % RATE_WINDOW_S] = 0
    lastEdgeSecond.set(key, t)
  }
  ring[slot]! += n
}
const lastEdgeSecond = new Map<string, number>()

/** Transitions per second on an edge over the last RATE_WINDOW_S seconds. */
export function edgeRate(from: string, to: string): number {
  const key = `${from}>${to}`
  const ring = state.edges.get(key)
  const stamp = lastEdgeSecond.get(key)
  if (!ring || stamp === undefined || nowS() - stamp >= RATE_WINDOW_S) return 0
  const age = nowS() - stamp
  let sum = 0
  for (let i = 0; i < RATE_WINDOW_S - age; i++) sum += ring[(stamp - i + RATE_WINDOW_S * 2) % RATE_WINDOW_S]!
  return sum / RATE_WINDOW_S
}

type StreamEvent = components['schemas']['StreamEvent']
type Transition = components['schemas']['StreamTransition']
type Stats = components['schemas']['TaskStats']

function recordTransition(t: Transition): void {
  const b = bucket()
  if (t.to === 'completed') b.completed++
  if (t.to === 'failed') b.failed++
  if (t.wait_ms !== null) {
    b.latencySum += t.wait_ms
    b.latencyN++
  }
  if (t.run_ms !== null) {
    b.runSum += t.run_ms
    b.runN++
  }
}

function setCounts(stats: Stats): void {
  const counts: Partial<Record<TaskStatus, number>> = {}
  for (const s of TASK_STATUSES) counts[s] = stats[s]
  const signature = JSON.stringify([counts, stats.by_type])
  if (signature !== lastSignature) state.changes++
  lastSignature = signature
  state.counts = counts
  state.byType = stats.by_type
}
let lastSignature = ''

/** The `changes` value when this task last moved (0 if not seen): the detail view refetches on it. */
const touched = new Map<string, number>()
export function taskVersion(id: string): number {
  return touched.get(id) ?? 0
}

function touch(list: Transition[]): void {
  state.changes++
  for (const { task_id: id } of list) {
    touched.delete(id)
    touched.set(id, state.changes)
  }
  // Keep the most recent 5,000: a map in insertion order drops its oldest first.
  for (const id of touched.keys()) {
    if (touched.size <= 5000) break
    touched.delete(id)
  }
}

/** One SSE message from the server (an unknown event, from a newer server, is skipped). */
function onMessage(message: StreamEvent): void {
  if (message.event === 'counts') setCounts(message.data)
  // Arrow rates count every move the server saw: a transitions entry folds a task's moves within
  // one tick into one jump, which cannot say which arrows it took.
  else if (message.event === 'moves') for (const m of message.data) edge(m.from, m.to, m.count)
  else if (message.event === 'transitions') {
    for (const t of message.data) recordTransition(t)
    touch(message.data)
  } else return
  state.seq++
  changed()
}

function setConn(c: Connection): void {
  if (state.conn === c) return
  state.conn = c
  changed()
}

// ---- the stream -------------------------------------------------------------------------------

let abort: AbortController | undefined
let pollTimer: ReturnType<typeof setInterval> | undefined
let retryTimer: ReturnType<typeof setTimeout> | undefined
let failures = 0

async function stream(): Promise<void> {
  abort?.abort()
  const ctrl = new AbortController()
  abort = ctrl
  try {
    const res = await fetch(`${BASE}/events`, {
      headers: { ...authHeaders(), accept: 'text/event-stream' },
      signal: ctrl.signal,
    })
    if (!res.ok || !res.body) throw new Error(`events answered ${res.status}`)
    failures = 0
    setConn('live')
    stopPolling()
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buf = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buf += value
      let end = buf.indexOf('\n\n')
      while (end >= 0) {
        parseBlock(buf.slice(0, end))
        buf = buf.slice(end + 2)
        end = buf.indexOf('\n\n')
      }
    }
    throw new Error('events stream ended')
  } catch {
    if (ctrl.signal.aborted) return
    failures++
    setConn(failures > 3 && !polledOk ? 'offline' : 'polling')
    startPolling()
    // 1 s, 2 s, 4 s ... capped at 30 s: a restarting server is picked up quickly, a dead one is not hammered.
    retryTimer = setTimeout(() => void stream(), Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5)))
  }
}

function parseBlock(block: string): void {
  let event = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue
    const i = line.indexOf(':')
    const field = i < 0 ? line : line.slice(0, i)
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (!data.length) return
  try {
    onMessage({ event, data: JSON.parse(data.join('\n')) } as StreamEvent)
  } catch {
    // A malformed message is skipped; the next counts message corrects the picture.
  }
}

let polledOk = false
let lastPolled: Partial<Record<TaskStatus, number>> | null = null

async function poll(): Promise<void> {
  try {
    const { data } = await answer(api.GET('/api/v1/tasks/stats'))
    polledOk = true
    const before = lastPolled
    setCounts(data)
    lastPolled = state.counts
    if (before && state.counts) {
      // Without the stream, completed/failed per second are the growth of their counts.
      const b = bucket()
      b.completed += Math.max(0, (state.counts.completed ?? 0) - (before.completed ?? 0))
      b.failed += Math.max(0, (state.counts.failed ?? 0) - (before.failed ?? 0))
    }
    if (state.conn === 'offline') setConn('polling')
    state.seq++
    changed()
  } catch {
    polledOk = false
    setConn('offline')
  }
}

function startPolling(): void {
  if (pollTimer) return
  void poll()
  pollTimer = setInterval(() => void poll(), 2000)
}

function stopPolling(): void {
  if (pollTimer) clearInterval(pollTimer)
  pollTimer = undefined
  lastPolled = null
}

let connected = false

/** Starts the live connection once per sign-in; later calls are no-ops. */
export function connectLive(): void {
  if (!getToken() || connected) return
  connected = true
  clearTimeout(retryTimer)
  failures = 0
  state.since = Math.floor(Date.now() / 1000)
  setConn('connecting')
  void stream()
  // Counts right away, before the stream's first message.
  void poll()
}

export function disconnectLive(): void {
  connected = false
  abort?.abort()
  clearTimeout(retryTimer)
  stopPolling()
  state.counts = null
  state.byType = null
  state.buckets = []
  state.edges.clear()
  setConn('connecting')
}

/** Re-renders the caller whenever the live state changes. */
export function useLive(): LiveState {
  const [, setTick] = useState(0)
  useEffect(() => {
    const fn = () => setTick((n) => n + 1)
    listeners.add(fn)
    return () => void listeners.delete(fn)
  }, [])
  return state
}

/** Called after the panel itself changed something, so every view refetches at once. */
export function bump(): void {
  state.seq++
  state.changes++
  changed()
}

/** A ticking clock (for "5 s ago" labels and charts that scroll). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs)
    return () => clearInterval(t)
  }, [everyMs])
  return now
}

export function liveState(): LiveState {
  return state
}

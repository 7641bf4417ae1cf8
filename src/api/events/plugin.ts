// GET /events: server-sent events for the panel. `transitions` carries what changed since the last
// message (at most one message per 250 ms feed tick, one entry per task: its latest state), `moves`
// the same tick's moves counted per arrow (an entry folds a fast task's moves into one jump, so the
// diagram's arrow rates are counted from these), and `counts` the caller's counts per status every
// second, which doubles as a keep-alive.
// Each transition carries the claim's queue latency (wait_ms) and the attempt's run time (run_ms)
// when the entry holds them: the panel's latency chart reads them here (src/api/events/schemas.ts).
// EventSource cannot send headers, so the token may come as ?access_token= on this route only.
import type { Static } from '@sinclair/typebox'
import { Elysia, t } from 'elysia'
import { type TaskStats, taskStats } from '../../queue/queries'
import type { Scope } from '../../queue/task'
import { authenticate } from '../auth/guard'
import { userOfToken } from '../auth/sessions'
import { bearer } from '../auth/tokens'
import type { ApiDeps } from '../deps'
import { textRoute } from '../docs'
import { keepOpen } from '../http/connections'
import type { FeedEvent, LiveFeed } from './feed'
import { StreamEvent, type StreamMove, type StreamTransition } from './schemas'

export const COUNTS_INTERVAL_MS = 1000
/**
 * How often an open stream checks that its session still exists: a password change or logout-all
 * ends every other session, and a stream must end with it, within seconds (issue 12, item 8).
 */
export const SESSION_CHECK_MS = 2000

export type Transition = Static<typeof StreamTransition>
export type Move = Static<typeof StreamMove>

/** One entry per task: its first `from` and latest everything else, in the order tasks last moved. */
export function coalesce(batch: FeedEvent[], scope: Scope): Transition[] {
  const byTask = new Map<string, Transition>()
  for (const e of batch) {
    if (scope.userId !== undefined && e.created_by !== scope.userId) continue
    const prev = byTask.get(e.task_id)
    byTask.delete(e.task_id)
    byTask.set(e.task_id, {
      id: e.id,
      task_id: e.task_id,
      task_type: e.task_type,
      from: prev ? prev.from : e.from_status,
      to: e.to_status,
      // A claim and its end may share an entry (a fast task arrives as pending → completed).
      wait_ms: e.wait_ms ?? prev?.wait_ms ?? null,
      run_ms: e.run_ms ?? prev?.run_ms ?? null,
      attempt: e.attempt,
      worker_id: e.worker_id,
      error: e.error,
      actor: e.actor,
      at: e.at,
    })
  }
  return [...byTask.values()]
}

/**
 * Every move of a batch counted per arrow. The entries of `coalesce` cannot say which arrows a task
 * took: a scheduled task claimed and finished within one tick arrives as scheduled → completed, and
 * one created and cancelled as a creation only. Creations are not moves.
 */
export function countMoves(batch: FeedEvent[], scope: Scope): Move[] {
  const byArrow = new Map<string, Move>()
  for (const e of batch) {
    if (e.from_status === null) continue
    if (scope.userId !== undefined && e.created_by !== scope.userId) continue
    const key = `${e.from_status}>${e.to_status}`
    const move = byArrow.get(key)
    if (move) move.count++
    else byArrow.set(key, { from: e.from_status, to: e.to_status, count: 1 })
  }
  return [...byArrow.values()]
}

const frame = (event: string, data: unknown, id?: string) =>
  `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

export function eventsPlugin(deps: ApiDeps, feed: LiveFeed) {
  // Counts are shared by every stream with the same scope within one interval: ten open panels
  // of one admin cost one GROUP BY a second, not ten.
  const cache = new Map<string, { at: number; stats: Promise<TaskStats> }>()
  const countsFor = (scope: Scope) => {
    const key = scope.userId ?? '*'
    const hit = cache.get(key)
    if (hit && Date.now() - hit.at < COUNTS_INTERVAL_MS - 50) return hit.stats
    const stats = taskStats(deps.sql, scope)
    stats.catch(() => cache.delete(key))
    cache.set(key, { at: Date.now(), stats })
    return stats
  }

  return new Elysia({ name: 'tasklab-events' }).get(
    '/events',
    async ({ headers, query, request, server }) => {
      const authorization =
        headers.authorization ?? (query.access_token ? `Bearer ${query.access_token}` : undefined)
      const caller = await authenticate(deps.sql, authorization)
      const token = bearer(authorization)!
      // The one answer that stays open: no idle timeout, and it holds its connection place until it closes.
      server?.timeout(request, 0)
      const release = keepOpen(request)
      feed.start()
      const enc = new TextEncoder()
      let cleanup = () => {}
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          let open = true
          const send = (s: string) => {
            if (!open) return
            try {
              controller.enqueue(enc.encode(s))
            } catch {
              cleanup()
            }
          }
          const counts = () =>
            countsFor(caller.scope).then(
              (c) => send(frame('counts', c)),
              () => send(': database unreachable\n\n'),
            )
          const off = feed.subscribe((batch) => {
            const moves = countMoves(batch, caller.scope)
            if (moves.length > 0) send(frame('moves', moves))
            const list = coalesce(batch, caller.scope)
            if (list.length > 0) send(frame('transitions', list, list[list.length - 1]!.id))
          })
          const timer = setInterval(() => void counts(), COUNTS_INTERVAL_MS)
          const sessionTimer = setInterval(() => {
            userOfToken(deps.sql, token).then(
              (user) => {
                if (user) return
                send('event: logout\ndata: {"reason":"session ended"}\n\n')
                cleanup()
              },
              () => {}, // database away: the counts already say so; check again next time
            )
          }, SESSION_CHECK_MS)
          const offStop = feed.onStop(() => cleanup())
          cleanup = () => {
            if (!open) return
            open = false
            off()
            offStop()
            clearInterval(timer)
            clearInterval(sessionTimer)
            release()
            try {
              controller.close()
            } catch {}
          }
          request.signal.addEventListener('abort', () => cleanup())
          send('retry: 2000\n\n')
          void counts()
        },
        cancel() {
          cleanup()
        },
      })
      return new Response(stream, {
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        },
      })
    },
    {
      query: t.Object({
        access_token: t.Optional(
          t.String({
            maxLength: 512,
            description: 'session token, for EventSource which cannot send headers',
          }),
        ),
      }),
      detail: textRoute(
        'events',
        'Server-sent events: `transitions` (coalesced, ≤ 4/s), `moves` (the same moves counted per arrow) and `counts` (every second)',
        {
          mediaType: 'text/event-stream',
          description: 'the event stream; each message as StreamEvent',
          auth: true,
          schema: StreamEvent,
        },
      ),
    },
  )
}

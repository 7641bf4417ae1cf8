// With a real worker in the process: /workers, live workers per type, /metrics (counters and
// histograms from the task_events feed, gauges from the database) and /events (SSE).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { FeedEvent } from '../../src/api/events/feed'
import { coalesce, countMoves, type Move, type Transition } from '../../src/api/events/plugin'
import { builtinHandlers } from '../../src/handlers'
import { insertTask } from '../helpers/factory'
import { waitFor } from '../helpers/wait'
import { testWorker } from '../helpers/worker'
import { type Harness, harness } from './harness'

let h: Harness
let alice: { token: string; id: string }
let bob: { token: string; id: string }
let w: ReturnType<typeof testWorker>

beforeAll(async () => {
  h = await harness()
  alice = await h.user('alice')
  bob = await h.user('bob')
  w = testWorker(h.db.sql, builtinHandlers({ sandboxDir: '/tmp/tasklab-api-test-sandbox' }), {
    events: h.deps.events,
    notifier: h.deps.notifier,
  })
  await w.worker.start()
  h.feed.start()
  await waitFor('the feed cursor', () => (h.feed as unknown as { cursor: string | null }).cursor !== null)
})
afterAll(async () => {
  await w.worker.stop()
  await h.close()
})

const sum = (data: number[]) => ({ task_type: 'data_processing', payload: { data, operation: 'sum' } })

/** Reads SSE frames from a streaming response until `done` says enough. */
async function readEvents(
  res: Response,
  done: (events: { event: string; data: unknown }[]) => boolean,
  timeoutMs = 10_000,
) {
  const reader = res.body!.getReader()
  const dec = new TextDecoder()
  const events: { event: string; data: unknown }[] = []
  let buf = ''
  const deadline = Date.now() + timeoutMs
  try {
    while (!done(events)) {
      if (Date.now() > deadline)
        throw new Error(`no matching events within ${timeoutMs} ms: ${JSON.stringify(events).slice(0, 500)}`)
      const { value, done: end } = await reader.read()
      if (end) break
      buf += dec.decode(value)
      let i = buf.indexOf('\n\n')
      while (i >= 0) {
        const frame = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const event = /^event: (.+)$/m.exec(frame)?.[1]
        const data = /^data: (.+)$/m.exec(frame)?.[1]
        if (event && data) events.push({ event, data: JSON.parse(data) })
        i = buf.indexOf('\n\n')
      }
    }
  } finally {
    await reader.cancel()
  }
  return events
}

describe('workers and types', () => {
  test('GET /workers lists the worker alive; GET /tasks/types counts it per type', async () => {
    const r = await h.call('GET', '/api/v1/workers', { token: alice.token })
    expect(r.status).toBe(200)
    const me = r.body.data.find((x) => x.id === w.worker.id)
    expect(me).toMatchObject({ alive: true, running_tasks: 0, pid: process.pid })
    expect(me!.task_types).toContain('data_processing')
    for (const f of ['host', 'started_at', 'heartbeat_at']) expect(me).toHaveProperty(f)
    expect((await h.call('GET', '/api/v1/workers')).status).toBe(401)
    const types = await h.call('GET', '/api/v1/tasks/types')
    const dp = types.body.data.find((t) => t.task_type === 'data_processing')
    expect(dp!.workers).toEqual({ alive: 1, ids: [w.worker.id] })
  })
})

describe('metrics', () => {
  test('tasks done by the worker show in counters, histograms and gauges', async () => {
    const ids: string[] = []
    for (let i = 0; i < 3; i++)
      ids.push(
        (await h.call('POST', '/api/v1/tasks', { token: alice.token, body: sum([i, 1]) })).body.data.id,
      )
    await waitFor('3 completed tasks', async () => {
      const r = await h.call('GET', '/api/v1/tasks?status=completed', { token: alice.token })
      return r.body.meta.total === 3
    })
    const text = await waitFor('run-time histogram of 3', async () => {
      const t = (await h.call('GET', '/api/v1/metrics')).text
      return t.includes('tasklab_task_run_seconds_count{task_type="data_processing",outcome="completed"} 3')
        ? t
        : null
    })
    expect(text).toContain('tasklab_tasks{status="completed",task_type="data_processing"} 3')
    expect(text).toContain('tasklab_tasks_completed_total{task_type="data_processing"} 3')
    expect(text).toMatch(/tasklab_tasks_claimed_total [3-9]/)
    expect(text).toContain('tasklab_task_queue_latency_seconds_count{task_type="data_processing"} 3')
    expect(text).toContain('tasklab_breaker_state{task_type="data_processing"} 0')
    expect(text).toContain('tasklab_workers_alive 1')
    expect(text).toContain('tasklab_database_up 1')
    const res = await h.app.handle(new Request('http://localhost/api/v1/metrics'))
    expect(res.headers.get('content-type')).toStartWith('text/plain; version=0.0.4')
  })

  test('counters include transitions made by other processes (read from task_events)', async () => {
    const count = (text: string, metric: string) =>
      Number(new RegExp(`^${metric} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
    const before = (await h.call('GET', '/api/v1/metrics')).text
    // Another worker process, as the database sees it: no event reaches this process's bus.
    // (Inserted as running, so the worker in this process cannot claim it first.)
    const task = await insertTask(h.db.sql, {
      task_type: 'email',
      status: 'running',
      locked_by: 'elsewhere',
      current_attempt: 1,
    })
    await h.db.sql`UPDATE tasks SET status = 'failed', locked_by = NULL, lease_expires_at = NULL,
      completed_at = now() WHERE id = ${task.id}`
    const after = await waitFor('the failure in the counters', async () => {
      const t = (await h.call('GET', '/api/v1/metrics')).text
      return count(t, 'tasklab_tasks_failed_total\\{task_type="email"\\}') > 0 ? t : null
    })
    expect(count(after, 'tasklab_tasks_failed_total\\{task_type="email"\\}')).toBe(
      count(before, 'tasklab_tasks_failed_total\\{task_type="email"\\}') + 1,
    )
    expect(count(after, 'tasklab_tasks_claimed_total')).toBeGreaterThan(
      count(before, 'tasklab_tasks_claimed_total'),
    )
  })
})

describe('events', () => {
  test('a stream sends counts at once and the transitions of own tasks, coalesced', async () => {
    const res = await h.app.handle(new Request(`http://localhost/api/v1/events?access_token=${alice.token}`))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('text/event-stream')
    let id = ''
    const events = await readEvents(res, (ev) => {
      if (ev.some((e) => e.event === 'counts') && !id)
        void h.call('POST', '/api/v1/tasks', { token: alice.token, body: sum([5]) }).then((r) => {
          id = r.body.data.id
        })
      return ev.some(
        (e) =>
          e.event === 'transitions' &&
          (e.data as { task_id: string; to: string }[]).some((t) => t.task_id === id && t.to === 'completed'),
      )
    })
    const counts = events.find((e) => e.event === 'counts')!.data as { total: number }
    expect(counts.total).toBeGreaterThanOrEqual(3)
    const seen = events
      .filter((e) => e.event === 'transitions')
      .flatMap((e) => e.data as { task_id: string }[])
    // One entry per task per message.
    for (const e of events.filter((x) => x.event === 'transitions')) {
      const ids = (e.data as { task_id: string }[]).map((t) => t.task_id)
      expect(new Set(ids).size).toBe(ids.length)
    }
    expect(seen.some((t) => t.task_id === id)).toBe(true)
  })

  test("the stream carries each claim's queue latency and each attempt's run time, as the row has them", async () => {
    const res = await h.app.handle(new Request(`http://localhost/api/v1/events?access_token=${alice.token}`))
    let id = ''
    const mine = () =>
      events
        .filter((e) => e.event === 'transitions')
        .flatMap((e) => e.data as Transition[])
        .filter((t) => t.task_id === id)
    let events: { event: string; data: unknown }[] = []
    events = await readEvents(res, (ev) => {
      events = ev
      if (ev.some((e) => e.event === 'counts') && !id)
        void h
          .call('POST', '/api/v1/tasks', {
            token: alice.token,
            body: { task_type: 'delay_task', payload: { delay_seconds: 0.2 } },
          })
          .then((r) => {
            id = r.body.data.id
          })
      return mine().some((t) => t.to === 'completed')
    })
    const wait = mine().find((t) => t.wait_ms !== null)?.wait_ms
    const run = mine().find((t) => t.to === 'completed')?.run_ms
    const [row] = await h.db.sql<{ wait: number; run: number }[]>`
      SELECT extract(epoch FROM started_at - run_at)::float8 * 1000 AS wait,
             extract(epoch FROM completed_at - started_at)::float8 * 1000 AS run
      FROM tasks WHERE id = ${id}`
    // The stream's times are whole milliseconds of the row's microsecond timestamps.
    expect(Math.abs(wait! - row!.wait)).toBeLessThan(1)
    expect(Math.abs(run! - row!.run)).toBeLessThan(1)
    expect(run!).toBeGreaterThanOrEqual(200)
  })

  test("another user's stream counts only their own tasks and needs a token", async () => {
    const res = await h.app.handle(
      new Request('http://localhost/api/v1/events', { headers: { authorization: `Bearer ${bob.token}` } }),
    )
    const events = await readEvents(res, (ev) => ev.some((e) => e.event === 'counts'))
    expect((events.find((e) => e.event === 'counts')!.data as { total: number }).total).toBe(0)
    const none = await h.call('GET', '/api/v1/events')
    expect(none.status).toBe(401)
    expect(none.body.error.code).toBe('UNAUTHORIZED')
  })

  test('coalesce keeps one entry per task (first from, last to) and filters by owner', () => {
    const base = {
      task_type: 'email',
      attempt: 1,
      worker_id: null,
      error: null,
      actor: 'system',
      at: new Date(),
      run_at: null,
      started_at: null,
      current_attempt: 1,
      wait_ms: null,
      run_ms: null,
    }
    const batch: FeedEvent[] = [
      {
        ...base,
        id: '1',
        task_id: 'a',
        from_status: 'pending',
        to_status: 'running',
        created_by: 'u1',
        wait_ms: 5,
      },
      { ...base, id: '2', task_id: 'b', from_status: null, to_status: 'pending', created_by: 'u2' },
      {
        ...base,
        id: '3',
        task_id: 'a',
        from_status: 'running',
        to_status: 'completed',
        created_by: 'u1',
        run_ms: 7,
      },
    ]
    // The claim's wait and the attempt's run time both stay on the one entry of a fast task.
    expect(coalesce(batch, {}).map((t) => [t.task_id, t.from, t.to, t.wait_ms, t.run_ms])).toEqual([
      ['b', null, 'pending', null, null],
      ['a', 'pending', 'completed', 5, 7],
    ])
    expect(coalesce(batch, { userId: 'u2' }).map((t) => t.task_id)).toEqual(['b'])
    // Moves keep what the entries fold: every arrow taken, counted; a creation is not a move.
    const twice = [...batch, { ...batch[2]!, id: '4', task_id: 'c' }]
    expect(countMoves(twice, {})).toEqual([
      { from: 'pending', to: 'running', count: 1 },
      { from: 'running', to: 'completed', count: 2 },
    ])
    expect(countMoves(twice, { userId: 'u2' })).toEqual([])
  })

  test('moves count every arrow a task took, also those its transitions entry folds into one jump', async () => {
    const carol = await h.user('carol')
    const res = await h.app.handle(new Request(`http://localhost/api/v1/events?access_token=${carol.token}`))
    const create = async (body: Record<string, unknown>) => {
      const r = await h.call('POST', '/api/v1/tasks', { token: carol.token, body })
      if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`)
      return r.body.data.id
    }
    const totals = (events: { event: string; data: unknown }[]) => {
      const by: Record<string, number> = {}
      for (const e of events.filter((x) => x.event === 'moves'))
        for (const m of e.data as Move[]) by[`${m.from}>${m.to}`] = (by[`${m.from}>${m.to}`] ?? 0) + m.count
      return by
    }
    let sent = false
    const events = await readEvents(res, (ev) => {
      if (!sent && ev.some((e) => e.event === 'counts')) {
        sent = true
        void (async () => {
          // Due at once and done in no time: its claim (recorded via pending) and its end come in
          // one tick or two, as scheduled → running or scheduled → completed.
          await create({ ...sum([1]), scheduled_at: new Date(Date.now() + 50).toISOString() })
          // Created and cancelled before the feed's next read: its entry is a creation only.
          const far = await create({
            ...sum([2]),
            scheduled_at: new Date(Date.now() + 3_600_000).toISOString(),
          })
          await h.call('POST', `/api/v1/tasks/${far}/cancel`, { token: carol.token })
        })()
      }
      const t = totals(ev)
      return t['running>completed'] === 1 && t['scheduled>cancelled'] === 1
    })
    expect(totals(events)).toEqual({
      'scheduled>pending': 1,
      'pending>running': 1,
      'running>completed': 1,
      'scheduled>cancelled': 1,
    })
  })
})

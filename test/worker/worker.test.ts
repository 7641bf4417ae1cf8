import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { Type } from '@sinclair/typebox'
import { builtinHandlers } from '../../src/handlers'
import { defineHandler, PermanentError, sleep, type TaskHandler } from '../../src/handlers/contract'
import { cancelTask } from '../../src/queue/actions'
import type { NewTask } from '../../src/queue/enqueue'
import { sendControl } from '../../src/queue/notify'
import type { Worker } from '../../src/worker/runner'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'
import { waitFor } from '../helpers/wait'
import { statusOf, testWorker } from '../helpers/worker'

let db: TestDatabase
const running: Worker[] = []
beforeAll(async () => {
  db = await createTestDatabase()
})
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop(0)))
})
afterAll(() => db.drop())

const handlers = builtinHandlers({ sandboxDir: '/tmp/tasklab-test-sandbox' })
async function start(hs: TaskHandler[] = handlers, opts = {}) {
  const t = testWorker(db.sql, hs, opts)
  await t.worker.start()
  running.push(t.worker)
  return t
}
/** Adds a task and waits until the worker has started it. The listener is on before the insert:
 *  the INSERT carries the workers' NOTIFY, so the worker may start the task before `add` returns. */
async function addStarted(w: Awaited<ReturnType<typeof start>>, input: NewTask) {
  const started = new Set<string>()
  const off = w.events.on('task:transition', (e) => {
    if (e.to === 'running') started.add(e.id)
  })
  try {
    const t = await w.add(input)
    await waitFor(`task ${t.id} to start`, () => started.has(t.id))
    return t
  } finally {
    off()
  }
}
const eventsOf = (id: string) =>
  db.sql`SELECT at, from_status, to_status, attempt, error FROM task_events WHERE task_id = ${id} ORDER BY id`
const settled = (id: string, ...states: string[]) =>
  waitFor(`task ${id} to reach ${states.join('/')}`, async () => {
    const t = await statusOf(db.sql, id)
    return states.includes(t.status) ? t : null
  })

describe('worker', () => {
  test("a failing task goes through retrying with the strategy's delays, then lands in failed", async () => {
    const { add } = await start()
    const t = await add({
      task_type: 'email',
      payload: { to: 'a@b.c', subject: 's', body: 'please fail', latency_ms: 0 },
      retry_strategy: {
        type: 'linear',
        base_delay_ms: 100,
        increment_ms: 100,
        max_delay_ms: 10_000,
        max_attempts: 3,
      },
    })
    const done = await settled(t.id, 'failed')
    expect(done).toMatchObject({ current_attempt: 3, last_error: 'Email service error' })
    const ev = await eventsOf(t.id)
    expect(ev.map((e) => e.to_status)).toEqual([
      'pending',
      'running',
      'retrying',
      'running',
      'retrying',
      'running',
      'failed',
    ])
    // linear: base + increment * attempt → 200 ms after attempt 1, 300 ms after attempt 2; an
    // attempt starts no earlier than the previous start plus that delay.
    const started = ev.filter((e) => e.to_status === 'running').map((e) => e.at.getTime())
    expect(started[1]! - started[0]!).toBeGreaterThanOrEqual(200)
    expect(started[2]! - started[1]!).toBeGreaterThanOrEqual(300)
  })

  test('a bad payload is permanent: no retry, the error names the field', async () => {
    const { add, notifier } = await start()
    // Creation refuses it now (400 naming the field); a task written before its type had a schema,
    // or straight into the table, still meets the worker's own check.
    await expect(
      add({ task_type: 'data_processing', payload: { operation: 'median', data: [1] } }),
    ).rejects.toThrow('payload.operation')
    const t = await insertTask(db.sql, {
      task_type: 'data_processing',
      payload: { operation: 'median', data: [1] },
      max_attempts: 5,
    })
    notifier.poke()
    const done = await settled(t.id, 'failed')
    expect(done.current_attempt).toBe(1)
    expect(done.last_error).toContain('payload.operation')
  })

  test('an attempt that outlives its timeout is aborted and retried', async () => {
    const { add } = await start()
    const t = await add({
      task_type: 'delay_task',
      payload: { delay_seconds: 30 },
      timeout_ms: 100,
      max_attempts: 2,
      retry_strategy: { type: 'fixed', interval_ms: 10 },
    })
    const done = await settled(t.id, 'failed')
    expect(done.last_error).toBe('timed out after 100 ms')
    expect(done.current_attempt).toBe(2)
  })

  test('cancelling a running task fires its signal and ends it cancelled', async () => {
    const t = await addStarted(await start(), { task_type: 'delay_task', payload: { delay_seconds: 30 } })
    const during = await cancelTask(db.sql, t.id, {}, 'user:test')
    expect(during).toMatchObject({ status: 'running', cancel_requested: true })
    const done = await settled(t.id, 'cancelled')
    expect(done.completed_at).toBeInstanceOf(Date)
    const ev = await eventsOf(t.id)
    expect(ev.at(-1)).toMatchObject({ from_status: 'running', to_status: 'cancelled' })
  })

  test('a task whose handler ignores its signal still frees the slot on timeout', async () => {
    const stubborn = defineHandler({
      type: 'stubborn',
      description: 'ignores its signal',
      schema: Type.Object({}),
      example: {},
      run: () => new Promise((resolve) => setTimeout(resolve, 5000)),
    })
    const { add } = await start([stubborn], { concurrency: 1 })
    const a = await add({ task_type: 'stubborn', timeout_ms: 50, max_attempts: 1 })
    const b = await add({ task_type: 'stubborn', timeout_ms: 50, max_attempts: 1 })
    await settled(a.id, 'failed')
    await settled(b.id, 'failed')
  })

  test('stop() hands back what it cannot finish: running → pending, the attempt not counted', async () => {
    const w = await start(handlers, { concurrency: 1 })
    const { worker } = w
    const t = await addStarted(w, { task_type: 'delay_task', payload: { delay_seconds: 30 } })
    running.splice(running.indexOf(worker), 1)
    expect(await worker.stop(50)).toBe(1)
    const back = await statusOf(db.sql, t.id)
    expect(back).toMatchObject({ status: 'pending', current_attempt: 0, locked_by: null })
  })

  test('priority decides what runs first when the queue is full', async () => {
    const order: string[] = []
    const record = defineHandler({
      type: 'record',
      description: 'records its label',
      schema: Type.Object({ label: Type.String() }),
      example: { label: 'x' },
      run: async (p) => {
        order.push(p.label)
      },
    })
    // Queue all five before any worker runs, so the claim sees them together.
    await registerTypes(db.sql, 'record')
    const { add, worker } = testWorker(db.sql, [record], { concurrency: 1 })
    for (const p of ['low', 'normal', 'critical', 'high', 'normal'] as const)
      await add({ task_type: 'record', priority: p, payload: { label: p } })
    await worker.start()
    running.push(worker)
    await waitFor('five tasks to run', () => order.length === 5)
    expect(order).toEqual(['critical', 'high', 'normal', 'normal', 'low'])
  })
})

describe('circuit breaker and pause', () => {
  test("after N failures the breaker opens and the type's tasks wait (not failed); it half-opens and closes", async () => {
    let healthy = false
    const flaky = defineHandler({
      type: 'flaky',
      description: 'fails until healthy',
      schema: Type.Object({}),
      example: {},
      run: async () => {
        if (!healthy) throw new Error('service down')
        return 'ok'
      },
    })
    const { add, events, worker } = testWorker(db.sql, [flaky], { concurrency: 1 })
    await worker.start()
    running.push(worker)
    await db.sql`UPDATE task_types SET breaker_failure_threshold = 2, breaker_success_threshold = 2, breaker_cooldown_ms = 400 WHERE name = 'flaky'`
    await sendControl(db.sql, { kind: 'types' })
    await waitFor(
      'settings',
      async () =>
        (await db.sql`SELECT 1 FROM task_types WHERE name = 'flaky' AND breaker_failure_threshold = 2`)
          .length,
    )
    // What the worker does with the type, in order: attempts it starts and the breaker's moves.
    const seen: string[] = []
    events.on('task:transition', (e) => {
      if (e.taskType === 'flaky' && e.to === 'running') seen.push('run')
    })
    events.on('breaker:changed', (e) => {
      if (e.taskType === 'flaky') seen.push(e.to)
    })
    const opened = events.waitFor('breaker:changed', (e) => e.taskType === 'flaky' && e.to === 'open')
    const probing = events.waitFor('breaker:changed', (e) => e.taskType === 'flaky' && e.to === 'half_open')
    const ids = []
    for (let i = 0; i < 6; i++)
      ids.push(
        (
          await add({
            task_type: 'flaky',
            max_attempts: 10,
            retry_strategy: { type: 'fixed', interval_ms: 10 },
          })
        ).id,
      )
    await opened
    // While open, nothing is burned: from the opening until the cool-down lets one probe through
    // (the breaker goes half-open as the probe is claimed), no attempt starts and no task fails.
    await probing
    expect(seen.slice(seen.indexOf('open') + 1, seen.indexOf('half_open'))).toEqual([])
    const [failed] =
      await db.sql`SELECT count(*)::int AS n FROM tasks WHERE task_type = 'flaky' AND status = 'failed'`
    expect(failed!.n).toBe(0)
    healthy = true
    await events.waitFor('breaker:changed', (e) => e.taskType === 'flaky' && e.to === 'closed', 10_000)
    for (const id of ids) await settled(id, 'completed')
  })

  test("a paused type's tasks wait; resuming runs them", async () => {
    const { add, worker } = testWorker(db.sql, handlers, { concurrency: 2 })
    await worker.start()
    running.push(worker)
    await db.sql`UPDATE task_types SET paused = true WHERE name = 'data_processing'`
    await sendControl(db.sql, { kind: 'types' })
    await waitFor('the worker to see the pause', () => worker.paused('data_processing'))
    const t = await add({ task_type: 'data_processing', payload: { operation: 'sum', data: [1, 2] } })
    // The claim takes tasks by (priority, run_at): had the pause let it through, the paused type's
    // task would have been claimed no later than this later one of the same priority.
    const later = await add({ task_type: 'delay_task', payload: { delay_seconds: 0 } })
    await settled(later.id, 'completed')
    expect((await statusOf(db.sql, t.id)).status).toBe('pending')
    await db.sql`UPDATE task_types SET paused = false WHERE name = 'data_processing'`
    await sendControl(db.sql, { kind: 'types' })
    const done = await settled(t.id, 'completed')
    expect(done.result).toEqual({ operation: 'sum', result: 3, count: 2 })
  })
})

describe('permanent errors from handlers', () => {
  test('PermanentError skips the remaining attempts', async () => {
    const picky = defineHandler({
      type: 'picky',
      description: 'always refuses',
      schema: Type.Object({}),
      example: {},
      run: async (_p, ctx) => {
        await sleep(1, ctx.signal)
        throw new PermanentError('no such account')
      },
    })
    const { add } = await start([picky])
    const t = await add({ task_type: 'picky', max_attempts: 5 })
    const done = await settled(t.id, 'failed')
    expect(done).toMatchObject({ current_attempt: 1, last_error: 'no such account' })
  })
})

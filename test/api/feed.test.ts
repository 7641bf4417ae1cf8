// The live feed shows every transition the events route shows, once each, whether it was stored
// (task_event_log), rebuilt from a running row, or rebuilt from a completion that an outcome write
// NOTIFYed — also when the whole life of a task falls between two ticks.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { type FeedEvent, LiveFeed } from '../../src/api/events/feed'
import type { Sql } from '../../src/db/connect'
import { silentLogger } from '../../src/log'
import { claimTasks } from '../../src/queue/claim'
import { enqueue } from '../../src/queue/enqueue'
import { failureOutcome, finishTasks } from '../../src/queue/finish'
import { defaultRetryStrategy } from '../../src/queue/retry'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
let feed: LiveFeed
const seen: FeedEvent[] = []
const defaults = { maxAttempts: 3, retryStrategy: defaultRetryStrategy(0, 3) }

beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'feedy')
  // Ticks only when the test asks: one hour between automatic ones.
  feed = new LiveFeed(db.sql, silentLogger, 3_600_000)
  feed.subscribe((batch) => seen.push(...batch))
  feed.start()
  await waitFor('the feed cursors', () => (feed as unknown as { cursor: string | null }).cursor !== null)
  // The LISTEN for completions is set up after start(); wait until it is in place.
  await waitFor('the LISTEN', () => (feed as unknown as { unlisten?: unknown }).unlisten !== undefined)
})
afterAll(async () => {
  feed.stop()
  await db.drop()
})

const steps = (
  rows: { from_status: string | null; to_status: string; attempt: number; worker_id: string | null }[],
) => rows.map((e) => `${e.from_status ?? 'new'}→${e.to_status}#${e.attempt}@${e.worker_id ?? '-'}`)
const history = async (id: string) =>
  steps(
    await db.sql`SELECT from_status, to_status, attempt, worker_id FROM task_events WHERE task_id = ${id} ORDER BY id`,
  )
const streamed = (id: string) => steps(seen.filter((e) => e.task_id === id))
const claim = (worker: string) =>
  claimTasks(db.sql, { workerId: worker, types: ['feedy'], limit: 1, leaseMs: 30_000 })
const tickUntil = (what: string, done: () => boolean) =>
  waitFor(what, async () => {
    await feed.tick()
    return done()
  })

test('ticks between every step: creation, claims seen running, a failure, the completion', async () => {
  const { task } = await enqueue(db.sql, { task_type: 'feedy' }, { createdBy: null, defaults })
  await tickUntil('the creation', () => streamed(task.id).length === 1)
  const [a1] = await claim('w1')
  await tickUntil('the first claim', () => streamed(task.id).length === 2)
  await finishTasks(db.sql, 'w1', [failureOutcome(a1!, 'boom', false)])
  await tickUntil('the failure', () => streamed(task.id).length === 3)
  await claim('w2')
  await tickUntil('the second claim', () => streamed(task.id).length === 4)
  await finishTasks(db.sql, 'w2', [{ id: task.id, status: 'completed', result: null }])
  await tickUntil('the completion', () => streamed(task.id).some((s) => s.includes('→completed')))
  await feed.tick()
  expect(streamed(task.id)).toEqual(await history(task.id))
  expect(streamed(task.id)).toEqual([
    'new→pending#0@-',
    'pending→running#1@w1',
    'running→retrying#1@w1',
    'retrying→running#2@w2',
    'running→completed#2@w2',
  ])
})

test('a whole life between two ticks, scheduled and completed, still streams every step once', async () => {
  const { task } = await enqueue(
    db.sql,
    { task_type: 'feedy', scheduled_at: new Date(Date.now() + 150).toISOString() },
    { createdBy: null, defaults },
  )
  await waitFor('the scheduled time', async () => (await claim('w3')).length === 1)
  await finishTasks(db.sql, 'w3', [{ id: task.id, status: 'completed', result: null }])
  await tickUntil('the completion', () => streamed(task.id).some((s) => s.includes('→completed')))
  await feed.tick()
  expect(streamed(task.id)).toEqual(await history(task.id))
  expect(streamed(task.id)).toEqual([
    'new→scheduled#0@-',
    'scheduled→pending#0@-',
    'pending→running#1@w3',
    'running→completed#1@w3',
  ])
  // The rebuilt events carry the row's timings, as the latency histograms need.
  const running = seen.find((e) => e.task_id === task.id && e.to_status === 'running')!
  expect(running.run_at).toBeInstanceOf(Date)
  expect(running.current_attempt).toBe(1)
})

test('a claim that commits after a later claim was read is still streamed, once', async () => {
  const { task: early } = await enqueue(db.sql, { task_type: 'feedy' }, { createdBy: null, defaults })
  const { task: later } = await enqueue(db.sql, { task_type: 'feedy' }, { createdBy: null, defaults })
  // The early claim stamps started_at and then waits to commit, as on a stalled server; the later
  // one (SKIP LOCKED passes the early row) commits and is read first, moving the cursor past it.
  let claimed!: () => void
  let commit!: () => void
  const inTx = new Promise<void>((r) => (claimed = r))
  const held = new Promise<void>((r) => (commit = r))
  const first = db.sql.begin(async (tx) => {
    const rows = await claimTasks(tx as unknown as Sql, {
      workerId: 'w-early',
      types: ['feedy'],
      limit: 1,
      leaseMs: 30_000,
    })
    claimed()
    await held
    return rows
  })
  await inTx
  expect((await claim('w-later')).map((t) => t.id)).toEqual([later.id])
  await tickUntil('the later claim', () => streamed(later.id).length === 2)
  commit()
  expect((await first).map((t) => t.id)).toEqual([early.id])
  await tickUntil('the early claim', () => streamed(early.id).length === 2)
  // Read again behind the cursor, each claim is still sent once.
  await feed.tick()
  await feed.tick()
  expect([streamed(early.id), streamed(later.id)]).toEqual([
    ['new→pending#0@-', 'pending→running#1@w-early'],
    ['new→pending#0@-', 'pending→running#1@w-later'],
  ])
  await finishTasks(db.sql, 'w-early', [{ id: early.id, status: 'completed', result: null }])
  await finishTasks(db.sql, 'w-later', [{ id: later.id, status: 'completed', result: null }])
  await tickUntil(
    'both completions',
    () => streamed(early.id).length === 3 && streamed(later.id).length === 3,
  )
})

test('creations are read only while a listener wants them, and then from that moment on', async () => {
  await registerTypes(db.sql, 'quiet')
  const quiet = new LiveFeed(db.sql, silentLogger, 3_600_000)
  const metricsLike: FeedEvent[] = []
  const offMetrics = quiet.subscribe((batch) => metricsLike.push(...batch), { creations: false })
  quiet.start()
  await waitFor('the cursors', () => (quiet as unknown as { cursor: string | null }).cursor !== null)
  try {
    const tickQuiet = (what: string, done: () => boolean) =>
      waitFor(what, async () => {
        await quiet.tick()
        return done()
      })
    const { task: before } = await enqueue(db.sql, { task_type: 'quiet' }, { createdBy: null, defaults })
    // A claim is stored-or-running, read whatever the listeners: once it is seen, the creation
    // before it would have been seen in the same or an earlier tick.
    await claimTasks(db.sql, { workerId: 'w-quiet', types: ['quiet'], limit: 1, leaseMs: 30_000 })
    await tickQuiet('the claim', () => metricsLike.some((e) => e.task_id === before.id))
    expect(metricsLike.filter((e) => e.task_id === before.id).map((e) => e.from_status)).toEqual(['pending'])

    const panel: FeedEvent[] = []
    const offPanel = quiet.subscribe((batch) => panel.push(...batch))
    const { task: after } = await enqueue(db.sql, { task_type: 'quiet' }, { createdBy: null, defaults })
    await tickQuiet('the new creation', () => panel.some((e) => e.task_id === after.id))
    // The panel sees creations from its arrival: not the one made while nobody read them.
    expect(panel.some((e) => e.task_id === before.id && e.from_status === null)).toBe(false)
    expect(metricsLike.some((e) => e.task_id === after.id)).toBe(true)
    offPanel()
  } finally {
    offMetrics()
    quiet.stop()
  }
})

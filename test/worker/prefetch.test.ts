// Claim-ahead and write-behind in the worker (STARTER__WORKER__PREFETCH): the table may show more
// `running` rows than slots, but never more than `concurrency` attempts execute; what waits in the
// local queue goes back uncounted when the worker stops or the type is paused meanwhile.
import { afterAll, afterEach, beforeAll, expect, test } from 'bun:test'
import { Type } from '@sinclair/typebox'
import { defineHandler } from '../../src/handlers/contract'
import { sendControl } from '../../src/queue/notify'
import type { Worker } from '../../src/worker/runner'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { waitFor } from '../helpers/wait'
import { testWorker } from '../helpers/worker'

let db: TestDatabase
const started: Worker[] = []
beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'gate')
})
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop(0)))
  await db.sql`DELETE FROM tasks`
})
afterAll(() => db.drop())

/** Runs at once, except tasks labelled "hold", which wait until `release()`; counts what executes. */
function gate() {
  let open: () => void = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  const seen = { now: 0, max: 0, runs: 0 }
  const handler = defineHandler({
    type: 'gate',
    description: 'runs at once, or waits for the gate',
    schema: Type.Object({ label: Type.String() }),
    example: { label: 'x' },
    run: async (p) => {
      seen.now++
      seen.runs++
      seen.max = Math.max(seen.max, seen.now)
      try {
        if (p.label === 'hold') await opened
        else await Bun.sleep(1)
      } finally {
        seen.now--
      }
    },
  })
  return { handler, seen, release: () => open() }
}

const runningRows = async (workerId: string) =>
  (
    await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM tasks WHERE status = 'running' AND locked_by = ${workerId}`
  )[0]!.n

test('with prefetch on, more rows are running than slots, yet at most `concurrency` attempts execute', async () => {
  const g = gate()
  const { worker, events, add } = testWorker(db.sql, [g.handler], { concurrency: 3, prefetch: 4 })
  // The worker's own events: an attempt starts at → running, ends at attempt:ended (slot free).
  let executing = 0
  let maxExecuting = 0
  events.on('task:transition', (e) => {
    if (e.to !== 'running') return
    executing++
    maxExecuting = Math.max(maxExecuting, executing)
  })
  events.on('attempt:ended', () => {
    executing--
  })
  await worker.start()
  started.push(worker)
  const ids: string[] = []
  for (let i = 0; i < 300; i++) ids.push((await add({ task_type: 'gate', payload: { label: 'go' } })).id)
  // Three that hold every slot, then work queued behind them: the worker claims it ahead.
  for (let i = 0; i < 3; i++)
    await add({ task_type: 'gate', payload: { label: 'hold' }, priority: 'critical' })
  for (let i = 0; i < 30; i++) await add({ task_type: 'gate', payload: { label: 'go' } })
  const seenRunning = await waitFor('more running rows than slots', async () => {
    const n = await runningRows(worker.id)
    return n > 3 ? n : null
  })
  expect(worker.prefetched).toBeGreaterThan(0)
  expect(worker.inFlight).toBe(3)
  g.release()
  await waitFor('everything to complete', async () =>
    (await db.sql`SELECT 1 FROM tasks WHERE status <> 'completed'`).length === 0 ? true : null,
  )
  console.log(`prefetch: ${seenRunning} rows running for 3 slots; ${g.seen.runs} executions`)
  expect(g.seen.max).toBeLessThanOrEqual(3)
  expect(maxExecuting).toBeLessThanOrEqual(3)
  expect(maxExecuting).toBe(3)
  expect(g.seen.runs).toBe(333)
})

test('stop() hands back what was claimed ahead, uncounted, and aborts only what executes', async () => {
  const g = gate()
  const { worker, add } = testWorker(db.sql, [g.handler], { concurrency: 1, prefetch: 4 })
  await worker.start()
  // A few runs first, so the worker knows its tasks are short and claims ahead.
  for (let i = 0; i < 20; i++) await add({ task_type: 'gate', payload: { label: 'go' } })
  await waitFor('the warm-up to run', () => g.seen.runs === 20)
  const hold = await add({ task_type: 'gate', payload: { label: 'hold' }, priority: 'critical' })
  const queued: string[] = []
  for (let i = 0; i < 10; i++) queued.push((await add({ task_type: 'gate', payload: { label: 'go' } })).id)
  // Claimed ahead while the held task fills the one slot (refills come in batches of ≥ 2).
  const ahead = await waitFor('tasks claimed ahead', () => (worker.prefetched >= 2 ? worker.prefetched : 0))
  expect(await runningRows(worker.id)).toBe(ahead + 1)
  const runsBefore = g.seen.runs
  expect(await worker.stop(20)).toBe(ahead + 1)
  g.release()
  expect(g.seen.runs).toBe(runsBefore)
  const rows = await db.sql<
    { id: string; status: string; current_attempt: number; locked_by: string | null }[]
  >`
    SELECT id, status::text, current_attempt, locked_by FROM tasks WHERE id = ANY(${[hold.id, ...queued]}::uuid[])`
  expect(rows.filter((r) => r.status !== 'pending' || r.current_attempt !== 0 || r.locked_by)).toEqual([])
  // Nothing was recorded as a failed or rescued attempt.
  const bad =
    await db.sql`SELECT 1 FROM task_events WHERE to_status IN ('retrying', 'failed') OR actor = 'rescue'`
  expect(bad.length).toBe(0)
})

test('a task claimed ahead whose type is paused meanwhile goes back instead of starting', async () => {
  const g = gate()
  const { worker, add } = testWorker(db.sql, [g.handler], { concurrency: 1, prefetch: 4 })
  await worker.start()
  started.push(worker)
  for (let i = 0; i < 20; i++) await add({ task_type: 'gate', payload: { label: 'go' } })
  await waitFor('the warm-up to run', () => g.seen.runs === 20)
  await add({ task_type: 'gate', payload: { label: 'hold' }, priority: 'critical' })
  for (let i = 0; i < 4; i++) await add({ task_type: 'gate', payload: { label: 'go' } })
  await waitFor('tasks claimed ahead', () => worker.prefetched >= 2)
  await db.sql`UPDATE task_types SET paused = true WHERE name = 'gate'`
  await sendControl(db.sql, { kind: 'types' })
  // The worker learns of the pause by NOTIFY; then the held slot frees and the queue is judged.
  await waitFor('the worker to see the pause', () => worker.paused('gate'))
  const runs = g.seen.runs
  g.release()
  await waitFor('nothing running', async () => ((await runningRows(worker.id)) === 0 ? true : null))
  expect(g.seen.runs).toBe(runs)
  const back = await db.sql`SELECT status::text, current_attempt FROM tasks WHERE status <> 'completed'`
  expect([...back]).toEqual(Array(4).fill({ status: 'pending', current_attempt: 0 }))
  await db.sql`UPDATE task_types SET paused = false WHERE name = 'gate'`
})

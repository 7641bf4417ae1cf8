// Issue 12, item 1, end to end: hostile outputs and errors from every kind of handler (NUL bytes,
// binary, lone surrogates, 10 MB results, NaN/Infinity, circular objects, throws of odd values)
// never wedge a worker. It keeps draining other tasks and every task reaches a terminal state.
// The soak runs TASKLAB_SOAK_SECS seconds (12 by default in CI; the 60 s with
// TASKLAB_SOAK_SECS=60) of mixed poison and normal tasks.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Type } from '@sinclair/typebox'
import { builtinHandlers } from '../../src/handlers'
import { defineHandler, PermanentError, type TaskHandler } from '../../src/handlers/contract'
import { sendControl } from '../../src/queue/notify'
import type { Task } from '../../src/queue/task'
import type { Worker } from '../../src/worker/runner'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { waitFor } from '../helpers/wait'
import { testWorker } from '../helpers/worker'

const TEN_MB = 10 * 1024 * 1024
const SOAK_SECS = Number(process.env.TASKLAB_SOAK_SECS ?? 12)

/** A handler module as a user might write one: returns or throws whatever the payload asks for. */
const poisonModule = defineHandler({
  type: 'poison_module',
  description: 'test only: hostile results and errors',
  schema: Type.Object({ kind: Type.String() }),
  example: { kind: 'nul' },
  async run({ kind }) {
    switch (kind) {
      case 'nul':
        return { text: 'a\u0000b', 'key\u0000': 1 }
      case 'surrogate':
        return `${'x'.repeat(4095)}😀`.slice(0, 4096)
      case 'binary':
        return { bytes: new TextDecoder('latin1').decode(new Uint8Array(256).map((_, i) => i)) }
      case 'circular': {
        const o: Record<string, unknown> = { a: 1 }
        o.self = o
        return o
      }
      case 'nan':
        return { value: Number.NaN }
      case 'infinity':
        return [Number.POSITIVE_INFINITY]
      case 'bigint':
        return { n: 10n }
      case 'huge':
        return { blob: 'z'.repeat(TEN_MB) }
      case 'throw-nul':
        throw new Error('bad\u0000reply \uD800')
      case 'throw-huge':
        throw new PermanentError('e'.repeat(TEN_MB))
      case 'throw-null-proto':
        throw Object.create(null)
      case 'throw-string':
        throw 'a plain string \u0000'
      default:
        return undefined
    }
  },
})

const POISON_KINDS = [
  'nul',
  'surrogate',
  'binary',
  'circular',
  'nan',
  'infinity',
  'bigint',
  'huge',
  'throw-nul',
  'throw-huge',
  'throw-null-proto',
  'throw-string',
  'undefined',
]

let db: TestDatabase
let server: ReturnType<typeof Bun.serve>
let worker: Worker
let add: (t: Parameters<ReturnType<typeof testWorker>['add']>[0]) => Promise<Task>

beforeAll(async () => {
  db = await createTestDatabase({ max: 20 })
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(req) {
      const kind = new URL(req.url).pathname.slice(1)
      if (kind === 'nul') return new Response('before\u0000after')
      if (kind === 'binary') return new Response(crypto.getRandomValues(new Uint8Array(8192)))
      if (kind === 'emoji-cut') return new Response(`${'a'.repeat(4095)}😀 and more`)
      if (kind === 'endless')
        return new Response(
          new ReadableStream({
            pull(c) {
              c.enqueue(new Uint8Array(65536))
            },
          }),
        )
      if (kind === 'error-nul') return new Response('\u0000\uD800', { status: 404 })
      if (kind === '500') return new Response('\u0000', { status: 500 })
      return new Response('fine')
    },
  })
  const handlers = [
    ...builtinHandlers({ sandboxDir: '/nonexistent-sandbox-unused', webhookAllowHosts: ['127.0.0.1'] }),
    poisonModule,
  ] as TaskHandler[]
  const t = testWorker(db.sql, handlers, { concurrency: 8, leaseMs: 5000 })
  worker = t.worker
  add = t.add
  await worker.start()
  // Breakers would (rightly) hold back the types that keep failing; here every task must run.
  // The worker reads thresholds from its view of the types, refreshed on NOTIFY. The same
  // statement pauses `file_cleanup` (unused here) as a marker: once the view shows it paused, the
  // refresh that read the new thresholds has landed.
  await db.sql`UPDATE task_types SET breaker_failure_threshold = 1000000, paused = (name = 'file_cleanup')`
  await sendControl(db.sql, { kind: 'types' })
  await waitFor('the worker to see the new thresholds', () => worker.paused('file_cleanup'))
})
afterAll(async () => {
  await worker.stop(0)
  server.stop(true)
  await db.drop()
})

const quickRetry = { type: 'fixed', interval_ms: 10, max_attempts: 2 }

function poisonTasks() {
  const hook = (path: string) => ({
    task_type: 'webhook',
    payload: { url: `http://127.0.0.1:${server.port}/${path}`, method: 'GET', timeout_ms: 5000 },
    retry_strategy: quickRetry,
  })
  return [
    ...POISON_KINDS.map((kind) => ({
      task_type: 'poison_module',
      payload: { kind },
      retry_strategy: quickRetry,
    })),
    ...['nul', 'binary', 'emoji-cut', 'endless', 'error-nul', '500'].map(hook),
    // Infinity from a built-in: the sum of two of the largest doubles.
    {
      task_type: 'data_processing',
      payload: { operation: 'sum', data: [1.7e308, 1.7e308] },
      retry_strategy: quickRetry,
    },
    {
      task_type: 'email',
      payload: { to: 'a@b.c', subject: 's', body: 'please fail', latency_ms: 0 },
      retry_strategy: quickRetry,
    },
  ]
}

const normalTask = (i: number) => ({
  task_type: 'data_processing',
  payload: { operation: 'sum', data: [i, 1] },
})

async function statuses(ids: string[]) {
  return db.sql<
    { id: string; status: string; result: unknown; last_error: string | null; payload: unknown }[]
  >`
    SELECT id, status, result, last_error, payload FROM tasks WHERE id = ANY(${ids}::uuid[])`
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled'])

describe('poison corpus', () => {
  test('every hostile output and error ends its task; the worker keeps draining normal tasks', async () => {
    const poison = []
    for (const p of poisonTasks()) poison.push(await add(p as never))
    const normal = []
    for (let i = 0; i < 20; i++) normal.push(await add(normalTask(i)))
    const ids = [...poison, ...normal].map((t) => t.id)
    const rows = await waitFor(
      'every task to reach a terminal state',
      async () => {
        const r = await statuses(ids)
        return r.every((t) => TERMINAL.has(t.status)) ? r : null
      },
      { timeoutMs: 60_000 },
    )
    const byKind = new Map(rows.map((r) => [JSON.stringify(r.payload), r]))
    const of = (payload: unknown) => byKind.get(JSON.stringify(payload))!
    for (const n of normal) expect(rows.find((r) => r.id === n.id)!.status).toBe('completed')
    expect(of({ kind: 'nul' })).toMatchObject({
      status: 'completed',
      result: { text: 'a\uFFFDb', 'key\uFFFD': 1 },
    })
    expect((of({ kind: 'surrogate' }).result as string).isWellFormed()).toBe(true)
    expect(of({ kind: 'circular' })).toMatchObject({ status: 'failed' })
    expect(of({ kind: 'circular' }).last_error).toContain('circular reference')
    expect(of({ kind: 'nan' }).last_error).toContain('NaN')
    expect(of({ kind: 'huge' }).last_error).toContain('over the limit')
    expect(of({ kind: 'throw-huge' }).last_error!.length).toBeLessThanOrEqual(10_000)
    expect(of({ kind: 'throw-null-proto' }).last_error).toContain('cannot be shown')
    const webhookNul = rows.find((r) => (r.payload as { url?: string }).url?.endsWith('/nul'))!
    expect(webhookNul).toMatchObject({
      status: 'completed',
      result: { status: 200, body: 'before\uFFFDafter' },
    })
    const endless = rows.find((r) => (r.payload as { url?: string }).url?.endsWith('/endless'))!
    expect(endless.status).toBe('completed')
    expect(rows.find((r) => (r.payload as { data?: number[] }).data?.[0] === 1.7e308)!.last_error).toContain(
      'Infinity',
    )
    for (const r of rows) {
      if (r.last_error) expect(r.last_error.isWellFormed() && !r.last_error.includes('\u0000')).toBe(true)
    }
  }, 90_000)
})

describe('soak', () => {
  test(
    `${SOAK_SECS} s of mixed poison and normal tasks: every normal task finishes, nothing stays running`,
    async () => {
      const normal: string[] = []
      const all: string[] = []
      const until = Date.now() + SOAK_SECS * 1000
      let round = 0
      let overdue = 0
      while (Date.now() < until) {
        const poison = poisonTasks().filter(
          (p) => (p.payload as { kind?: string }).kind !== 'huge' || round % 10 === 0,
        )
        for (const p of poison) all.push((await add(p as never)).id)
        for (let i = 0; i < 20; i++) {
          const t = await add(normalTask(i))
          normal.push(t.id)
          all.push(t.id)
        }
        // Never a task running past its lease: a wedged worker kept its leases alive, a dead one would not.
        const [o] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM tasks WHERE status = 'running' AND lease_expires_at < now()`
        overdue = Math.max(overdue, o!.n)
        round++
        await Bun.sleep(100)
      }
      await waitFor(
        'every soak task to reach a terminal state',
        async () => {
          const [r] = await db.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM tasks WHERE id = ANY(${all}::uuid[]) AND status NOT IN ('completed', 'failed', 'cancelled')`
          return r!.n === 0
        },
        { timeoutMs: 60_000 },
      )
      const [n] = await db.sql<{ done: number }[]>`
      SELECT count(*)::int AS done FROM tasks WHERE id = ANY(${normal}::uuid[]) AND status = 'completed'`
      console.info(`soak: ${all.length} tasks (${normal.length} normal) over ${SOAK_SECS} s, all terminal`)
      expect(n!.done).toBe(normal.length)
      expect(overdue).toBe(0)
      const [running] = await db.sql<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM tasks WHERE status = 'running'`
      expect(running!.n).toBe(0)
      expect(round).toBeGreaterThan(0)
    },
    (SOAK_SECS + 120) * 1000,
  )
})

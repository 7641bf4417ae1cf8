// The stdlib-only Python worker of examples/python/worker.py as real processes against the compiled
// binary: it registers its type, drains tasks, long-polls to an empty answer, survives a kill -9 of
// a sibling (whose tasks are rescued after the lease and finished by the other), gets a cancel
// through its heartbeat, and a report under a wrong worker_id is 409 LEASE_LOST.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import type { Subprocess } from 'bun'
import { type BinaryServer, startBinaryServer } from '../helpers/binary-server'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { waitFor } from '../helpers/proc'

const TOKEN = 'python-worker-token-0123456789'
const WORKER = resolve('examples/python/worker.py')

let db: TestDatabase
let server: BinaryServer
const pythons: { id: string; proc: Subprocess<'ignore', 'pipe', 'pipe'>; output: () => string }[] = []

function python(id: string, extra: string[] = []) {
  const proc = Bun.spawn(
    [
      'python3',
      WORKER,
      '--url',
      server.api.replace(/\/api\/v1$/, ''),
      '--id',
      id,
      '--wait-ms',
      '400',
      ...extra,
    ],
    {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TASKLAB_TOKEN: TOKEN },
      stdout: 'pipe',
      stderr: 'pipe',
    },
  )
  let text = ''
  const drain = async (s: ReadableStream<Uint8Array>) => {
    const reader = s.getReader()
    const decoder = new TextDecoder()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      text += decoder.decode(value, { stream: true })
    }
  }
  void drain(proc.stdout)
  void drain(proc.stderr)
  const p = { id, proc, output: () => text }
  pythons.push(p)
  return p
}

beforeAll(async () => {
  db = await createTestDatabase()
  server = await startBinaryServer('python-bin', ['--worker-token', TOKEN, '--lease-secs', '2'], {
    DATABASE_URL: db.url,
  })
}, 90_000)

afterAll(async () => {
  for (const p of pythons) p.proc.kill('SIGKILL')
  await server?.stop()
  await db?.drop()
})

// biome-ignore lint/suspicious/noExplicitAny: test reads arbitrary task JSON
const get = async (id: string): Promise<any> =>
  (await server.call('GET', `/tasks/${id}`, undefined, server.userToken)).body.data

async function createMany(payloads: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  const r = await server.call(
    'POST',
    '/tasks/batch',
    { tasks: payloads.map((payload) => ({ task_type: 'py_text', payload, ...extra })) },
    server.userToken,
  )
  expect(r.status).toBe(201)
  return r.body.data.map((t: { id: string }) => t.id) as string[]
}

async function allIn(ids: string[], status: string, detail: () => string) {
  return waitFor(
    `${ids.length} tasks to be ${status}`,
    async () => {
      const tasks = await Promise.all(ids.map(get))
      return tasks.every((t) => t.status === status) ? tasks : undefined
    },
    { timeoutMs: 30_000, intervalMs: 200, detail },
  )
}

test('registers its type with the payload schema; a bad payload is then a 400', async () => {
  const a = python('py-a')
  await waitFor('py-a to register', () => a.output().includes('registered types=py_text'), {
    timeoutMs: 15_000,
    detail: a.output,
  })
  const types = (await server.call('GET', '/tasks/types')).body.data
  const t = types.find((x) => x.task_type === 'py_text')
  // payload_schema is the handler's own JSON Schema: the API types it as unknown.
  expect(t?.payload_schema).toMatchObject({ required: ['text'] })
  const bad = await server.call(
    'POST',
    '/tasks',
    { task_type: 'py_text', payload: { txt: 'x' } },
    server.userToken,
  )
  expect(bad.status).toBe(400)
  expect(bad.body.error.details?.field).toBe('payload.text')
}, 30_000)

test('drains tasks, retries a transient failure, fails a permanent one', async () => {
  const ids = await createMany(Array.from({ length: 20 }, (_, i) => ({ text: `task number ${i}` })))
  const done = await allIn(ids, 'completed', pythons[0]!.output)
  expect(done[3].result).toMatchObject({ words: 3, reversed: '3 rebmun ksat', worker: 'py-a' })
  expect(done[3].locked_by).toBeNull()

  const [flaky] = await createMany([{ text: 'again', fail_until_attempt: 1 }], {
    retry_strategy: { type: 'fixed', interval_ms: 50 },
  })
  const [dead] = await createMany([{ text: 'x', permanent_error: 'no such customer' }])
  expect((await allIn([flaky!], 'completed', pythons[0]!.output))[0].current_attempt).toBe(2)
  expect((await allIn([dead!], 'failed', pythons[0]!.output))[0]).toMatchObject({
    current_attempt: 1,
    last_error: 'no such customer',
  })
}, 60_000)

test('the worker shows in GET /workers and in the live-worker count of its type', async () => {
  const admin = await server.call('GET', '/workers', undefined, server.userToken)
  const me = admin.body.data.find((w: { id: string }) => w.id === 'py-a')
  expect(me).toMatchObject({ kind: 'remote', alive: true, task_types: ['py_text'] })
  const types = (await server.call('GET', '/tasks/types')).body.data
  expect(types.find((x) => x.task_type === 'py_text')?.workers?.ids).toEqual(['py-a'])
})

test('a long poll with nothing to claim returns an empty list after wait_ms', async () => {
  const before = pythons[0]!.output().split('idle: nothing to claim within 400 ms').length
  await waitFor(
    'another empty long poll',
    () => pythons[0]!.output().split('idle: nothing to claim within 400 ms').length > before,
    { timeoutMs: 5000 },
  )
})

test('a cancel reaches the running task through the heartbeat', async () => {
  const [id] = await createMany([{ text: 'slow', steps: 600, step_seconds: 0.05 }])
  await waitFor('the task to run', async () => (await get(id!)).status === 'running', { timeoutMs: 10_000 })
  expect((await server.call('POST', `/tasks/${id}/cancel`, undefined, server.userToken)).status).toBe(200)
  const [t] = await allIn([id!], 'cancelled', pythons[0]!.output)
  expect(t.last_error).toBe('cancelled')
}, 30_000)

test("a report under another worker's id is 409 LEASE_LOST and changes nothing", async () => {
  const [id] = await createMany([{ text: 'held', steps: 40, step_seconds: 0.05 }])
  await waitFor('the task to run', async () => (await get(id!)).status === 'running', { timeoutMs: 10_000 })
  const r = await server.call(
    'POST',
    `/tasks/${id}/complete`,
    { worker_id: 'py-impostor', result: 'forged' },
    TOKEN,
  )
  expect(r.status).toBe(409)
  expect(r.body.error.code).toBe('LEASE_LOST')
  const [t] = await allIn([id!], 'completed', pythons[0]!.output)
  expect(t.result.worker).toBe('py-a')
}, 30_000)

test("a killed worker's tasks are rescued after the lease and completed by another", async () => {
  const [a] = pythons
  const ids = await createMany(
    Array.from({ length: 3 }, (_, i) => ({ text: `long ${i}`, steps: 20, step_seconds: 0.1 })),
    { retry_strategy: { type: 'fixed', interval_ms: 50 } },
  )
  await waitFor(
    'py-a to hold all three',
    async () =>
      (await Promise.all(ids.map(get))).every((t) => t.status === 'running' && t.locked_by === 'py-a'),
    { timeoutMs: 10_000 },
  )
  a!.proc.kill('SIGKILL')
  await a!.proc.exited
  const b = python('py-b')
  const done = await allIn(ids, 'completed', b.output)
  for (const t of done)
    expect(t).toMatchObject({ current_attempt: 2, result: { worker: 'py-b', attempt: 2 } })
  const events = (await server.call('GET', `/tasks/${ids[0]}/events`, undefined, server.userToken)).body.data
  expect(events.find((e: { to_status: string }) => e.to_status === 'retrying')).toMatchObject({
    error: 'worker lost',
    worker_id: 'py-a',
  })
}, 60_000)

test('SIGTERM answers a waiting long poll at once instead of sitting out its wait_ms', async () => {
  const body = { worker_id: 'py-last', types: ['py_text'], limit: 1, wait_ms: 30_000 }
  for (const p of pythons) p.proc.kill('SIGKILL')
  const waiting = server.call('POST', '/workers/claim', body, TOKEN)
  // The claim has found nothing and waits once its worker is listed.
  await waitFor(
    'the claim to start waiting',
    async () =>
      (await server.call('GET', '/workers', undefined, server.userToken)).body.data.some(
        (w: { id: string }) => w.id === 'py-last',
      ),
    { timeoutMs: 10_000 },
  )
  server.child.proc.kill('SIGTERM')
  // Well inside the 30 s wait: the stop does not wait for the long poll.
  expect(await server.child.waitExit(10_000)).toBe(0)
  const r = await waiting
  expect(r.body.data).toEqual([])
}, 30_000)

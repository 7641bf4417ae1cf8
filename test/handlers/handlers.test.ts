// The built-in handlers against real things: an HTTP server on loopback, files on disk, the database.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdir, mkdtemp, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builtinHandlers } from '../../src/handlers'
import {
  type HandlerContext,
  PermanentError,
  RetryableError,
  type TaskHandler,
  validatePayload,
} from '../../src/handlers/contract'
import { silentLogger } from '../../src/log'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'

let db: TestDatabase
let sandbox: string
let outside: string
let handlers: Map<string, TaskHandler>
let server: ReturnType<typeof Bun.serve>

beforeAll(async () => {
  db = await createTestDatabase()
  sandbox = await mkdtemp(join(tmpdir(), 'tasklab-sandbox-'))
  outside = await mkdtemp(join(tmpdir(), 'tasklab-outside-'))
  // The webhook tests call a loopback server of their own: allowed explicitly, as a user would.
  handlers = new Map(
    builtinHandlers({ sandboxDir: sandbox, webhookAllowHosts: ['127.0.0.1'] }).map((h) => [h.type, h]),
  )
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const url = new URL(req.url)
      if (url.pathname === '/slow') await Bun.sleep(2000)
      const status = Number(url.searchParams.get('status') ?? 200)
      const text = await req.text()
      return new Response(JSON.stringify({ method: req.method, body: text ? JSON.parse(text) : null }), {
        status,
      })
    },
  })
})
afterAll(async () => {
  server.stop(true)
  await rm(sandbox, { recursive: true, force: true })
  await rm(outside, { recursive: true, force: true })
  await db.drop()
})

function run(type: string, payload: unknown, signal = new AbortController().signal) {
  const h = handlers.get(type)!
  const ctx: HandlerContext = {
    id: crypto.randomUUID(),
    taskType: type,
    attempt: 1,
    maxAttempts: 3,
    metadata: {},
    createdBy: null,
    createdAt: new Date(),
    signal,
    log: silentLogger,
    sql: db.sql,
  }
  return h.run(validatePayload(h.schema, payload), ctx)
}

describe('payload validation', () => {
  test('a mismatch is permanent and names the field', () => {
    const h = handlers.get('email')!
    expect(() => validatePayload(h.schema, { to: 'a@b.c', subject: 's' })).toThrow(PermanentError)
    expect(() => validatePayload(h.schema, { to: 'a@b.c', subject: 's' })).toThrow('payload.body')
    expect(() => validatePayload(h.schema, { to: 'nobody', subject: 's', body: '' })).toThrow('payload.to')
  })

  test("every handler's example payload passes its own schema", () => {
    for (const h of handlers.values()) expect(() => validatePayload(h.schema, h.example)).not.toThrow()
  })
})

describe('email', () => {
  test('sends (simulated) and fails transiently on "fail"', async () => {
    expect(await run('email', { to: 'a@b.c', subject: 'Hi', body: 'hello', latency_ms: 1 })).toMatchObject({
      status: 'sent',
      recipient: 'a@b.c',
    })
    await expect(
      run('email', { to: 'a@b.c', subject: 'Hi', body: 'this will fail', latency_ms: 1 }),
    ).rejects.toBeInstanceOf(RetryableError)
  })
})

describe('webhook', () => {
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`
  test('a 2xx completes with the response', async () => {
    const r = (await run('webhook', { url: url('/hook'), payload: { event: 'user_created' } })) as {
      status: number
      body: string
    }
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body)).toEqual({ method: 'POST', body: { event: 'user_created' } })
  })
  test('5xx and network errors retry; 4xx is permanent', async () => {
    await expect(run('webhook', { url: url('/x?status=503') })).rejects.toBeInstanceOf(RetryableError)
    await expect(run('webhook', { url: url('/x?status=404') })).rejects.toBeInstanceOf(PermanentError)
    await expect(run('webhook', { url: 'http://127.0.0.1:1/closed' })).rejects.toBeInstanceOf(RetryableError)
  })
  test('its own timeout retries', async () => {
    await expect(run('webhook', { url: url('/slow'), method: 'GET', timeout_ms: 100 })).rejects.toThrow(
      'timed out after 100 ms',
    )
  })
})

describe('data_processing', () => {
  test.each([
    ['sum', 15],
    ['avg', 3],
    ['min', 1],
    ['max', 5],
    ['count', 5],
    ['sort', [1, 2, 3, 4, 5]],
  ])('%s', async (operation, result) => {
    expect(await run('data_processing', { operation, data: [3, 1, 5, 2, 4] })).toEqual({
      operation,
      result,
      count: 5,
    })
  })
  test('avg of nothing is a permanent error', async () => {
    await expect(run('data_processing', { operation: 'avg', data: [] })).rejects.toBeInstanceOf(
      PermanentError,
    )
  })
})

describe('file_cleanup', () => {
  test('deletes only files older than max_age_hours, inside the sandbox', async () => {
    const dir = join(sandbox, 'uploads')
    await mkdir(join(dir, 'nested'), { recursive: true })
    const old = new Date(Date.now() - 48 * 3600_000)
    for (const f of ['a.txt', 'nested/b.txt']) {
      await writeFile(join(dir, f), 'old')
      await utimes(join(dir, f), old, old)
    }
    await writeFile(join(dir, 'fresh.txt'), 'new')
    await writeFile(join(outside, 'victim.txt'), 'keep me')
    await utimes(join(outside, 'victim.txt'), old, old)
    // A link from inside the sandbox to outside must be removed as a link, never followed.
    await symlink(outside, join(dir, 'escape'))
    const r = (await run('file_cleanup', { file_path: dir, max_age_hours: 24 })) as {
      deleted_count: number
      kept: number
    }
    expect(r.deleted_count).toBe(2)
    expect(r.kept).toBe(2) // fresh.txt and the (new) link itself
    expect(await Bun.file(join(dir, 'a.txt')).exists()).toBe(false)
    expect(await Bun.file(join(dir, 'fresh.txt')).exists()).toBe(true)
    expect((await stat(join(outside, 'victim.txt'))).isFile()).toBe(true)
  })
  test.each([['/etc'], ['../../etc'], ['/tmp']])(
    'a path outside the sandbox (%s) is a permanent error',
    async (p) => {
      await expect(run('file_cleanup', { file_path: p, max_age_hours: 0 })).rejects.toThrow(
        'outside the sandbox',
      )
    },
  )
})

describe('report_generation', () => {
  test('reports over the tasks table for the date range', async () => {
    await registerTypes(db.sql, 'alpha')
    await insertTask(db.sql, {
      task_type: 'alpha',
      status: 'completed',
      started_at: new Date(Date.now() - 100),
      completed_at: new Date(),
    })
    await insertTask(db.sql, { task_type: 'alpha', status: 'failed', completed_at: new Date() })
    const today = new Date().toISOString().slice(0, 10)
    const r = (await run('report_generation', {
      report_type: 'sales',
      start_date: today,
      end_date: today,
    })) as Record<string, unknown>
    expect(r.total).toBe(2)
    expect(r.by_status).toEqual({ completed: 1, failed: 1 })
    const none = (await run('report_generation', {
      report_type: 'sales',
      start_date: '2001-01-01',
      end_date: '2001-01-31',
    })) as Record<string, unknown>
    expect(none.total).toBe(0)
    await expect(
      run('report_generation', { report_type: 'x', start_date: today, end_date: '2001-01-01' }),
    ).rejects.toBeInstanceOf(PermanentError)
  })
})

describe('delay_task', () => {
  test('sleeps and honours its signal', async () => {
    expect(await run('delay_task', { delay_seconds: 0.01 })).toEqual({ slept_seconds: 0.01 })
    const c = new AbortController()
    const p = run('delay_task', { delay_seconds: 60 }, c.signal)
    c.abort(new Error('cancelled'))
    await expect(p).rejects.toThrow('cancelled')
  })
})

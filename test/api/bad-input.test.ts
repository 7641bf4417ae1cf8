// Hostile and broken input on every route that takes any: each is answered 4xx with the error
// envelope, and the database is unchanged (row counts of every table are compared).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { insertTask } from '../helpers/factory'
import { BODY_LIMIT, type Harness, harness } from './harness'

let h: Harness
let admin: string
let failedId = '00000000-0000-4000-8000-000000000001'

const SQL = "'; DROP TABLE tasks; --"
const HUGE = 'x'.repeat(100_000)
const deep = (n: number): unknown => (n === 0 ? 1 : { a: deep(n - 1) })
const NOT_UUIDS = ['123', 'not-a-uuid', SQL, '00000000-0000-0000-0000-00000000000g', '%00', 'x'.repeat(300)]

beforeAll(async () => {
  h = await harness()
  admin = (await h.admin()).token
  failedId = (await insertTask(h.db.sql, { task_type: 'email', status: 'failed' })).id
})
afterAll(() => h.close())

/** Bodies that are wrong for any route taking a JSON object. */
const COMMON: [string, { raw?: string; body?: unknown; headers?: Record<string, string> }][] = [
  ['malformed JSON', { raw: '{"a": ' }],
  ['a bare string', { raw: '"hello"' }],
  ['an array', { body: [1, 2, 3] }],
  ['null', { raw: 'null' }],
  ['deep nesting', { body: deep(200) }],
  ['wrong content type', { raw: '{}', headers: { 'content-type': 'text/plain' } }],
  ['over the body limit', { raw: `{"x":"${'y'.repeat(BODY_LIMIT)}"}` }],
]

const ROUTES: { method: string; path: string; bad: unknown[] }[] = [
  {
    method: 'POST',
    path: '/api/v1/auth/register',
    bad: [
      {},
      { username: 'ok_name', email: 'a@b.co' },
      { username: 123, email: 'a@b.co', password: 'password123' },
      { username: HUGE, email: 'a@b.co', password: 'password123' },
      { username: SQL, email: 'a@b.co', password: 'password123' },
      { username: 'ok_name', email: SQL, password: 'password123' },
      { username: 'ok_name', email: 'a@b.co', password: HUGE },
      { username: ['a'], email: 'a@b.co', password: 'password123' },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/auth/login',
    bad: [
      {},
      { username: 'x' },
      { username: { $ne: null }, password: 'x' },
      { username: HUGE, password: 'x' },
      { password: 1 },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/auth/login-link',
    bad: [{}, { token: 5 }, { token: HUGE }, { token: SQL }],
  },
  {
    method: 'POST',
    path: '/api/v1/auth/password',
    bad: [{}, { new_password: 'short' }, { new_password: 12345678 }, { new_password: HUGE }],
  },
  {
    method: 'POST',
    path: '/api/v1/tasks',
    bad: [
      {},
      { task_type: 5 },
      { task_type: SQL },
      { task_type: HUGE },
      { task_type: 'email', payload: 'not an object' },
      { task_type: 'email', payload: [1, 2] },
      { task_type: 'email', priority: SQL },
      { task_type: 'email', priority: 3 },
      { task_type: 'email', scheduled_at: SQL },
      { task_type: 'email', scheduled_at: '99999-01-01T00:00:00Z' },
      { task_type: 'email', max_attempts: -1 },
      { task_type: 'email', max_attempts: 1e12 },
      { task_type: 'email', max_attempts: 'three' },
      { task_type: 'email', timeout_ms: -5 },
      { task_type: 'email', retry_strategy: { type: 'exponential', base_delay_ms: 'a' } },
      { task_type: 'email', retry_strategy: { type: SQL } },
      { task_type: 'email', metadata: 'x' },
      { task_type: 'email', idempotency_key: HUGE },
      { task_type: 'email', payload: { big: 'x'.repeat(1024 * 1024 + 10) } },
      { task_type: 'email', payload: { nul: 'a\u0000b' } },
      { task_type: 'email\u0000' },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/tasks/batch',
    bad: [
      {},
      { tasks: [] },
      { tasks: 'x' },
      { tasks: [{ task_type: 'email' }, { task_type: SQL }] },
      { tasks: [{}] },
      { tasks: Array(1001).fill({ task_type: 'email' }) },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/tasks/dead-letter/retry',
    bad: [
      {},
      { ids: [] },
      { ids: ['x'] },
      { ids: [SQL] },
      { ids: 'all' },
      { filter: 'x' },
      { filter: { created_after: SQL } },
      { ids: [failedId], filter: {} },
    ],
  },
  {
    method: 'DELETE',
    path: '/api/v1/tasks/dead-letter',
    bad: [{}, { ids: ['x'] }, { ids: [SQL] }, { filter: { created_before: 'not a date' } }, { filter: [] }],
  },
  {
    method: 'POST',
    path: '/api/v1/tasks/types',
    bad: [
      {},
      { task_type: SQL },
      { task_type: HUGE },
      { task_type: 'ok_type', description: HUGE },
      { task_type: 'ok_type', payload_schema: 'x' },
    ],
  },
  {
    method: 'PATCH',
    path: '/api/v1/tasks/types/email',
    bad: [
      {},
      { paused: 'yes' },
      { timeout_ms: -1 },
      { timeout_ms: 1e15 },
      { breaker: { failure_threshold: -1 } },
      { breaker: { state: 'open' } },
      { retry_strategy: { type: 'fixed' } },
      { description: HUGE },
    ],
  },
]

const QUERIES = [
  '/api/v1/tasks?limit=-1',
  '/api/v1/tasks?limit=99999999999',
  '/api/v1/tasks?limit=abc',
  '/api/v1/tasks?limit=1.5',
  '/api/v1/tasks?offset=-1',
  '/api/v1/tasks?offset=1e3',
  `/api/v1/tasks?status=${encodeURIComponent(SQL)}`,
  `/api/v1/tasks?priority=${encodeURIComponent(SQL)}`,
  `/api/v1/tasks?created_after=${encodeURIComponent(SQL)}`,
  `/api/v1/tasks?q=${'x'.repeat(5000)}`,
  '/api/v1/tasks?q=a%00b',
  '/api/v1/tasks?task_type=a%00b',
  '/api/v1/tasks/dead-letter?limit=0',
  '/api/v1/tasks/dead-letter?limit=-10',
  '/api/v1/tasks/dead-letter?offset=-3',
  `/api/v1/events?access_token=${'x'.repeat(2000)}`,
]

async function expect4xx(method: string, path: string, opts: Parameters<Harness['call']>[2]) {
  const r = await h.call(method, path, { token: admin, ...opts })
  const label = `${method} ${path.slice(0, 80)} ${JSON.stringify(opts?.body ?? opts?.raw ?? '').slice(0, 80)} → ${r.status} ${r.text.slice(0, 200)}`
  expect(r.status >= 400 && r.status < 500, label).toBe(true)
  expect(r.body?.success, label).toBe(false)
  expect(typeof r.body?.error?.code, label).toBe('string')
  expect(typeof r.body?.error?.message, label).toBe('string')
  return r
}

describe('bodies', () => {
  for (const route of ROUTES) {
    test(`${route.method} ${route.path}`, async () => {
      const before = await h.counts()
      for (const [, opts] of COMMON) await expect4xx(route.method, route.path, opts)
      for (const body of route.bad) await expect4xx(route.method, route.path, { body })
      expect(await h.counts()).toEqual(before)
    })
  }
})

describe('ids', () => {
  test('non-UUID ids are 400 on every /tasks/:id route', async () => {
    const before = await h.counts()
    for (const id of NOT_UUIDS) {
      const e = encodeURIComponent(id)
      for (const [method, path] of [
        ['GET', `/api/v1/tasks/${e}`],
        ['GET', `/api/v1/tasks/${e}/events`],
        ['POST', `/api/v1/tasks/${e}/cancel`],
        ['POST', `/api/v1/tasks/${e}/retry`],
        ['DELETE', `/api/v1/tasks/${e}`],
      ] as const) {
        const r = await expect4xx(method, path, {})
        expect(r.status).toBe(400)
      }
    }
    const longType = await expect4xx('PATCH', `/api/v1/tasks/types/${'x'.repeat(100)}`, {
      body: { paused: true },
    })
    expect(longType.status).toBe(400)
    expect(await h.counts()).toEqual(before)
  })
})

describe('queries', () => {
  test('negative, huge and malformed parameters are 400', async () => {
    const before = await h.counts()
    for (const q of QUERIES) await expect4xx('GET', q, {})
    expect(await h.counts()).toEqual(before)
  })

  test('SQL in a search is only text: no error, no match, nothing changed', async () => {
    const before = await h.counts()
    for (const q of [SQL, "%' OR '1'='1", '\\', '_%_']) {
      const r = await h.call('GET', `/api/v1/tasks?q=${encodeURIComponent(q)}`, { token: admin })
      expect(r.status).toBe(200)
      expect(r.body.meta.total).toBe(0)
    }
    expect(await h.counts()).toEqual(before)
  })
})

// /health/ready follows the database: 503 while it refuses connections, 200 again once it takes
// them, with no restart. The outage is made on this test's own database only (the cluster is
// shared): ALLOW_CONNECTIONS false plus terminating its backends, then allowed again.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import postgres from 'postgres'
import { TEST_SERVER_URL } from '../helpers/db'
import { waitFor } from '../helpers/wait'
import { type Harness, harness } from './harness'

let h: Harness
let admin: postgres.Sql

beforeAll(async () => {
  h = await harness()
  admin = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} })
})
afterAll(async () => {
  await admin.unsafe(`ALTER DATABASE ${h.db.name} ALLOW_CONNECTIONS true`).catch(() => {})
  await admin.end()
  await h.close()
})

test('ready is 503 DATABASE_UNAVAILABLE during the outage and 200 after, live stays 200', async () => {
  expect((await h.call('GET', '/api/v1/health/ready')).status).toBe(200)
  await admin.unsafe(`ALTER DATABASE ${h.db.name} ALLOW_CONNECTIONS false`)
  await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${h.db.name} AND pid <> pg_backend_pid()`

  const down = await waitFor(
    'ready to answer 503',
    async () => {
      const r = await h.call('GET', '/api/v1/health/ready')
      return r.status === 503 ? r : null
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  )
  expect(down.body).toMatchObject({ success: false, error: { code: 'DATABASE_UNAVAILABLE' } })
  const detail = await h.call('GET', '/api/v1/health')
  expect(detail.status).toBe(503)
  expect(detail.body.error.details?.database).toBe('down')
  expect((await h.call('GET', '/api/v1/health/live')).status).toBe(200)
  // Routes that need the database answer 503 with the envelope and Retry-After, never hang or crash.
  const list = await h.call('GET', '/api/v1/tasks/types')
  expect(list.status).toBe(503)
  expect(list.body.error.code).toBe('DATABASE_UNAVAILABLE')
  expect(list.headers.get('retry-after')).toBe('1')
  const metrics = await h.call('GET', '/api/v1/metrics')
  expect(metrics.text).toContain('tasklab_database_up 0')

  await admin.unsafe(`ALTER DATABASE ${h.db.name} ALLOW_CONNECTIONS true`)
  await waitFor(
    'ready to answer 200 again',
    async () => (await h.call('GET', '/api/v1/health/ready')).status === 200,
    { timeoutMs: 15_000, intervalMs: 50 },
  )
  expect((await h.call('GET', '/api/v1/health')).body.data).toMatchObject({ status: 'ok', database: 'up' })
})

// A port already in use is an error the user sees, not a second server quietly sharing the port
// (Elysia turns SO_REUSEPORT on by default, which let two tasklabs split the requests).
import { afterAll, beforeAll, expect, test } from 'bun:test'
import postgres from 'postgres'
import { createTestDatabase, TEST_SERVER_URL, type TestDatabase, urlFor } from '../helpers/db'
import { type Child, serverUrl, spawnTasklab, tempDir } from '../helpers/proc'

let db: TestDatabase
let dir: string
const children: Child[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  dir = await tempDir('port')
})

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  await db?.drop()
})

const serve = (port: string) => {
  const child = spawnTasklab(['serve', '--port', port], {
    env: { DATABASE_URL: db.url, STARTER__DATA_DIR: dir, STARTER__LOG__LEVEL: 'warn' },
  })
  children.push(child)
  return child
}

test('a second server on a port in use exits 1 with a sentence; the first keeps serving', async () => {
  const first = serve('0')
  const url = await serverUrl(first)
  const port = new URL(url).port
  const second = serve(port)
  expect(await second.waitExit(20_000)).toBe(1)
  expect(second.output()).toContain(`Port ${port} on 127.0.0.1 is already in use`)
  expect(second.output()).toContain('--port or STARTER__SERVER__PORT')
  const live = await fetch(`${url}/api/v1/health/live`)
  expect(live.status).toBe(200)
})

test('start on a port in use fails before it creates or migrates a database', async () => {
  const first = serve('0')
  const url = await serverUrl(first)
  const name = `tasklab_t_port_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`
  const second = spawnTasklab(['start', '--port', new URL(url).port], {
    env: { DATABASE_URL: urlFor(name), STARTER__DATA_DIR: dir, STARTER__LOG__LEVEL: 'info' },
  })
  children.push(second)
  expect(await second.waitExit(20_000)).toBe(1)
  expect(second.output()).toContain('is already in use')
  expect(second.output()).not.toContain('created database')
  const admin = postgres(TEST_SERVER_URL, { max: 1 })
  const rows = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`
  await admin.end()
  expect(rows.length).toBe(0)
})

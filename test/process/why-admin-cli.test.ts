// `tasklab why` and `tasklab admin reset-link` as a user runs them: real processes from source
// against a running `tasklab start`, then against the stopped instance's database.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { type Child, spawnTasklab, tail, tempDir, waitFor } from '../helpers/proc'

let db: TestDatabase
let dir: string
let server: Child
let base = ''
let token = ''

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const c = spawnTasklab(args, { env: { DATABASE_URL: db.url, STARTER__DATA_DIR: dir } })
  const code = await c.waitExit(30_000)
  return { code, out: c.output() }
}
const api = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
  fetch(`${base}/api/v1${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
    body: init.body ? JSON.stringify(init.body) : undefined,
  })
async function redeem(link: string): Promise<string> {
  const res = await api('/auth/login-link', {
    method: 'POST',
    body: { token: new URL(link).searchParams.get('login') },
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: { session_token: string } }).data.session_token
}

beforeAll(async () => {
  db = await createTestDatabase()
  dir = await tempDir('why-cli')
  server = spawnTasklab(['start', '--port', '0'], {
    env: { DATABASE_URL: db.url, STARTER__DATA_DIR: dir },
  })
  const link = await waitFor(
    'the banner with the admin link',
    () => /admin login as "admin" \(one-time link[^)]*\): (\S+)/.exec(server.output())?.[1],
    { timeoutMs: 30_000, detail: () => tail(server.output()) },
  )
  base = new URL(link).origin
  token = await redeem(link)
}, 60_000)

afterAll(async () => {
  if (server && !server.hasExited()) {
    server.proc.kill('SIGTERM')
    await server.waitExit(15_000).catch(() => server.proc.kill('SIGKILL'))
  }
  await db?.drop()
})

test('tasklab why prints the reasons a task waits, one a line, and exits 1 for a task it cannot see', async () => {
  expect(
    (await api('/tasks/types/delay_task', { method: 'PATCH', token, body: { paused: true } })).status,
  ).toBe(200)
  const created = await api('/tasks', {
    method: 'POST',
    token,
    body: { task_type: 'delay_task', payload: { delay_seconds: 0 } },
  })
  const id = ((await created.json()) as { data: { id: string } }).data.id
  const why = await run(['why', id, '--url', base, '--token', token])
  expect(why.code).toBe(0)
  expect(why.out).toContain(`task ${id}: pending, not runnable`)
  expect(why.out).toMatch(/^ {2}TYPE_PAUSED {2}delay_task is paused/m)

  const missing = await run(['why', crypto.randomUUID(), '--url', base, '--token', token])
  expect(missing.code).toBe(1)
  expect(missing.out).toContain('was not found')
  const noToken = await run(['why', id, '--url', base])
  expect(noToken.code).toBe(2)
  expect(noToken.out).toContain('--token')
}, 60_000)

test('tasklab admin reset-link lets the admin back in on a running instance, and on a stopped one', async () => {
  const reset = await run(['admin', 'reset-link', '--url', base])
  expect(reset.code).toBe(0)
  expect(reset.out).toContain('admin "admin"')
  const link = /(http:\/\/\S+\/\?login=\S+)/.exec(reset.out)![1]!
  // The old session ended; the link signs in; the admin sets a password without the old one.
  expect((await api('/auth/me', { token })).status).toBe(401)
  token = await redeem(link)
  const set = await api('/auth/password', {
    method: 'POST',
    token,
    body: { new_password: 'a new passphrase 42' },
  })
  expect(set.status).toBe(200)
  const login = await api('/auth/login', {
    method: 'POST',
    body: { username: 'admin', password: 'a new passphrase 42' },
  })
  expect(login.status).toBe(200)

  server.proc.kill('SIGTERM')
  expect(await server.waitExit(15_000)).toBe(0)
  const stopped = await run(['admin', 'reset-link'])
  expect(stopped.code).toBe(0)
  // Without --url the link points at the configured address.
  expect(stopped.out).toMatch(/http:\/\/127\.0\.0\.1:3000\/\?login=\S+/)
  const nobody = await run(['admin', 'reset-link', '--user', 'nobody'])
  expect(nobody.code).toBe(2)
  expect(nobody.out).toContain('There is no admin named "nobody"')
}, 60_000)
